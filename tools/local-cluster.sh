#!/usr/bin/env bash
# A throw-away Redis Cluster on this machine, for demos and benchmarks.
#
#   tools/local-cluster.sh start DIR [--masters 3] [--replicas 1] [--port 7000] [--host 127.0.0.1]
#                                    [-- extra redis-server args...]
#   tools/local-cluster.sh status DIR
#   tools/local-cluster.sh stop DIR
#
# start: one daemonized redis-server per node on ports PORT..PORT+n-1 (cluster bus +10000), each
# in DIR/<port>/ (redis.pid, redis.log, nodes.conf); forms the cluster with
# `redis-cli --cluster create` (or reuses it when DIR already holds one), waits for
# cluster_state:ok, and prints the seed address (host:port) on stdout.
# stop: kills exactly the PIDs in DIR/*/redis.pid and waits for them to exit.
set -euo pipefail

readonly start_deadline=10   # seconds for one server to answer PING
readonly cluster_deadline=30 # seconds for the cluster to reach cluster_state:ok
readonly stop_deadline=10    # seconds for a server to exit after SIGTERM

die() {
  echo "local-cluster: $*" >&2
  exit 1
}
say() { echo "local-cluster: $*" >&2; }

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

need_redis() {
  local bin
  for bin in redis-server redis-cli; do
    command -v "$bin" >/dev/null 2>&1 ||
      die "$bin not found; install it with: apt-get install -y redis-server redis-tools"
  done
}

is_number() { [[ $1 =~ ^[0-9]+$ ]]; }

# True when something accepts TCP connections on host:port.
port_in_use() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# True while the process exists and is not a zombie waiting for its reaper.
is_alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [[ -n $state && $state != Z ]]
}

# PID from a pidfile if that process is alive and is a redis-server.
live_pid() {
  local pidfile=$1 pid
  [[ -r $pidfile ]] || return 1
  pid=$(<"$pidfile")
  is_number "$pid" || return 1
  is_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q redis-server || return 1
  echo "$pid"
}

cli() { # cli HOST PORT ARGS...
  local host=$1 port=$2
  shift 2
  timeout 5 redis-cli -h "$host" -p "$port" "$@"
}

node_dirs() {
  local d
  for d in "$1"/*/; do
    d=${d%/}
    [[ -f $d/redis.conf || -f $d/redis.pid || -f $d/nodes.conf ]] && echo "$d"
  done
  return 0
}

started_pids=()
cleanup_on_failure() {
  local pid
  if ((${#started_pids[@]})); then
    say "start failed; stopping the servers it started: ${started_pids[*]}"
    for pid in "${started_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
}

cmd_start() {
  local dir=$1
  shift
  local masters=3 replicas=1 port=7000 host=127.0.0.1
  local -a extra=()
  while (($#)); do
    case $1 in
      --masters) masters=${2:?--masters needs a value}; shift 2 ;;
      --replicas) replicas=${2:?--replicas needs a value}; shift 2 ;;
      --port) port=${2:?--port needs a value}; shift 2 ;;
      --host) host=${2:?--host needs a value}; shift 2 ;;
      --) shift; extra=("$@"); break ;;
      *) die "unknown option '$1' (see: $0 help)" ;;
    esac
  done
  if ! is_number "$masters" || ((masters < 3)); then
    die "--masters must be at least 3 (got '$masters')"
  fi
  is_number "$replicas" || die "--replicas must be a number (got '$replicas')"
  if ! is_number "$port" || ((port < 1 || port + 10000 + masters * (1 + replicas) > 65536)); then
    die "--port must leave room for the cluster bus ports (+10000) (got '$port')"
  fi
  need_redis

  local n=$((masters * (1 + replicas)))
  local last=$((port + n - 1))
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)

  local p pid reuse=1
  for ((p = port; p <= last; p++)); do
    if pid=$(live_pid "$dir/$p/redis.pid"); then
      die "a redis-server (pid $pid) already runs from $dir/$p; run: $0 stop $dir"
    fi
    port_in_use "$host" "$p" && die "port $p on $host is in use; pick another --port"
    port_in_use "$host" $((p + 10000)) &&
      die "cluster bus port $((p + 10000)) on $host is in use; pick another --port"
    [[ -s $dir/$p/nodes.conf ]] || reuse=0
  done

  trap cleanup_on_failure EXIT
  for ((p = port; p <= last; p++)); do
    mkdir -p "$dir/$p"
    : >"$dir/$p/redis.conf"
    echo "$host" >"$dir/$p/host"
    redis-server "$dir/$p/redis.conf" --port "$p" --bind "$host" --bind-source-addr "$host" \
      --dir "$dir/$p" \
      --daemonize yes --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log" \
      --cluster-enabled yes --cluster-config-file "$dir/$p/nodes.conf" \
      --cluster-node-timeout 2000 --save "" --appendonly no --protected-mode no \
      --repl-diskless-sync-delay 0 ${extra[@]+"${extra[@]}"} ||
      die "redis-server on port $p failed to start (its error is above, or in $dir/$p/redis.log)"
  done

  # Wait for every server: pidfile written and PING answered.
  for ((p = port; p <= last; p++)); do
    local until=$((SECONDS + start_deadline))
    local recorded=0
    while :; do
      if ((!recorded)) && pid=$(live_pid "$dir/$p/redis.pid"); then
        started_pids+=("$pid")
        recorded=1
      fi
      ((recorded)) && [[ $(cli "$host" "$p" PING 2>/dev/null) == PONG ]] && break
      if ((SECONDS >= until)); then
        tail -n 20 "$dir/$p/redis.log" >&2 2>/dev/null || true
        grep -q 'Address already in use' "$dir/$p/redis.log" 2>/dev/null &&
          die "port $p (or bus port $((p + 10000))) on $host is in use"
        die "redis-server on $host:$p did not answer PING within ${start_deadline}s; log: $dir/$p/redis.log"
      fi
      sleep 0.1
    done
  done

  if ((reuse)); then
    say "reusing the cluster configuration already in $dir"
  else
    local -a addresses=()
    for ((p = port; p <= last; p++)); do addresses+=("$host:$p"); done
    if ! timeout 60 redis-cli --cluster create "${addresses[@]}" \
      --cluster-replicas "$replicas" --cluster-yes >"$dir/create.log" 2>&1; then
      cat "$dir/create.log" >&2
      die "redis-cli --cluster create failed (output above, also in $dir/create.log)"
    fi
  fi

  # Wait until every node reports cluster_state:ok and every replica's link is up.
  local until=$((SECONDS + cluster_deadline)) waiting
  while :; do
    waiting=""
    for ((p = port; p <= last; p++)); do
      local info repl
      info=$(cli "$host" "$p" CLUSTER INFO 2>/dev/null || true)
      if [[ $info != *cluster_state:ok* ]]; then
        waiting="$host:$p cluster_state not ok"
        break
      fi
      repl=$(cli "$host" "$p" INFO replication 2>/dev/null || true)
      if [[ $repl == *role:slave* && $repl != *master_link_status:up* ]]; then
        waiting="replica $host:$p not in sync with its master"
        break
      fi
    done
    [[ -z $waiting ]] && break
    if ((SECONDS >= until)); then
      cli "$host" "$port" CLUSTER NODES >&2 2>/dev/null || true
      die "cluster not ok within ${cluster_deadline}s: $waiting"
    fi
    sleep 0.2
  done
  trap - EXIT
  say "cluster of $masters masters x $replicas replicas up on $host:$port-$last (dir $dir)"
  echo "$host:$port"
}

cmd_stop() {
  local dir=$1 d pid
  [[ -d $dir ]] || die "no such directory: $dir"
  local -a pids=()
  while read -r d; do
    [[ -n $d ]] || continue
    if pid=$(live_pid "$d/redis.pid"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done < <(node_dirs "$dir")
  ((${#pids[@]})) || { say "nothing running in $dir"; return 0; }
  local until=$((SECONDS + stop_deadline)) alive
  while :; do
    alive=()
    for pid in "${pids[@]}"; do is_alive "$pid" && alive+=("$pid"); done
    ((${#alive[@]})) || break
    if ((SECONDS >= until)); then
      say "still running after ${stop_deadline}s, sending SIGKILL: ${alive[*]}"
      for pid in "${alive[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
      local kill_until=$((SECONDS + 5))
      while :; do
        alive=()
        for pid in "${pids[@]}"; do is_alive "$pid" && alive+=("$pid"); done
        ((${#alive[@]})) || break
        ((SECONDS < kill_until)) || die "processes did not exit: ${alive[*]}"
        sleep 0.1
      done
      break
    fi
    sleep 0.1
  done
  say "stopped ${#pids[@]} redis-server process(es) from $dir"
}

cmd_status() {
  local dir=$1 d pid port host info state role all_ok=1 any=0
  [[ -d $dir ]] || die "no such directory: $dir"
  while read -r d; do
    [[ -n $d ]] || continue
    any=1
    port=${d##*/}
    if pid=$(live_pid "$d/redis.pid"); then
      host=$(cat "$d/host" 2>/dev/null || true)
      host=${host:-127.0.0.1}
      info=$(cli "$host" "$port" CLUSTER INFO 2>/dev/null || true)
      state=$(sed -n 's/^cluster_state:\([a-z]*\).*/\1/p' <<<"$info")
      role=$(cli "$host" "$port" ROLE 2>/dev/null | head -n 1 || true)
      printf '%s:%s pid %s role %s cluster_state %s\n' "$host" "$port" "$pid" "${role:-?}" "${state:-?}"
      [[ $state == ok ]] || all_ok=0
    else
      printf '%s pid - not running\n' "$port"
      all_ok=0
    fi
  done < <(node_dirs "$dir")
  ((any)) || die "no nodes in $dir"
  ((all_ok))
}

main() {
  local cmd=${1:-help}
  case $cmd in
    start | stop | status)
      (($# >= 2)) || usage
      local dir=$2
      shift 2
      "cmd_$cmd" "$dir" "$@"
      ;;
    help | -h | --help) usage ;;
    *) usage ;;
  esac
}

main "$@"
