#!/usr/bin/env bash
# Installs what the tests need, builds, type-checks, and runs the whole suite.
# This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
npm run --silent typecheck
npm test
