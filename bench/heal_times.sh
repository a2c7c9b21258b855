#!/usr/bin/env bash
# The healer's time from the triggering event to cluster_state:ok, and to a healed cluster, for
# the issue's scenarios 1, 2, 5 and 9 (tests/integration: real redis-server pods on 127.0.0.x,
# cluster-node-timeout 2 s, the fake Kubernetes API server). Each scenario test measures its
# own times and asserts the end state; this runs them REPS times and prints their figures.
#
#   bash bench/heal_times.sh [BUILD_DIR] [REPS]      (default build, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
reps=${2:-3}
export KAGE_BINARY=$PWD/$build/tools/kage KAGE_SOURCE_DIR=$PWD
for ((i = 1; i <= reps; i++)); do
  "$build/tests/it_heal_watch_test" --log_level=message \
    --run_test=heal_watch/a_master_dies_and_comes_back_on_a_new_ip,one_pod_restarts_on_a_new_ip 2>&1 |
    grep -E '^.*scenario [0-9]+: ' | sed 's/\x1b\[[0-9;]*m//g'
  "$build/tests/it_heal_ops_test" --log_level=message \
    --run_test=heal_ops/a_pod_loses_its_volume,a_lost_shard_is_refilled_from_a_backup 2>&1 |
    grep -E '^.*scenario [0-9]+: ' | sed 's/\x1b\[[0-9;]*m//g'
done
