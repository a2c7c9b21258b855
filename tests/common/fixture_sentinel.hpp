// Test fixtures: a Redis replicated by Sentinel on loopback: a primary, its replicas and the
// sentinels that watch them, each a real process (redis-server, redis-sentinel) on 127.0.0.x.
//
//   kage::test::sentinel_deployment d;            // primary + 2 replicas + 3 sentinels, settled
//   d.primary()->cli({"SET", "k", "v"});
//   run_kage({"backup", "--sentinel", d.sentinels()[0], ...});
//   d.start_failover(); d.wait_settled();         // SENTINEL FAILOVER, then all agree again
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "fixture_process.hpp"
#include "fixture_redis.hpp"

namespace kage::test {

struct sentinel_options {
  int replicas = 2;
  int sentinels = 3;
  std::string master_name = "mymaster";
  // The sentinels' requirepass (and the password they use with each other); empty: none.
  std::string password;
  // Server i (0 = the first primary) binds hosts[i % size]; sentinel j hosts[j % size].
  std::vector<std::string> hosts = {"127.0.0.1", "127.0.0.2", "127.0.0.3"};
  std::vector<std::string> redis_extra_args;  // for every redis-server
  // Every redis-server at this one port (as pods at their own IPs); 0: each its own free port.
  int redis_port = 0;
  // The sentinels' down-after-milliseconds: how long the primary may not answer before they
  // start a failover of their own. A test that stalls the primary on purpose (DEBUG DIGEST of
  // 400,000 keys takes over 5 s on a loaded machine) sets it well above the stall.
  int down_after_ms = 5000;
};

// One redis-sentinel process in its own temporary directory (sentinel.conf, sentinel.log).
class sentinel_server {
 public:
  // Picks a free port, writes sentinel.conf monitoring `primary` as `name` with `quorum`,
  // starts redis-sentinel and waits (deadline 10 s) until it answers PING.
  sentinel_server(const std::string& host, const std::string& name, const redis_server& primary,
                  int quorum, const std::string& password, int down_after_ms = 5000);
  ~sentinel_server();
  sentinel_server(const sentinel_server&) = delete;
  sentinel_server& operator=(const sentinel_server&) = delete;

  std::string address() const { return host_port(host_, port_); }
  int port() const { return port_; }
  pid_t pid() const { return proc_.pid(); }
  bool running() const { return proc_.running(); }
  void kill(int sig = SIGKILL);  // terminating signals also reap (10 s, then SIGKILL)
  std::string log_tail(int lines = 40) const { return file_tail(dir_.file("sentinel.log"), lines); }

  // redis-cli against this sentinel (password through REDISCLI_AUTH). cli throws on failure.
  std::string cli(const std::vector<std::string>& args) const;
  process_result cli_result(const std::vector<std::string>& args) const;

 private:
  void start();
  std::string host_;
  std::string password_;
  temp_dir dir_;
  int port_ = 0;
  mutable background_process proc_;
};

class sentinel_deployment {
 public:
  // Starts the primary, the replicas (REPLICAOF the primary) and the sentinels, then
  // wait_settled(45 s).
  explicit sentinel_deployment(sentinel_options opts = {});
  ~sentinel_deployment();
  sentinel_deployment(const sentinel_deployment&) = delete;
  sentinel_deployment& operator=(const sentinel_deployment&) = delete;

  const sentinel_options& options() const { return opts_; }
  std::vector<std::string> sentinels() const;  // addresses, in start order
  std::string sentinel_list() const;           // comma-separated, as SENTINEL_NODES takes it
  sentinel_server& sentinel(std::size_t i) { return *sentinels_.at(i); }
  std::vector<redis_server*> servers();  // every redis-server, running or not, in start order
  // Starts one more redis-server (a pod back on a new IP, a stray replica) that belongs to the
  // deployment from now on (wait_settled expects it to be a synced replica while it runs).
  redis_server& add_server(redis_options opts);

  // The address the first running sentinel names as the primary.
  std::string primary_address() const;
  // The server at primary_address(); throws when it is not one of ours or not running.
  redis_server* primary();
  // Running servers other than the primary.
  std::vector<redis_server*> replicas();

  // Waits until every running sentinel names the same primary; it is running and says
  // role:master; every other running server is its replica with master_link_status:up; every
  // sentinel lists each running replica without s_down/o_down/disconnected flags and knows every
  // other running sentinel. Throws with the last mismatch and the log tails otherwise.
  void wait_settled(std::chrono::seconds deadline = std::chrono::seconds(45));
  // SENTINEL FAILOVER on the first running sentinel and wait (deadline) until it names another
  // primary; returns the old primary's address. Does not wait for the rest to settle.
  std::string start_failover(std::chrono::seconds deadline = std::chrono::seconds(30));
  // The last `lines` of every sentinel's and server's log, for a failure message.
  std::string diagnostics(int lines) const;

 private:
  const sentinel_server& first_running() const;

  sentinel_options opts_;
  std::vector<std::unique_ptr<redis_server>> servers_;
  std::vector<std::unique_ptr<sentinel_server>> sentinels_;
};

// A flat "key value key value ..." listing as redis-cli prints SENTINEL REPLICAS/SENTINELS
// (one element a line), split into one map per entry (a new entry starts at "name").
std::vector<std::map<std::string, std::string>> parse_sentinel_entries(const std::string& out);

}  // namespace kage::test
