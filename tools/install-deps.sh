#!/usr/bin/env bash
# Installs what building and testing kage needs on Debian 12 (run as root), plus any packages
# named as arguments (bench/run.sh adds the benchmark's).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-test1.81-dev libboost-url1.81-dev
  libssl-dev libzstd-dev libyaml-cpp-dev
  redis-server redis-sentinel redis-tools zstd openssl ca-certificates
  clang-format clang libfuzzer-14-dev
  prometheus
  podman
  "$@"
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The Debian packages start a redis-server on 6379, a redis-sentinel on 26379 and a prometheus
# on 9090; kage's tests and demo start their own (promtool and prometheus test k8s/deploy/monitoring).
for service in redis-server redis-sentinel prometheus; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    systemctl stop "$service" || true
  fi
done
