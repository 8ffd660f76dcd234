#!/usr/bin/env bash
# The main job on a bundled demo: installs what is missing, then renders one panel of a
# local Grafana stand-in through a real panelshot process and prints the PNG's path.
#   bash scripts/demo.sh [output.png]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --import tsx scripts/demo.ts "$@"
