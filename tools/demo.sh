#!/usr/bin/env bash
# The kage demo: a throwaway 3-master cluster on 127.0.0.1:7000-7005 gets 50,000 keys of every
# type, kage backs it up, one master loses its data, and kage restores exactly what went missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/build.sh
kage=${KAGE_BUILD_DIR:-build}/tools/kage
work=$(mktemp -d /tmp/kage-demo.XXXXXX)
port=${KAGE_DEMO_PORT:-7000}
cleanup() { bash tools/local-cluster.sh stop "$work/cluster" >/dev/null 2>&1 || true; }
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "start a 3-master, 3-replica cluster on 127.0.0.1:$port"
seed=$(bash tools/local-cluster.sh start "$work/cluster" --port "$port")

step "load ~21,000 keys: strings, hashes, lists, sets, sorted sets, a stream; some with TTLs"
for i in $(seq 1 10000); do
  echo "SET user:$i name-$i"
  echo "HSET profile:$i email u$i@example.com visits $i"
  echo "RPUSH events:$((i % 100)) e$i"
  echo "SADD tags:$((i % 50)) t$i"
  echo "ZADD scores $i player$i"
  [ $((i % 10)) -eq 0 ] && echo "SET session:$i token-$i EX 3600"
done | redis-cli -c -p "$port" >/dev/null
redis-cli -c -p "$port" XADD orders '*' item book qty 1 >/dev/null
redis-cli -c -p "$port" XGROUP CREATE orders shipping 0 >/dev/null
for p in $(seq "$port" $((port + 2))); do
  printf 'keys on 127.0.0.1:%s: %s\n' "$p" "$(redis-cli -p "$p" dbsize)"
done

step "kage backup --node $seed --to $work/backups"
"$kage" backup --node "$seed" --to "$work/backups"

step "kage list / show / verify"
"$kage" list --from "$work/backups"
"$kage" show --from "$work/backups"
"$kage" verify --from "$work/backups"

victim=$(redis-cli -p "$port" cluster nodes | awk '/master/ && $9 ~ /^5461/ {split($2,a,"@"); print a[1]}')
step "disaster: FLUSHALL on master $victim"
redis-cli -u "redis://$victim" flushall >/dev/null
echo "keys left on $victim: $(redis-cli -u "redis://$victim" dbsize)"

step "kage restore --node $seed --from $work/backups --dry-run"
"$kage" restore --node "$seed" --from "$work/backups" --dry-run

step "kage restore --node $seed --from $work/backups   (restores missing keys only)"
"$kage" restore --node "$seed" --from "$work/backups"
echo "keys on $victim again: $(redis-cli -u "redis://$victim" dbsize)"
echo "HGETALL profile:42 -> $(redis-cli -c -p "$port" hgetall profile:42 | tr '\n' ' ')"

step "done: the backup is in $work/backups; the cluster is stopped on exit"
