#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite (unit and integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
# The committed .clang-format holds for every C++ file (bash tools/format-check.sh --fix).
bash tools/format-check.sh
# No function over 120 lines (data tables exempt): split it where it does more than one thing.
python3 tools/function-length-check.py
bash tools/build.sh -DKAGE_WERROR=ON
# The fully static binary (only the kage target), run by it_static_binary_test in an empty root.
cmake -S . -B build-static -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKAGE_STATIC=ON -DKAGE_WERROR=ON >/dev/null
ninja -C build-static kage
# The release image FROM scratch (podman, no registry), unpacked for it_static_binary_test.
bash tools/release-image.sh
build=${KAGE_BUILD_DIR:-build}
(cd "$build" && ctest --output-on-failure --timeout 900 -j "$(nproc)")
# Short libFuzzer runs (ASan + UBSan) of the parsers of outside bytes; long runs: tests/fuzz/README.md.
bash tools/fuzz.sh --seconds 20
