#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite (unit and integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/build.sh
build=${KAGE_BUILD_DIR:-build}
cd "$build"
ctest --output-on-failure --timeout 900 -j "$(nproc)"
