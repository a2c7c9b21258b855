#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang under ASan and UBSan, and runs each.
#   bash tools/fuzz.sh                 # each target 30 s (what tools/test.sh runs: 20 s)
#   bash tools/fuzz.sh --seconds 3600  # long runs; corpora grow in build-fuzz/corpus/<target>
#   bash tools/fuzz.sh --runs 10000000 --seconds 86400 --target fuzz_resp  # the issue's goal
#   bash tools/fuzz.sh --build-only
# Needs clang and libfuzzer-14-dev (tools/install-deps.sh installs them). A crash leaves its
# input as build-fuzz/crash-* and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=30
build_only=0
runs=()
only=
while (($#)); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=(-runs="$2"); shift 2 ;;
    --target) only=$2; shift 2 ;;
    --build-only) build_only=1; shift ;;
    *) echo "fuzz.sh: unknown argument '$1' (--seconds N, --runs N, --target NAME, --build-only)" >&2; exit 2 ;;
  esac
done
out=build-fuzz
mkdir -p "$out/obj" "$out/corpus"
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
  -fno-sanitize-recover=undefined -Ibase/include -Iproto/include -Ik8s/include -Ik8s/src
  -Istorage/include -Iengine/include -Itools -DBOOST_ASIO_NO_DEPRECATED)
# The libraries' sources the targets need, compiled once (in parallel, only when changed) into
# one archive, so each target links only what it uses.
sources=(base/src/error.cpp base/src/endpoint.cpp
  proto/src/redis_error.cpp proto/src/error.cpp proto/src/resp.cpp proto/src/redis_text.cpp
  proto/src/rdb_frame.cpp proto/src/sentinel.cpp proto/src/cluster_config.cpp
  storage/src/archive.cpp storage/src/manifest.cpp storage/src/status.cpp storage/src/s3_xml.cpp
  storage/src/json_helpers.cpp storage/src/backup_id.cpp
  engine/src/cron.cpp engine/src/heal_pods.cpp engine/src/pod_files_text.cpp
  tools/kage/config_loader.cpp tools/kage/setting_table.cpp tools/kage/value_parsers.cpp
  tools/kage/suggestions.cpp tools/kage/text.cpp tools/kage/settings.cpp tools/kage/commands.cpp
  tools/kage/flag_parser.cpp tools/kage/describe_settings.cpp tools/kage/help.cpp
  # k8s: the sans-IO codecs only (clang 14 cannot build the coroutine client with UBSan and
  # coverage: "Cannot represent a difference across sections")
  k8s/src/error.cpp k8s/src/base64.cpp k8s/src/status.cpp k8s/src/watch.cpp k8s/src/websocket.cpp
  k8s/src/exec_channel.cpp k8s/src/kubeconfig.cpp k8s/src/permissions.cpp k8s/src/pod_fields.cpp)
# A changed header rebuilds every object (objects built against an older struct layout crash).
newest_header=$(find base proto k8s storage engine tools -name '*.hpp' -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2)
objects=()
jobs=0
for src in "${sources[@]}"; do
  obj="$out/obj/$(echo "$src" | tr / _).o"
  objects+=("$obj")
  if [[ ! -f $obj || $src -nt $obj || $newest_header -nt $obj ]]; then
    clang++ "${flags[@]}" -c "$src" -o "$obj.tmp" && mv "$obj.tmp" "$obj" &
    if ((++jobs % $(nproc) == 0)); then wait; fi
  fi
done
wait
for obj in "${objects[@]}"; do [[ -f $obj ]] || { echo "fuzz.sh: $obj did not build" >&2; exit 1; }; done
for obj in "${objects[@]}"; do
  if [[ ! -f $out/libkage_fuzz.a || $obj -nt $out/libkage_fuzz.a ]]; then
    rm -f "$out/libkage_fuzz.a"
    ar rcs "$out/libkage_fuzz.a" "${objects[@]}"
    break
  fi
done
libs=("$out/libkage_fuzz.a" -lboost_json -lboost_url -lyaml-cpp -lzstd -lcrypto -lpthread)
targets=()
jobs=0
for t in tests/fuzz/fuzz_*.cpp; do
  name=$(basename "$t" .cpp)
  targets+=("$name")
  if [[ ! -x $out/$name || $t -nt $out/$name || $out/libkage_fuzz.a -nt $out/$name ]]; then
    rm -f "$out/$name"
    clang++ "${flags[@]/fuzzer-no-link/fuzzer}" "$t" "${libs[@]}" -o "$out/$name" &
    if ((++jobs % $(nproc) == 0)); then wait; fi
  fi
done
wait
for name in "${targets[@]}"; do [[ -x $out/$name ]] || { echo "fuzz.sh: $name did not build" >&2; exit 1; }; done
((build_only)) && exit 0
status=0
for name in "${targets[@]}"; do
  [[ -z $only || $name == "$only" ]] || continue
  corpus="$out/corpus/$name"
  mkdir -p "$corpus"
  seeds=tests/fuzz/seeds/$name
  if "$out/$name" -max_total_time="$seconds" "${runs[@]}" -print_final_stats=1 -artifact_prefix="$out/crash-$name-" \
    "$corpus" $([[ -d $seeds ]] && echo "$seeds") >"$out/$name.log" 2>&1; then
    echo "fuzz: $name clean, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$name.log" | grep -o '[0-9]*$') executions in $(grep -o 'Done [0-9]* runs in [0-9]* second' "$out/$name.log" | grep -o '[0-9]* second' | head -1 || echo "${seconds} second")s"
  else
    echo "fuzz: $name FAILED; see $out/$name.log and $out/crash-$name-*" >&2
    tail -30 "$out/$name.log" >&2
    status=1
  fi
done
exit $status
