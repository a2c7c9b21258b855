// Test fixtures: real redis-server processes and Redis Clusters on loopback.
//
//   kage::test::redis_cluster cluster(3, 1);           // 6 nodes, cluster_state:ok, replicas
//   synced cluster.cli({"SET", "k", "v"});                    // redis-cli -c against a running
//   node auto masters = cluster.masters();                  // in slot order masters[0]->kill();
//   cluster.wait_ok();            // failover done, slot map agreed auto r =
//   run_process({kage_binary(), "backup", "--seed", cluster.seed()});
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fixture_process.hpp"
#include "fixture_tls.hpp"

namespace kage::test {

struct redis_options {
  std::string host = "127.0.0.1";  // a 127.0.0.x address, or "::1"
  // 0: a free port is picked. Else this port (a node brought back where it was), no retries.
  int port = 0;
  bool cluster = false;
  // When set: tls-port on, plain port 0, tls-cluster yes, tls-replication yes,
  // tls-auth-clients optional. port() is then the TLS port.
  std::optional<tls_files> tls;
  // Password of the default user; also used as masterauth so replicas can sync.
  std::string requirepass;
  // ACL rules, one user per line, e.g. "user backup on >secret ~* &* +@all" (the leading "user"
  // is optional). Passed as `--user name rules...` arguments.
  std::vector<std::string> acl_lines;
  // Appended last, so they override the fixture's defaults, e.g. {"--maxmemory", "64mb"}.
  std::vector<std::string> extra_args;
};

// Options of a cluster-enabled node, the rest default.
inline redis_options cluster_node() {
  redis_options o;
  o.cluster = true;
  return o;
}

// Who redis-cli authenticates as; an empty user means the default user.
struct credentials {
  std::string user, password;
};

// One redis-server process in its own temporary directory (redis.log, nodes.conf live there).
class redis_server {
 public:
  // Picks a free port, starts the server and waits (deadline 10 s) until PING answers. Retries
  // on a new port if another process grabbed it first. Throws with the log tail on failure.
  explicit redis_server(redis_options opts);
  // SIGKILLs the server if still running and reaps it; removes the directory unless
  // KAGE_KEEP_TEST_DIRS is set; prints the log tail if the current test failed.
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  std::string address() const;  // "host:port", "[::1]:port"
  std::string host() const { return opts_.host; }
  int port() const { return port_; }
  pid_t pid() const { return proc_.pid(); }
  std::string dir() const { return dir_.path(); }
  std::string log_file() const { return dir_.file("redis.log"); }
  const redis_options& options() const { return opts_; }

  // Sends `sig`. For terminating signals also reaps: waits up to 10 s, then SIGKILLs.
  // SIGSTOP / SIGCONT (freeze / thaw a server) are only sent.
  void kill(int sig = SIGKILL);
  // Starts again on the same port and directory with the same options (nodes.conf kept).
  // SIGKILLs the current process first if it still runs.
  void restart();
  // Starts again at another address (a pod rescheduled onto a new IP), same port and directory.
  void restart_at(const std::string& host);
  bool running() const;
  std::string log_tail(int lines = 40) const;

  // redis-cli against this server as the default user (requirepass): adds -h -p, TLS flags and
  // auth through REDISCLI_AUTH (never argv). Returns stdout verbatim (e.g. "PONG\n"). Throws
  // with stderr on a non-zero exit, a 30 s timeout or an error reply (redis-cli 7.0 exits 0 on
  // those; a single reply starting with an error code like "ERR " / "NOAUTH " counts).
  std::string cli(const std::vector<std::string>& args) const;
  // The same as another user.
  std::string cli_as(const credentials& who, const std::vector<std::string>& args) const;
  // Runs redis-cli and returns the raw result, never throws for a failed command.
  process_result cli_result(const std::vector<std::string>& args,
                            const std::optional<credentials>& who = std::nullopt,
                            const std::string& stdin_text = "",
                            std::chrono::seconds deadline = std::chrono::seconds(30)) const;
  // argv prefix and environment for running redis-cli yourself (e.g. `--pipe` in background).
  std::vector<std::string> cli_argv() const;
  std::map<std::string, std::string> cli_env(
      const std::optional<credentials>& who = std::nullopt) const;

 private:
  std::vector<std::string> server_args() const;
  void start();  // spawns on port_ and waits for PING; throws with diagnostics
  std::string diagnostics(int lines) const;

  redis_options opts_;
  temp_dir dir_;
  int port_ = 0;
  mutable background_process proc_;
};

class redis_cluster {
 public:
  // masters x (1 + replicas_per_master) nodes. With 3+ masters the cluster is formed by
  // `redis-cli --cluster create ... --cluster-replicas N --cluster-yes`; with 1 or 2 masters by
  // CLUSTER ADDSLOTSRANGE / MEET / REPLICATE. Then wait_ok(30 s).
  redis_cluster(int masters, int replicas_per_master, redis_options base = {});
  // The same, node i binding to hosts[i % hosts.size()] (127.0.0.x addresses model hosts).
  redis_cluster(int masters, int replicas_per_master, redis_options base,
                const std::vector<std::string>& hosts);
  ~redis_cluster();
  redis_cluster(const redis_cluster&) = delete;
  redis_cluster& operator=(const redis_cluster&) = delete;

  // Running nodes that call themselves master and own slots, ordered by their first slot.
  std::vector<redis_server*> masters();
  // Running nodes that call themselves replicas of `master`.
  std::vector<redis_server*> replicas_of(const redis_server& master);
  // Every node, running or not, in creation order.
  std::vector<redis_server*> nodes();
  // The node with this "host:port" address, or nullptr.
  redis_server* node(const std::string& address);
  std::string seed() const;  // address of the first node
  const redis_options& options() const { return base_; }

  // Waits until, on every running node: cluster_state:ok; the same view of every running node's
  // role, master and slots; all 16384 slots owned by running masters; every running replica has
  // master_link_status:up. Throws with the last mismatch and the nodes' log tails otherwise.
  void wait_ok(std::chrono::seconds deadline = std::chrono::seconds(30));

  // redis-cli -c against the first running node (default user).
  std::string cli(const std::vector<std::string>& args) const;
  // The node's own id (CLUSTER MYID).
  std::string node_id(const redis_server& node) const;

 private:
  void create_with_redis_cli();
  void create_by_hand(int masters, int replicas_per_master);
  std::string diagnostics(int lines) const;
  const redis_server& any_running() const;

  redis_options base_;
  std::vector<std::unique_ptr<redis_server>> nodes_;
  int masters_ = 0;
  int replicas_ = 0;
};

// One line of CLUSTER NODES, parsed.
struct cluster_node_entry {
  std::string id, address;  // "host:port" ("[v6]:port") without the bus port
  std::vector<std::string> flags;
  std::string master_id;  // "-" for masters
  std::string link_state;
  std::vector<std::pair<int, int>> slots;  // inclusive ranges, importing/migrating skipped
  bool has_flag(const std::string& f) const;
};
std::vector<cluster_node_entry> parse_cluster_nodes(const std::string& text);

// "field:value" from INFO / CLUSTER INFO output; empty if absent.
std::string info_field(const std::string& info, const std::string& field);

}  // namespace kage::test
