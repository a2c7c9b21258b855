#!/usr/bin/env bash
# Configures and builds kage with Ninja into build/ (or $KAGE_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${KAGE_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
ninja -C "$build"
