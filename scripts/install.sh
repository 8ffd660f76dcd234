#!/usr/bin/env bash
# Installs (or removes) panelshot as a systemd service on a Debian/Ubuntu host, from the
# checkout this script sits in. Idempotent: run it again after `git pull` to upgrade.
# An upgrade never touches the code the running service uses: it builds a new release
# directory next to it, swaps the `current` symlink atomically, then restarts the service,
# so a restart at any moment (crash, OOM, an operator) finds a complete release.
# See --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/install.sh [--prefix DIR] [--dry-run] [--no-deps] [--uninstall] [--help]

Installs panelshot from this checkout as a systemd service:
  - apt-get install --no-install-recommends chromium-headless-shell chromium-driver libnss3-tools fontconfig
    fonts-liberation fonts-dejavu-core fonts-noto-cjk fonts-noto-color-emoji (only the ones
    not installed yet; Chromium's recommends would pull ~1 GB of desktop packages)
  - checks that Node.js >= 20 is on PATH (ExecStart uses `command -v node`)
  - creates the system user and group `panelshot` (home /var/lib/panelshot, no login)
  - builds the checkout if dist/ is missing (npm ci && npm run build), copies
    package.json, package-lock.json and dist/ to a NEW release directory
    /opt/panelshot/releases/<version>-<UTC time> and runs `npm ci --omit=dev` there
    (CHROMEDRIVER_SKIP_DOWNLOAD=true: Debian's chromedriver is used)
  - points /opt/panelshot/current at it (a symlink renamed into place: atomic), keeps the
    previous release for a rollback and deletes older ones
  - creates /etc/panelshot/panelshot.env (mode 0600, root:root) from .env.example,
    only if it does not exist yet: your settings survive upgrades
  - installs /etc/systemd/system/panelshot.service (running /opt/panelshot/current) and
    panelshot.socket (127.0.0.1:8081, held by systemd across restarts) and,
    if systemd is running, `systemctl daemon-reload` and `systemctl try-restart panelshot`:
    a running service restarts into the new release (its in-flight renders finish first)
It does not start a stopped service: edit the env file, then `systemctl enable --now panelshot`.

Rollback: ln -sfn releases/<previous> /opt/panelshot/current.new &&
  mv -T /opt/panelshot/current.new /opt/panelshot/current && systemctl restart panelshot

Options:
  --prefix DIR  Install under DIR as a fake root (DIR/opt/panelshot, DIR/etc/panelshot,
                DIR/etc/systemd/system). Skips apt-get, useradd/userdel, chown and
                systemctl. Does not need root.
  --dry-run     Print every step as a command line prefixed "+ " and change nothing.
                Does not need root.
  --no-deps     Do not run `npm ci --omit=dev` in the new release (it gets no node_modules).
                For tests and for hosts that provide them otherwise.
  --uninstall   Stop and remove the service, the units, /opt/panelshot, /var/lib/panelshot
                and the user. KEEPS /etc/panelshot/panelshot.env (your settings and secrets).
                Honours --prefix and --dry-run.
  -h, --help    Show this help.

Environment:
  PANELSHOT_ENV_EXAMPLE  Template for a new env file (default: .env.example of the checkout).

Must be run as root, unless --prefix or --dry-run is given.
Ubuntu: its chromium debs are snap wrappers; prefer Debian, or install Chrome and set
CHROME_BIN/CHROMEDRIVER_PATH in the env file.
EOF
}

die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
note() { printf '%s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }

# run CMD...: print it as "+ CMD" (shell-quoted); execute it unless --dry-run.
run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  if [ "$DRY_RUN" = 0 ]; then "$@"; fi
}
# run_to FILE CMD...: like run, with stdout redirected to FILE.
run_to() {
  local out=$1; shift
  printf '+'; printf ' %q' "$@"; printf ' > %q\n' "$out"
  if [ "$DRY_RUN" = 0 ]; then "$@" >"$out"; fi
}

ARGS=("$@")
PREFIX=""
DRY_RUN=0
NO_DEPS=0
UNINSTALL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }; PREFIX=$2; shift 2 ;;
    --prefix=*) PREFIX=${1#--prefix=}; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --no-deps) NO_DEPS=1; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -n "$PREFIX" ]; then
  PREFIX=$(realpath -m -- "$PREFIX")
  [ "$PREFIX" != / ] || die "--prefix / is the real root: leave --prefix out instead"
fi
if [ -z "$PREFIX" ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
  die "must be run as root (sudo $0 ${ARGS[*]-}), or with --prefix DIR or --dry-run"
fi

# Code and unit must be readable by the service user whatever the caller's umask is.
umask 022

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENV_EXAMPLE=${PANELSHOT_ENV_EXAMPLE:-$SRC/.env.example}
OPT=$PREFIX/opt/panelshot
ETC=$PREFIX/etc/panelshot
ENV_FILE=$ETC/panelshot.env
UNIT_DIR=$PREFIX/etc/systemd/system
UNIT=$UNIT_DIR/panelshot.service
SOCKET=$UNIT_DIR/panelshot.socket
STATE=$PREFIX/var/lib/panelshot
USER_NAME=panelshot
RELEASES=$OPT/releases
CURRENT=$OPT/current
# Only what rendering needs: the headless shell (Chromium without its window and UI layer,
# see src/browser/binaries.ts), fontconfig builds the font cache at install time (else every
# Chrome start would), Liberation gives Arial/Helvetica/Times metrics, Noto covers CJK and
# emoji. Recommends stay out (upower, udev, avahi, mesa, printing: ~1 GB, useless headless).
APT_PACKAGES=(chromium-headless-shell chromium-driver libnss3-tools fontconfig fonts-liberation fonts-dejavu-core fonts-noto-cjk fonts-noto-color-emoji)

systemd_running() { [ -z "$PREFIX" ] && [ -d /run/systemd/system ]; }
user_exists() { id -u "$USER_NAME" >/dev/null 2>&1; }

[ "$DRY_RUN" = 0 ] || note "Dry run: printing the steps, changing nothing."
[ -z "$PREFIX" ] || note "Using --prefix $PREFIX as the root: skipping apt-get, useradd/userdel, chown and systemctl."

# ---------------------------------------------------------------------------- uninstall
if [ "$UNINSTALL" = 1 ]; then
  if systemd_running && { [ -e "$UNIT" ] || systemctl cat panelshot.service >/dev/null 2>&1; }; then
    # Stops with the unit's SIGTERM drain (TimeoutStopSec) before anything is removed.
    run systemctl disable --now panelshot.service panelshot.socket
  fi
  for u in "$UNIT" "$SOCKET"; do
    if [ -e "$u" ]; then run rm -f "$u"; else note "unit $u: not present"; fi
  done
  if systemd_running; then run systemctl daemon-reload; fi
  if [ -e "$OPT" ]; then run rm -rf "$OPT"; else note "$OPT: not present"; fi
  # Only Chrome's caches and temporary profiles live here.
  if [ -e "$STATE" ]; then run rm -rf "$STATE"; fi
  if [ -z "$PREFIX" ]; then
    if user_exists; then run userdel "$USER_NAME"; else note "user $USER_NAME: not present"; fi
  fi
  if [ -e "$ENV_FILE" ]; then
    note "Kept $ENV_FILE (your settings and secrets). Remove it yourself if no longer needed: rm -r $ETC"
  fi
  note "panelshot uninstalled."
  exit 0
fi

# ------------------------------------------------------------------------------ install
# Node.js >= 20: checked first, nothing works without it.
NODE_BIN=$(command -v node || true)
[ -n "$NODE_BIN" ] || die "Node.js >= 20 is required but \`node\` is not on PATH (under sudo, secure_path may hide it). Install Node.js 20+ system-wide (e.g. /usr/bin/node) and retry."
NODE_VERSION=$("$NODE_BIN" --version 2>/dev/null || true)
NODE_MAJOR=${NODE_VERSION#v}; NODE_MAJOR=${NODE_MAJOR%%.*}
case "$NODE_MAJOR" in ''|*[!0-9]*) die "cannot read the version of $NODE_BIN (got '$NODE_VERSION'); Node.js >= 20 is required" ;; esac
[ "$NODE_MAJOR" -ge 20 ] || die "Node.js >= 20 is required, $NODE_BIN is $NODE_VERSION. Install Node.js 20+ and retry."
case "$NODE_BIN" in *[[:space:]]*) die "the node path '$NODE_BIN' contains whitespace; install node to a plain path such as /usr/bin/node" ;; esac
case "$(readlink -f "$NODE_BIN")" in
  /root/*|/home/*|/run/user/*)
    warn "$NODE_BIN resolves to $(readlink -f "$NODE_BIN"), which ProtectHome=yes hides from the service: it will not start. Install Node.js system-wide." ;;
esac
note "Node.js $NODE_VERSION at $NODE_BIN"

# System packages.
if [ -z "$PREFIX" ]; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  else
    note "apt packages already installed: ${APT_PACKAGES[*]}"
  fi
fi

# chromedriver reaches Chrome's DevTools at `localhost`: a host without it (a bare
# debootstrap or container root has no /etc/hosts) fails every Chrome start.
if [ -z "$PREFIX" ] && ! getent hosts localhost >/dev/null 2>&1; then
  warn "the name localhost does not resolve here (no /etc/hosts entry?): chromedriver will not reach Chrome. Add '127.0.0.1 localhost' to /etc/hosts."
fi

# Service user. Its home is the unit's StateDirectory, which systemd creates on start.
if [ -z "$PREFIX" ]; then
  if user_exists; then
    note "user $USER_NAME already exists"
  else
    run useradd --system --user-group --no-create-home --home-dir /var/lib/panelshot \
      --shell /usr/sbin/nologin --comment "panelshot Grafana renderer" "$USER_NAME"
  fi
fi

# Build the checkout if it has not been built.
if [ ! -f "$SRC/dist/main.js" ]; then
  command -v npm >/dev/null || die "$SRC/dist/main.js is missing and npm is not on PATH to build it"
  note "dist/ is missing: building the checkout"
  run npm --prefix "$SRC" ci
  run npm --prefix "$SRC" run build
fi

# Code: a new release directory, complete before anything points at it. Root-owned and
# read-only for the service (ProtectSystem=strict makes it so anyway).
version=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$SRC/package.json" | head -n 1)
[ -n "$version" ] || die "cannot read the version from $SRC/package.json"
release=$version-$(date -u +%Y%m%dT%H%M%SZ)
n=1
while [ -e "$RELEASES/$release" ]; do n=$((n + 1)); release=$version-$(date -u +%Y%m%dT%H%M%SZ)-$n; done
NEW=$RELEASES/$release
# Built under a dot name and renamed when complete: a release directory without the dot is
# always whole, and a failed build leaves only a .tmp that the next run removes.
BUILD=$RELEASES/.$release.tmp
previous=""
if [ -L "$CURRENT" ]; then previous=$(basename "$(readlink "$CURRENT")"); fi
run install -d -m 0755 "$OPT" "$RELEASES"
run install -d -m 0755 "$BUILD"
run install -m 0644 "$SRC/package.json" "$SRC/package-lock.json" "$BUILD/"
for doc in README.md LICENSE; do
  if [ -f "$SRC/$doc" ]; then run install -m 0644 "$SRC/$doc" "$BUILD/"; fi
done
run cp -R --no-preserve=ownership "$SRC/dist" "$BUILD/dist"
if [ "$NO_DEPS" = 1 ]; then
  note "--no-deps: not running npm ci in $NEW (it has no node_modules)"
else
  command -v npm >/dev/null || die "npm is not on PATH (needed for npm ci --omit=dev in $NEW; or pass --no-deps)"
  # Debian's chromium-driver matches Debian's Chromium; the npm package's download would not.
  run env CHROMEDRIVER_SKIP_DOWNLOAD=true npm --prefix "$BUILD" ci --omit=dev --no-audit --no-fund
fi
if [ -z "$PREFIX" ]; then run chown -R root:root "$BUILD"; fi
run mv -T "$BUILD" "$NEW"
# The swap: rename(2) of a symlink over the old one is atomic, so `current` is always
# either the old or the new release. Relative, so a --prefix tree stays self-contained.
run ln -sfn "releases/$release" "$CURRENT.new"
run mv -T "$CURRENT.new" "$CURRENT"
note "current release: $release${previous:+ (previous, kept for a rollback: $previous)}"

# Env file: created once, never overwritten. 0600 root:root is enough because systemd reads
# EnvironmentFile= as root before it drops to User=panelshot; the service user never needs
# to read it, and it holds GRAFANA_PASS, GRAFANA_TOKEN and AUTH_TOKEN.
run install -d -m 0755 "$ETC"
if [ -e "$ENV_FILE" ]; then
  note "$ENV_FILE exists: kept unchanged"
  mode=$(stat -c %a "$ENV_FILE" 2>/dev/null || echo "?")
  case "$mode" in 600|400) ;; *) warn "$ENV_FILE has mode $mode; it holds secrets, consider chmod 600" ;; esac
else
  [ -f "$ENV_EXAMPLE" ] || die "template $ENV_EXAMPLE not found (set PANELSHOT_ENV_EXAMPLE to another file)"
  if [ -z "$PREFIX" ]; then
    run install -m 0600 -o root -g root "$ENV_EXAMPLE" "$ENV_FILE"
  else
    run install -m 0600 "$ENV_EXAMPLE" "$ENV_FILE"
  fi
fi

# Unit, with ExecStart pointing at this host's node (the checkout's unit says /usr/bin/node;
# systemd-analyze verify rejects an ExecStart binary that does not exist).
grep -q '^ExecStart=/usr/bin/node ' "$SRC/systemd/panelshot.service" \
  || die "$SRC/systemd/panelshot.service has no 'ExecStart=/usr/bin/node ' line to rewrite"
node_sed=$(printf '%s' "$NODE_BIN" | sed 's/[|&\\]/\\&/g')
run install -d -m 0755 "$UNIT_DIR"
run_to "$UNIT.tmp" sed "s|^ExecStart=/usr/bin/node |ExecStart=$node_sed |" "$SRC/systemd/panelshot.service"
run chmod 0644 "$UNIT.tmp"
run mv -f "$UNIT.tmp" "$UNIT"
# The socket unit is left running by the restart below: it is what keeps connections
# waiting instead of refused. A changed ListenStream= needs `systemctl restart panelshot.socket`.
run install -m 0644 "$SRC/systemd/panelshot.socket" "$SOCKET"
if systemd_running; then
  run systemctl daemon-reload
  # Restarts only a running service: it drains in-flight renders (ExecStop), then starts
  # from the new `current`. A stopped or disabled service stays as it is.
  run systemctl try-restart panelshot.service
elif [ -z "$PREFIX" ]; then
  note "systemd is not running (no /run/systemd/system): skipped systemctl daemon-reload and try-restart"
fi

# Pruned only now: until the restart above, the service may still run the previous release
# (Node loads some modules lazily). Keep it for a rollback; everything else goes, including
# the flat layout of installs before releases/ (dist/ and node_modules/ in $OPT itself).
for old in "$RELEASES"/* "$RELEASES"/.*.tmp; do
  [ -e "$old" ] || continue
  case "$(basename "$old")" in "$release"|"$previous") continue ;; esac
  run rm -rf "$old"
done
for legacy in dist node_modules package.json package-lock.json README.md LICENSE dist.new; do
  if [ -e "$OPT/$legacy" ]; then run rm -rf "${OPT:?}/$legacy"; fi
done

note ""
if [ "$DRY_RUN" = 1 ]; then
  note "Dry run finished: nothing was changed."
else
  note "panelshot installed${PREFIX:+ under $PREFIX}."
fi
note "Next: edit $ENV_FILE (GRAFANA_URL, GRAFANA_TOKEN or GRAFANA_USER/GRAFANA_PASS, AUTH_TOKEN), then run:"
note "systemctl enable --now panelshot"
if [ "$DRY_RUN" = 0 ] && systemd_running && systemctl is-active --quiet panelshot.service 2>/dev/null; then
  note "panelshot is running release $release."
fi
