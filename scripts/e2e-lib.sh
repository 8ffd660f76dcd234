# Shared by scripts/systemd-e2e.sh and scripts/container-e2e.sh (sourced, after E2E_NAME is
# set): log lines, the PASS/FAIL lines and their counts, the summary line.
PASSED=0
FAILED=0
SUMMARY_PRINTED=0

die() { printf '%s: error: %s\n' "$E2E_NAME" "$*" >&2; exit 1; }
log() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
pass() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s: %s\n' "$1" "$2"; }
# check NAME CMD...: PASS if CMD succeeds, else FAIL with the last line CMD printed.
check() {
  local name=$1 out; shift
  if out=$("$@" 2>&1); then out=$(printf '%s' "$out" | tail -n 1); pass "$name${out:+ ($out)}"
  else fail "$name" "$(printf '%s' "$out" | tail -n 1)"; fi
}
# summary [NOTE]: the closing "N passed, N failed" line, once; a run that stops early
# (die, Ctrl-C) counts that as one more failure, so its summary never reads as all passed.
summary() {
  [ "$SUMMARY_PRINTED" = 0 ] || return 0
  SUMMARY_PRINTED=1
  printf '%s passed, %s failed (in %s s%s)\n' "$PASSED" "$FAILED" "$(($(date +%s) - STARTED))" "${1:+; $1}"
}
summary_on_exit() {
  [ "$1" = 0 ] || [ "$SUMMARY_PRINTED" = 1 ] || { FAILED=$((FAILED + 1)); summary "stopped early"; }
}
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
# need_setup SRC: node_modules (with the dev tools) and dist/ from bash scripts/setup.sh.
need_setup() {
  [ -x "$1/node_modules/.bin/tsc" ] && [ -d "$1/node_modules/tsx" ] && [ -f "$1/dist/main.js" ] \
    || die "this checkout is not set up (node_modules with dev dependencies, dist/): run bash scripts/setup.sh --test first"
}
# Until the script sets its own cleanup (which calls summary_on_exit too), an early exit
# still ends with the summary line.
trap 'summary_on_exit $?' EXIT
