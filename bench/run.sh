#!/usr/bin/env bash
# The benchmark in one command (bench/README.md): installs what it needs, builds kage unless
# KAGE_BINARY names one, and runs bench/run.py with the given flags, e.g.
#   bash bench/run.sh                      # 1,000,000 keys, 3 repetitions (about 3 minutes)
#   bash bench/run.sh --rss-sweep          # and kage's peak RSS at 100k, 1M and 10M keys
set -euo pipefail
cd "$(dirname "$0")/.."
# Beyond the build's dependencies: python3 runs the harness, GNU time reads kage's peak RSS
# from outside the process, mawk turns key names into commands for the peers.
bash tools/install-deps.sh python3 time mawk
if [[ -z ${KAGE_BINARY:-} ]]; then
  bash tools/build.sh
  export KAGE_BINARY=${KAGE_BUILD_DIR:-build}/tools/kage
fi
exec python3 bench/run.py "$@"
