#!/usr/bin/env bash
# End-to-end check of panelshot under a live systemd: boots a Debian bookworm container
# (debootstrap + systemd-nspawn), installs panelshot inside with scripts/install.sh from a
# copy of this checkout, and checks start, readiness, a real render, JSON logging, the
# drain on stop, restart after a crash, exit 78 without a restart loop, an upgrade under
# steady renders and the unit's sandbox. Not part of `npm test`: it needs root, takes
# minutes and downloads Chromium from Debian's mirror. See --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/systemd-e2e.sh [--fresh] [--keep] [--purge] [--help]

Boots Debian bookworm with systemd in a container and proves panelshot's systemd unit and
scripts/install.sh there. Prints one "PASS name" or "FAIL name: why" line per check and a
summary line "N passed, N failed"; exits 0 only if every check passed.

Needs root, debootstrap, systemd-nspawn (apt-get install --no-install-recommends
debootstrap systemd-container; that may upgrade the host's systemd packages to match),
nsenter, this checkout set up first (bash scripts/setup.sh: node_modules and dist/), and
Node.js >= 20 with npm on the host: node and npm are copied into the container,
and the Grafana stand-in (test/standin) runs on the host's loopback, which the container
shares. The host's CA certificates are copied in too, so npm inside reaches the registry.

Run it under the Chrome lock like any test that starts Chrome:
  flock /tmp/panelshot-chrome.lock scripts/systemd-e2e.sh

Options:
  --fresh   Rebuild the cached debootstrap root (minbase + systemd, dbus, curl,
            ca-certificates, procps) instead of reusing it.
  --keep    Keep this run's container tree (/var/cache/panelshot-e2e/run) for inspection.
            The container itself is always stopped.
  --purge   Remove the cache (about 620 MB) and exit.
  -h, --help  Show this help.

Cache: /var/cache/panelshot-e2e (override with PANELSHOT_E2E_CACHE): base/ is the pristine
root, apt/ and npm/ keep downloaded packages for a quicker rerun, run/ is the booted copy.
EOF
}

FRESH=0
KEEP=0
PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --fresh) FRESH=1 ;;
    --keep) KEEP=1 ;;
    --purge) PURGE=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "systemd-e2e.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
E2E_NAME=systemd-e2e.sh
STARTED=$(date +%s)
# shellcheck source=scripts/e2e-lib.sh
. "$SRC/scripts/e2e-lib.sh"
CACHE=${PANELSHOT_E2E_CACHE:-/var/cache/panelshot-e2e}

[ "$(id -u)" = 0 ] || die "must be run as root (it boots a container)"
if [ "$PURGE" = 1 ]; then
  rm -rf "$CACHE"
  echo "systemd-e2e.sh: removed $CACHE"
  exit 0
fi
for cmd in debootstrap systemd-nspawn nsenter node npm curl; do
  command -v "$cmd" >/dev/null || die "$cmd is not installed (apt-get install --no-install-recommends debootstrap systemd-container curl)"
done
# Before minutes of debootstrap: the checkout must build (tsc from node_modules).
need_setup "$SRC"
BASE=$CACHE/base
RUN=$CACHE/run
MACHINE=panelshot-e2e
WORK=$(mktemp -d /tmp/panelshot-e2e.XXXXXX)
PANEL='/d-solo/abc123/node-exporter?orgId=1&panelId=2'
NSPAWN_PID=""
CT=""          # PID of the container's systemd, as the host sees it
STANDIN_PID=""
LOAD_PID=""

cleanup() {
  local rc=$?
  set +e
  [ -z "$LOAD_PID" ] || kill "$LOAD_PID" 2>/dev/null
  [ -z "$STANDIN_PID" ] || { kill "$STANDIN_PID" 2>/dev/null; wait "$STANDIN_PID" 2>/dev/null; }
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    # SIGTERM makes nspawn power the container off in order (units stopped, Chrome too).
    kill -TERM "$NSPAWN_PID"
    for _ in $(seq 60); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 1; done
    kill -0 "$NSPAWN_PID" 2>/dev/null && { log "container did not power off in 60 s: killing it"; kill -KILL "$NSPAWN_PID"; }
    wait "$NSPAWN_PID" 2>/dev/null
  fi
  if [ "$KEEP" = 0 ]; then rm -rf "$RUN"; else log "kept $RUN"; fi
  rm -rf "$WORK"
  summary_on_exit "$rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# in_ct CMD...: run CMD inside the container (all its namespaces), with a clean environment
# so nothing of the host's (CA paths, npm settings) leaks in.
in_ct() {
  nsenter -t "$CT" -a -- env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 "$@"
}
prop() { in_ct systemctl show -p "$1" --value panelshot.service; }

# ------------------------------------------------------------------------ base root
if [ "$FRESH" = 1 ] || [ ! -f "$BASE/.panelshot-e2e-complete" ]; then
  log "debootstrap bookworm into $BASE (about a minute)"
  rm -rf "$BASE" "$BASE.tmp"
  mkdir -p "$CACHE"
  debootstrap --variant=minbase --include=systemd,dbus,curl,ca-certificates,procps \
    bookworm "$BASE.tmp" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  touch "$BASE.tmp/.panelshot-e2e-complete"
  mv -T "$BASE.tmp" "$BASE"
fi

log "copying the root, Node $(node --version), npm, CA certificates and the checkout in"
rm -rf "$RUN"
cp -a "$BASE" "$RUN"
mkdir -p "$CACHE/apt" "$CACHE/npm"
# Node and npm exactly as the host has them (install.sh wants node on PATH, npm for npm ci).
NODE_BIN=$(readlink -f "$(command -v node)")
NPM_DIR=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
install -m 0755 "$NODE_BIN" "$RUN/usr/bin/node"
mkdir -p "$RUN/usr/lib/node_modules"
cp -a "$NPM_DIR" "$RUN/usr/lib/node_modules/npm"
ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$RUN/usr/bin/npm"
ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$RUN/usr/bin/npx"
# debootstrap writes no /etc/hosts (an installed Debian has one): without it `localhost`
# does not resolve and chromedriver cannot reach Chrome ("unable to connect to renderer").
[ -e "$RUN/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$RUN/etc/hosts"
# The host may reach the registry through a TLS-inspecting proxy: trust what it trusts.
cp /etc/ssl/certs/ca-certificates.crt "$RUN/etc/ssl/certs/ca-certificates.crt"
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$RUN/usr/local/share/ca-certificates/"
fi
# npm trusts only its own CA list unless told otherwise. In root's user config: the global
# one moves with `npm --prefix`, which install.sh uses.
printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nfund=false\naudit=false\nupdate-notifier=false\n' >"$RUN/root/.npmrc"

# The checkout as built here (dist/ included, so install.sh does not build), twice: the
# second copy has a bumped version for the upgrade check.
(cd "$SRC" && npm run -s build)
copy_checkout() {
  mkdir -p "$2"
  tar -C "$1" --exclude=./node_modules --exclude=./.git --exclude=./out -cf - . | tar -C "$2" -xf -
}
copy_checkout "$SRC" "$RUN/root/panelshot"
copy_checkout "$SRC" "$RUN/root/panelshot-next"
OLD_VERSION=$(node -p "require('$SRC/package.json').version")
NEW_VERSION=$OLD_VERSION-e2e.next
node -e '
  const fs = require("fs"), dir = process.argv[1], v = process.argv[2];
  for (const f of ["package.json", "package-lock.json"]) {
    const j = JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8"));
    j.version = v;
    if (j.packages && j.packages[""]) j.packages[""].version = v;
    fs.writeFileSync(`${dir}/${f}`, JSON.stringify(j, null, 2) + "\n");
  }' "$RUN/root/panelshot-next" "$NEW_VERSION"

# ------------------------------------------------------------------------ boot
log "booting the container"
# No --private-network: the container shares the host's loopback, where the stand-in runs.
setsid systemd-nspawn -b -D "$RUN" --register=no --keep-unit --machine="$MACHINE" --console=read-only \
  --bind="$CACHE/apt:/var/cache/apt/archives" --bind="$CACHE/npm:/root/.npm" \
  </dev/null >"$WORK/console.log" 2>&1 &
NSPAWN_PID=$!
for _ in $(seq 50); do
  CT=$(pgrep -P "$NSPAWN_PID" | head -n 1 || true)
  [ -z "$CT" ] || break
  kill -0 "$NSPAWN_PID" 2>/dev/null || { tail -n 20 "$WORK/console.log" >&2; die "the container exited while booting"; }
  sleep 0.2
done
[ -n "$CT" ] || die "systemd-nspawn started no container in 10 s"
# "degraded" (some unit of the minimal system failed) is as good as "running" here.
timeout 90 nsenter -t "$CT" -a -- systemctl is-system-running --wait >/dev/null 2>&1 || true
case "$(in_ct systemctl is-system-running 2>/dev/null || true)" in
  running|degraded) ;;
  *) tail -n 20 "$WORK/console.log" >&2; die "the container's systemd did not finish booting in 90 s" ;;
esac
log "container up: systemd is PID $CT on the host ($(in_ct systemctl is-system-running || true))"

# ------------------------------------------------------------------------ install
log "scripts/install.sh inside the container (apt-get chromium-headless-shell + fonts, npm ci)"
if in_ct bash /root/panelshot/scripts/install.sh >"$WORK/install1.log" 2>&1; then
  pass "install.sh installs panelshot under systemd ($(sed -n 's/^current release: //p' "$WORK/install1.log"))"
else
  fail "install.sh installs panelshot under systemd" "$(tail -n 1 "$WORK/install1.log")"
  tail -n 30 "$WORK/install1.log" >&2
  exit 1
fi
newly=$(sed -n 's/^.* \([0-9]\+\) newly installed.*$/\1/p' "$WORK/install1.log" | head -n 1)
if grep -q -- '--no-install-recommends' "$WORK/install1.log" && ! in_ct dpkg -s avahi-daemon >/dev/null 2>&1; then
  pass "apt-get installs without recommends (${newly:-?} packages, no avahi-daemon)"
else
  fail "apt-get installs without recommends" "${newly:-?} packages; avahi-daemon or recommends present"
fi

STANDIN_PORT=$(free_port)
PORT=$(free_port)
# The log exists before the stand-in writes to it: no "No such file" while it starts slowly.
: >"$WORK/standin.log"
(cd "$SRC" && exec node --import tsx test/standin/cli.ts --host 127.0.0.1 --port "$STANDIN_PORT") >"$WORK/standin.log" 2>&1 &
STANDIN_PID=$!
GRAFANA=http://127.0.0.1:$STANDIN_PORT
URL=http://127.0.0.1:$PORT
for _ in $(seq 50); do grep -q '"url"' "$WORK/standin.log" && break; sleep 0.2; done
grep -q '"url"' "$WORK/standin.log" || die "the Grafana stand-in did not start: $(tail -n 1 "$WORK/standin.log")"

ENV_FILE=$RUN/etc/panelshot/panelshot.env
cat >>"$ENV_FILE" <<EOF

# systemd-e2e.sh
GRAFANA_URL=$GRAFANA
GRAFANA_USER=admin
GRAFANA_PASS=admin
EOF
# Another port than 8081 (the host's loopback is shared): a drop-in, as an operator would.
mkdir -p "$RUN/etc/systemd/system/panelshot.socket.d"
printf '[Socket]\nListenStream=\nListenStream=127.0.0.1:%s\n' "$PORT" >"$RUN/etc/systemd/system/panelshot.socket.d/e2e.conf"
in_ct systemctl daemon-reload
in_ct systemctl enable panelshot.service >/dev/null 2>&1

# ------------------------------------------------------------------------ helpers
# wait_ready SECONDS: until /readyz answers 200.
wait_ready() {
  local i
  for i in $(seq "$(($1 * 2))"); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/readyz")" = 200 ] && return 0
    [ "$(prop ActiveState)" != failed ] || break
    sleep 0.5
  done
  echo "/readyz not 200 after up to $1 s ($(prop ActiveState); last log: $(in_ct journalctl _SYSTEMD_UNIT=panelshot.service -n 1 -o cat --no-pager))"
  return 1
}
# render OUT [EXTRA]: one render of the stand-in's panel (600x300); prints the HTTP status.
render() {
  local q
  q=$(node -p 'new URLSearchParams({url: process.argv[1], width: "600", height: "300"}).toString()' "$GRAFANA$PANEL${2:-}")
  # curl prints 000 itself when it gets no answer.
  curl -s -o "$1" -w '%{http_code}' --max-time 120 -H 'X-Auth-Token: -' "$URL/render?$q" || true
}
# png_size FILE: "WxH" from the PNG header, or nothing if it is not a PNG.
png_size() {
  node -e '
    const b = require("fs").readFileSync(process.argv[1]);
    if (b.length > 24 && b.toString("latin1", 1, 4) === "PNG") console.log(`${b.readUInt32BE(16)}x${b.readUInt32BE(20)}`);' "$1" 2>/dev/null || true
}
render_ok() {
  local status size
  status=$(render "$WORK/r.png")
  size=$(png_size "$WORK/r.png")
  [ "$status" = 200 ] && [ "$size" = 600x300 ] || { echo "status $status, png ${size:-none}"; return 1; }
  echo "200, PNG $size"
}
leftovers() {
  # Every process panelshot starts (node, chromedriver, Chrome, the watchdog) would show here.
  # ([c] keeps this shell's own command line from matching.)
  in_ct sh -c 'ps -eo pid,args | grep -E "[c]hrom|/[o]pt/panelshot"' || true
}
cgroup_procs() {
  local cg
  cg=$(prop ControlGroup)
  [ -n "$cg" ] || return 0
  in_ct sh -c "cat /sys/fs/cgroup/systemd$cg/cgroup.procs 2>/dev/null" || true
}

# ------------------------------------------------------------------------ checks
log "check: start, ready, render"
start_ready_render() {
  in_ct systemctl start panelshot.service || return 1
  wait_ready 90 || return 1
  render_ok
}
check "systemctl start -> /readyz 200 -> a real render" start_ready_render

log "check: hardening"
sandbox() {
  local pid bad="" p
  pid=$(prop MainPID)
  [ "$pid" != 0 ] || { echo "no main PID"; return 1; }
  # Root in the service's mount namespace: a read-only mount refuses even root (EROFS).
  for p in /opt/panelshot /opt/panelshot/current /opt/panelshot/current/dist /etc /usr /var/lib /var/cache /var/log /srv; do
    if in_ct nsenter -t "$pid" -m -- sh -c "touch '$p/.e2e-probe' 2>/dev/null && rm -f '$p/.e2e-probe'"; then bad="$bad $p"; fi
  done
  in_ct nsenter -t "$pid" -m -- sh -c 'touch /var/lib/panelshot/.e2e-probe && rm /var/lib/panelshot/.e2e-probe' \
    || { echo "/var/lib/panelshot is not writable"; return 1; }
  [ -z "$(in_ct nsenter -t "$pid" -m -- ls -A /root /home/ 2>/dev/null | grep -v -e '^/' -e '^$')" ] || { echo "/root or /home visible"; return 1; }
  [ -z "$bad" ] || { echo "writable:$bad"; return 1; }
  [ "$(in_ct stat -c %U "/proc/$pid")" = panelshot ] || { echo "main process is not user panelshot"; return 1; }
  echo "only /var/lib/panelshot writable (and private /tmp), /opt read-only, runs as panelshot"
}
check "sandbox: /opt read-only, only /var/lib/panelshot writable" sandbox

log "check: stop drains an in-flight render"
stop_drains() {
  local status size t0 left procs
  # The stand-in delays the panel's data 4 s: the render is in flight when the stop comes.
  (render "$WORK/slow.png" '&dataDelay=4000' >"$WORK/slow.status") &
  local rpid=$!
  sleep 1.5
  t0=$(date +%s)
  in_ct systemctl stop panelshot.service || { echo "systemctl stop failed"; return 1; }
  wait "$rpid"
  status=$(cat "$WORK/slow.status")
  size=$(png_size "$WORK/slow.png")
  [ "$status" = 200 ] && [ "$size" = 600x300 ] || { echo "in-flight render got $status (${size:-no png})"; return 1; }
  procs=$(cgroup_procs)
  left=$(leftovers)
  [ -z "$procs" ] && [ -z "$left" ] || { echo "left behind: ${procs//$'\n'/ } ${left//$'\n'/; }"; return 1; }
  echo "in-flight render 200 $size, stop took $(($(date +%s) - t0)) s, nothing left in the cgroup"
}
check "systemctl stop drains an in-flight render and leaves nothing behind" stop_drains

log "check: SIGKILL -> restart"
kill_restarts() {
  local before after n
  in_ct systemctl start panelshot.service && wait_ready 90 || return 1
  before=$(prop MainPID)
  n=$(prop NRestarts)
  in_ct systemctl kill -s KILL panelshot.service
  sleep 1
  wait_ready 90 || return 1
  after=$(prop MainPID)
  [ "$after" != "$before" ] && [ "$(prop NRestarts)" -gt "$n" ] || { echo "not restarted by systemd (PID $before -> $after)"; return 1; }
  render_ok >/dev/null || { echo "render after restart failed"; return 1; }
  echo "PID $before -> $after, NRestarts $(prop NRestarts), ready and rendering"
}
check "systemctl kill -s KILL -> restarted by systemd, ready again" kill_restarts

log "check: bad configuration -> 78, no loop"
bad_config() {
  local state i
  cp "$ENV_FILE" "$WORK/env.good"
  echo 'POOL_SIZE=0' >>"$ENV_FILE"
  in_ct systemctl reset-failed panelshot.service 2>/dev/null || true
  in_ct systemctl restart panelshot.service || true
  for i in $(seq 30); do
    state=$(prop ActiveState)
    case "$state" in failed|inactive) break ;; esac
    sleep 0.5
  done
  # Longer than RestartSec=2: a restart loop would have started by now.
  sleep 6
  state=$(prop ActiveState)
  local status restarts last
  status=$(prop ExecMainStatus)
  restarts=$(prop NRestarts)
  last=$(in_ct journalctl _SYSTEMD_UNIT=panelshot.service -n 1 -o cat --no-pager)
  cp "$WORK/env.good" "$ENV_FILE"
  in_ct systemctl reset-failed panelshot.service 2>/dev/null || true
  [ "$status" = 78 ] && [ "$restarts" = 0 ] && { [ "$state" = failed ] || [ "$state" = inactive ]; } \
    || { echo "state $state, exit status $status, NRestarts $restarts"; return 1; }
  printf '%s' "$last" | node -e 'const l = JSON.parse(require("fs").readFileSync(0, "utf8")); if (l.event !== "config_invalid") process.exit(1)' \
    || { echo "last journal line is not the JSON config_invalid line: $last"; return 1; }
  echo "exit 78, $state, NRestarts 0, logged: $(printf '%s' "$last" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).msg)')"
}
check "a bad env value -> exit 78, no restart loop" bad_config

log "check: upgrade under steady renders"
upgrade() {
  local before after version n bad
  in_ct systemctl start panelshot.service && wait_ready 90 || return 1
  before=$(prop MainPID)
  : >"$WORK/load.status"
  # Steady renders, one after another, through the whole upgrade and restart.
  (while [ -d "$WORK" ] && [ ! -e "$WORK/load.stop" ]; do
     t0=$(date +%s.%N); st=$(render "$WORK/load.png")
     printf '%s %s %s\n' "$t0" "$(date +%s.%N)" "$st" >>"$WORK/load.status"
   done) &
  LOAD_PID=$!
  sleep 3
  in_ct bash /root/panelshot-next/scripts/install.sh >"$WORK/install2.log" 2>&1 &
  local ipid=$! mid=""
  # The window that broke the in-place upgrade: a restart while npm ci fills the new
  # release must come up whole, on the old release.
  for _ in $(seq 1200); do
    if compgen -G "$RUN/opt/panelshot/releases/.*.tmp/node_modules" >/dev/null; then
      in_ct systemctl restart panelshot.service && wait_ready 90 >/dev/null \
        && mid=$(curl -s --max-time 60 "$URL/render/version" | node -e 'try{console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).panelshot)}catch{}')
      break
    fi
    kill -0 "$ipid" 2>/dev/null || break
    sleep 0.1
  done
  wait "$ipid" || { touch "$WORK/load.stop"; echo "install.sh failed: $(tail -n 1 "$WORK/install2.log")"; return 1; }
  [ "$mid" = "$OLD_VERSION" ] || { touch "$WORK/load.stop"; echo "a restart during the build did not come up on $OLD_VERSION (got '${mid:-nothing}')"; return 1; }
  # Renders continue until the new version answers, and a few more after it.
  for _ in $(seq 120); do
    version=$(curl -s --max-time 60 "$URL/render/version" | node -e 'try{console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).panelshot)}catch{}')
    [ "$version" = "$NEW_VERSION" ] && break
    sleep 0.5
  done
  sleep 5
  touch "$WORK/load.stop"
  wait "$LOAD_PID"; LOAD_PID=""
  after=$(prop MainPID)
  n=$(wc -l <"$WORK/load.status")
  bad=$(awk '$3 != 200' "$WORK/load.status" | wc -l)
  # The restart's gap: from the old process's "stopping" to the new one's "listening"
  # (epoch seconds). Renders spanning it waited in panelshot.socket's backlog.
  gap=$(in_ct journalctl _SYSTEMD_UNIT=panelshot.service -o cat --no-pager | node -e '
    const ev = require("fs").readFileSync(0, "utf8").split("\n").flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } });
    const up = ev.map((e) => e.event).lastIndexOf("listening");
    const down = ev.slice(0, up).map((e) => e.event).lastIndexOf("stopping");
    if (up > 0 && down >= 0) console.log(Date.parse(ev[down].time) / 1000, Date.parse(ev[up].time) / 1000);')
  local waited
  waited=$(awk -v down="${gap% *}" -v up="${gap#* }" '$1 < up && $2 > down' "$WORK/load.status" | wc -l)
  [ "$version" = "$NEW_VERSION" ] || { echo "still version ${version:-?} (expected $NEW_VERSION)"; return 1; }
  [ "$after" != "$before" ] || { echo "the service was not restarted"; return 1; }
  [ "$bad" = 0 ] && [ "$n" -ge 5 ] || { echo "$bad of $n renders failed: $(awk '$3 != 200 {print $3}' "$WORK/load.status" | sort | uniq -c | tr '\n' ' ')"; return 1; }
  [ -n "$gap" ] && [ "$waited" -ge 1 ] || { echo "no render spanned the restart (gap: ${gap:-not found in the journal})"; return 1; }
  [ -z "$(in_ct sh -c 'ls /opt/panelshot/releases | wc -l | grep -vx 2')" ] || { echo "releases: $(in_ct ls /opt/panelshot/releases)"; return 1; }
  echo "$n renders, 0 failed, $waited of them across the restart ($(awk -v g="$gap" 'BEGIN { split(g, t, " "); printf "%.1f", t[2] - t[1] }') s from stopping to listening); PID $before -> $after; /render/version says $version; a restart during the build came up on $mid; previous release kept"
}
check "upgrade by a second install.sh under steady renders (and a restart mid-build): zero failed renders, new version" upgrade

log "check: journal is JSON"
journal_json() {
  in_ct journalctl _SYSTEMD_UNIT=panelshot.service -o cat --no-pager >"$WORK/journal.txt"
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
    const bad = lines.filter((l) => { try { const j = JSON.parse(l); return !(j.level && j.time && j.msg); } catch { return true; } });
    const events = new Set(lines.map((l) => { try { return JSON.parse(l).event; } catch { return ""; } }));
    for (const e of ["listening", "render", "stopping", "stopped", "config_invalid"]) if (!events.has(e)) { console.log(`no ${e} line`); process.exit(1); }
    if (bad.length || lines.length < 10) { console.log(`${bad.length} of ${lines.length} lines are not JSON log lines, e.g. ${bad[0]}`); process.exit(1); }
    console.log(`${lines.length} lines, all JSON with level, time, msg`);' "$WORK/journal.txt"
}
check "every journal line of the unit is JSON" journal_json

log "stopping panelshot"
in_ct systemctl stop panelshot.service panelshot.socket || true
summary
[ "$FAILED" = 0 ]
