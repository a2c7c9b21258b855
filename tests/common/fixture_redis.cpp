#include "fixture_redis.hpp"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace kage::test {
namespace {

using clock = std::chrono::steady_clock;
constexpr auto cli_deadline = std::chrono::seconds(30);
constexpr auto poll_deadline = std::chrono::seconds(5);  // one probe while polling a node
constexpr int total_slots = 16384;

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::vector<std::string> split_words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// redis-cli 7.0 exits 0 after an error reply and prints it on stdout followed by an empty line.
bool looks_like_error_reply(const std::string& out) {
  static const char* const codes[] = {
      "ERR",         "WRONGTYPE", "NOAUTH",    "WRONGPASS",  "NOPERM",     "MOVED",      "ASK",
      "CLUSTERDOWN", "LOADING",   "BUSY",      "BUSYKEY",    "READONLY",   "MASTERDOWN", "NOSCRIPT",
      "EXECABORT",   "CROSSSLOT", "TRYAGAIN",  "OOM",        "NOREPLICAS", "MISCONF",    "NOTBUSY",
      "UNKILLABLE",  "NOPROTO",   "UNBLOCKED", "NOGOODSLAVE"};
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\n\n") != 0) return false;
  for (const char* code : codes) {
    std::string prefix = std::string(code) + " ";
    if (out.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

std::string run_checked_cli(const std::vector<std::string>& argv,
                            const std::map<std::string, std::string>& env,
                            const std::string& where) {
  process_result r = run_process(argv, env, cli_deadline);
  if (r.timed_out || r.exit_code != 0 || looks_like_error_reply(r.out)) {
    std::string why = r.timed_out        ? "timed out after 30 s"
                      : r.exit_code != 0 ? "exit code " + std::to_string(r.exit_code)
                                         : "error reply";
    throw std::runtime_error(quote_command(argv) + " against " + where + " failed (" + why +
                             ")\nstdout: " + r.out + "\nstderr: " + r.err);
  }
  return r.out;
}

std::vector<std::string> tls_cli_flags(const std::optional<tls_files>& tls) {
  if (!tls) return {};
  return {"--tls", "--cacert", tls->ca_cert, "--cert", tls->client_cert, "--key", tls->client_key};
}

bool is_terminating(int sig) {
  return sig != 0 && sig != SIGSTOP && sig != SIGCONT && sig != SIGTSTP && sig != SIGTTIN &&
         sig != SIGTTOU && sig != SIGWINCH && sig != SIGCHLD && sig != SIGURG;
}

std::string slots_text(const std::vector<std::pair<int, int>>& slots) {
  std::string text;
  for (auto [lo, hi] : slots)
    text += " " + std::to_string(lo) + (lo == hi ? "" : "-" + std::to_string(hi));
  return text;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// redis_server

redis_server::redis_server(redis_options opts) : opts_(std::move(opts)), dir_("redis") {
  if (opts_.tls && opts_.tls->ca_cert.empty())
    throw std::invalid_argument("redis_options::tls has no files; use make_tls_files()");
  // Secrets go to a config file, not argv (argv is visible in ps).
  std::string conf;
  if (!opts_.requirepass.empty()) {
    conf += "requirepass \"" + opts_.requirepass + "\"\n";
    conf += "masterauth \"" + opts_.requirepass + "\"\n";
  }
  for (const auto& line : opts_.acl_lines) {
    std::string l = trim(line);
    if (l.rfind("user ", 0) != 0) l = "user " + l;
    conf += l + "\n";
  }
  write_file(dir_.file("redis.conf"), conf);

  if (opts_.port != 0) {
    port_ = opts_.port;
    start();
    return;
  }
  constexpr int attempts = 5;
  for (int attempt = 1;; ++attempt) {
    port_ = free_port();
    try {
      start();
      return;
    } catch (const std::runtime_error& e) {
      // Another process may have bound the port between our probe and the server's bind.
      bool port_taken = std::string(e.what()).find("Address already in use") != std::string::npos;
      if (!port_taken || attempt == attempts) throw;
      std::error_code ec;
      std::filesystem::remove(log_file(), ec);
      std::filesystem::remove(dir_.file("nodes.conf"), ec);
    }
  }
}

redis_server::~redis_server() {
  if (proc_.started() && (std::uncaught_exceptions() > 0 || current_test_failed()))
    std::cerr << diagnostics(40);
  // proc_ (SIGKILL + reap) is destroyed before dir_ (removal): members go in reverse order.
}

std::vector<std::string> redis_server::server_args() const {
  const std::string dir = dir_.path();
  // clang-format off
  std::vector<std::string> args{
      "redis-server", dir + "/redis.conf",
      "--bind", opts_.host,
      "--bind-source-addr", opts_.host,        // peers must see 127.0.0.x, not 127.0.0.1
      "--dir", dir,
      "--logfile", dir + "/redis.log",
      "--daemonize", "no",
      "--save", "",
      "--appendonly", "no",
      "--protected-mode", "no",                // loopback only; 127.0.0.x peers are not "local"
      "--enable-debug-command", "local",       // DEBUG SLEEP / POPULATE for tests
      "--repl-diskless-sync-delay", "0"};      // replicas sync at once, not after 5 s
  // clang-format on
  const std::string port = std::to_string(port_);
  if (opts_.tls) {
    args.insert(args.end(),
                {"--port", "0", "--tls-port", port, "--tls-cert-file", opts_.tls->server_cert,
                 "--tls-key-file", opts_.tls->server_key, "--tls-ca-cert-file", opts_.tls->ca_cert,
                 "--tls-auth-clients", "optional", "--tls-replication", "yes"});
    if (opts_.cluster) args.insert(args.end(), {"--tls-cluster", "yes"});
  } else {
    args.insert(args.end(), {"--port", port});
  }
  if (opts_.cluster) {
    args.insert(args.end(), {"--cluster-enabled", "yes", "--cluster-config-file",
                             dir + "/nodes.conf", "--cluster-node-timeout", "2000"});
    // The cluster bus otherwise learns a peer's address from the connection's source, which on
    // loopback is 127.0.0.1 whatever 127.0.0.x the node binds.
    args.insert(args.end(), {"--cluster-announce-ip", opts_.host});
  }
  args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
  return args;
}

void redis_server::start() {
  proc_.start(server_args());
  const auto deadline = clock::now() + std::chrono::seconds(10);
  std::string last;
  for (;;) {
    if (!proc_.running()) {
      process_result r = proc_.wait(std::chrono::seconds(1));
      throw std::runtime_error("redis-server " + address() + " exited during start-up (exit code " +
                               std::to_string(r.exit_code) + ")\n" + diagnostics(30));
    }
    if (port_accepts(opts_.host, port_)) {
      std::vector<std::string> argv = cli_argv();
      argv.push_back("PING");
      process_result r = run_process(argv, cli_env(), std::chrono::seconds(5));
      last = r.out + r.err;
      // NOAUTH / WRONGPASS / NOPERM: up, but the default user may not PING; fine for readiness.
      for (const char* ready : {"PONG", "NOAUTH", "WRONGPASS", "NOPERM"})
        if (!r.timed_out && r.exit_code == 0 && r.out.rfind(ready, 0) == 0) return;
    }
    if (clock::now() >= deadline) {
      proc_.kill(SIGKILL);
      proc_.wait(std::chrono::seconds(10));
      throw std::runtime_error("redis-server " + address() +
                               " did not answer PING within 10 s (last reply: " + trim(last) +
                               ")\n" + diagnostics(30));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string redis_server::diagnostics(int lines) const {
  std::string text = "---- redis-server " + address() + " (pid " + std::to_string(pid()) +
                     ", dir " + dir() + "): last " + std::to_string(lines) + " log lines ----\n" +
                     log_tail(lines);
  std::string out = proc_.out(), err = proc_.err();
  if (!trim(out).empty()) text += "---- stdout ----\n" + out;
  if (!trim(err).empty()) text += "---- stderr ----\n" + err;
  return text + "---- end of redis-server " + address() + " ----\n";
}

std::string redis_server::address() const {
  return host_port(opts_.host, port_);
}

void redis_server::kill(int sig) {
  if (!proc_.running()) return;
  proc_.kill(sig);
  if (!is_terminating(sig)) return;
  if (sig != SIGKILL) proc_.kill(SIGCONT);  // a frozen server must run to handle SIGTERM
  proc_.wait(std::chrono::seconds(10));     // SIGKILLs the group past the deadline
}

void redis_server::restart() {
  if (proc_.running()) kill(SIGKILL);
  start();
}

void redis_server::restart_at(const std::string& host) {
  if (proc_.running()) kill(SIGKILL);
  opts_.host = host;
  start();
}

bool redis_server::running() const {
  return proc_.running();
}

std::string redis_server::log_tail(int lines) const {
  return file_tail(log_file(), lines);
}

std::vector<std::string> redis_server::cli_argv() const {
  std::vector<std::string> argv{"redis-cli", "-h", opts_.host, "-p", std::to_string(port_)};
  auto tls = tls_cli_flags(opts_.tls);
  argv.insert(argv.end(), tls.begin(), tls.end());
  return argv;
}

std::map<std::string, std::string> redis_server::cli_env(
    const std::optional<credentials>& who) const {
  const std::string& password = who ? who->password : opts_.requirepass;
  if (password.empty()) return {};
  return {{"REDISCLI_AUTH", password}};
}

process_result redis_server::cli_result(const std::vector<std::string>& args,
                                        const std::optional<credentials>& who,
                                        const std::string& stdin_text,
                                        std::chrono::seconds deadline) const {
  std::vector<std::string> argv = cli_argv();
  if (who && !who->user.empty()) argv.insert(argv.end(), {"--user", who->user});
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, cli_env(who), deadline, stdin_text);
}

std::string redis_server::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = cli_argv();
  argv.insert(argv.end(), args.begin(), args.end());
  return run_checked_cli(argv, cli_env(), address());
}

std::string redis_server::cli_as(const credentials& who,
                                 const std::vector<std::string>& args) const {
  std::vector<std::string> argv = cli_argv();
  if (!who.user.empty()) argv.insert(argv.end(), {"--user", who.user});
  argv.insert(argv.end(), args.begin(), args.end());
  return run_checked_cli(argv, cli_env(who), address() + " as " + who.user);
}

// ---------------------------------------------------------------------------------------------
// CLUSTER NODES parsing

bool cluster_node_entry::has_flag(const std::string& f) const {
  return std::find(flags.begin(), flags.end(), f) != flags.end();
}

std::vector<cluster_node_entry> parse_cluster_nodes(const std::string& text) {
  std::vector<cluster_node_entry> entries;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto words = split_words(line);
    if (words.size() < 8) continue;
    cluster_node_entry e;
    e.id = words[0];
    e.address = words[1].substr(0, words[1].find('@'));
    // Redis writes IPv6 unbracketed ("::1:7000"); keep the form redis_server::address() has.
    if (const auto colon = e.address.rfind(':');
        colon != std::string::npos && e.address.find(':') != colon)
      e.address = host_port(e.address.substr(0, colon), std::stoi(e.address.substr(colon + 1)));
    std::istringstream flags(words[2]);
    for (std::string f; std::getline(flags, f, ',');) e.flags.push_back(f);
    e.master_id = words[3];
    e.link_state = words[7];
    for (size_t i = 8; i < words.size(); ++i) {
      const std::string& s = words[i];
      if (s.empty() || s[0] == '[') continue;  // [slot->-importing/migrating]
      auto dash = s.find('-');
      int lo = std::stoi(s.substr(0, dash));
      int hi = dash == std::string::npos ? lo : std::stoi(s.substr(dash + 1));
      e.slots.emplace_back(lo, hi);
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

std::string info_field(const std::string& info, const std::string& field) {
  std::istringstream in(info);
  const std::string prefix = field + ":";
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) return trim(line.substr(prefix.size()));
  return {};
}

// ---------------------------------------------------------------------------------------------
// redis_cluster

redis_cluster::redis_cluster(int masters, int replicas_per_master, redis_options base)
    : redis_cluster(masters, replicas_per_master, base, {base.host}) {}

redis_cluster::redis_cluster(int masters, int replicas_per_master, redis_options base,
                             const std::vector<std::string>& hosts)
    : base_(std::move(base)), masters_(masters), replicas_(replicas_per_master) {
  if (masters < 1 || replicas_per_master < 0 || hosts.empty())
    throw std::invalid_argument("redis_cluster: need masters >= 1, replicas >= 0, a host");
  base_.cluster = true;
  const int total = masters * (1 + replicas_per_master);
  for (int i = 0; i < total; ++i) {
    redis_options opts = base_;
    opts.host = hosts[static_cast<size_t>(i) % hosts.size()];
    nodes_.push_back(std::make_unique<redis_server>(std::move(opts)));
  }
  if (masters >= 3)
    create_with_redis_cli();
  else
    create_by_hand(masters, replicas_per_master);
  wait_ok(std::chrono::seconds(30));
}

redis_cluster::~redis_cluster() = default;

void redis_cluster::create_with_redis_cli() {
  std::vector<std::string> argv{"redis-cli"};
  auto tls = tls_cli_flags(base_.tls);
  argv.insert(argv.end(), tls.begin(), tls.end());
  argv.insert(argv.end(), {"--cluster", "create"});
  // redis-cli takes IPv6 unbracketed here ("::1:7000"): it splits at the last ':'.
  for (auto& n : nodes_) argv.push_back(n->host() + ":" + std::to_string(n->port()));
  argv.insert(argv.end(), {"--cluster-replicas", std::to_string(replicas_), "--cluster-yes"});
  process_result r = run_process(argv, nodes_[0]->cli_env(), std::chrono::seconds(60));
  if (r.timed_out || r.exit_code != 0)
    throw std::runtime_error("redis-cli --cluster create failed (exit " +
                             std::to_string(r.exit_code) + (r.timed_out ? ", timed out" : "") +
                             ")\n" + r.out + r.err + diagnostics(20));
}

void redis_cluster::create_by_hand(int masters, int replicas_per_master) {
  const auto deadline = clock::now() + std::chrono::seconds(30);
  for (int m = 0; m < masters; ++m) {
    const int lo = total_slots * m / masters;
    const int hi = total_slots * (m + 1) / masters - 1;
    auto& node = *nodes_[static_cast<size_t>(m)];
    node.cli({"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(m + 1)});
    node.cli({"CLUSTER", "ADDSLOTSRANGE", std::to_string(lo), std::to_string(hi)});
  }
  const auto& first = *nodes_[0];
  for (size_t i = 1; i < nodes_.size(); ++i)
    nodes_[i]->cli({"CLUSTER", "MEET", first.host(), std::to_string(first.port())});
  // Replica r follows master r % masters once it has learnt that master's id by gossip.
  for (int r = 0; r < masters * replicas_per_master; ++r) {
    auto& replica = *nodes_[static_cast<size_t>(masters + r)];
    const std::string master_id = node_id(*nodes_[static_cast<size_t>(r % masters)]);
    for (;;) {
      process_result res =
          replica.cli_result({"CLUSTER", "REPLICATE", master_id}, std::nullopt, "", poll_deadline);
      if (res.exit_code == 0 && res.out.rfind("OK", 0) == 0) break;
      if (clock::now() >= deadline)
        throw std::runtime_error("CLUSTER REPLICATE " + master_id + " on " + replica.address() +
                                 " kept failing: " + res.out + res.err + diagnostics(20));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

std::vector<redis_server*> redis_cluster::nodes() {
  std::vector<redis_server*> all;
  for (auto& n : nodes_) all.push_back(n.get());
  return all;
}

redis_server* redis_cluster::node(const std::string& address) {
  for (auto& n : nodes_)
    if (n->address() == address) return n.get();
  return nullptr;
}

std::string redis_cluster::seed() const {
  return nodes_.at(0)->address();
}

const redis_server& redis_cluster::any_running() const {
  for (auto& n : nodes_)
    if (n->running()) return *n;
  throw std::runtime_error("redis_cluster: no node is running");
}

std::string redis_cluster::node_id(const redis_server& node) const {
  return trim(node.cli({"CLUSTER", "MYID"}));
}

std::vector<redis_server*> redis_cluster::masters() {
  std::vector<std::pair<int, redis_server*>> found;
  for (auto& n : nodes_) {
    if (!n->running()) continue;
    process_result r = n->cli_result({"CLUSTER", "NODES"}, std::nullopt, "", poll_deadline);
    if (r.exit_code != 0) continue;
    for (auto& e : parse_cluster_nodes(r.out))
      if (e.has_flag("myself") && e.has_flag("master") && !e.slots.empty())
        found.emplace_back(e.slots.front().first, n.get());
  }
  std::sort(found.begin(), found.end());
  std::vector<redis_server*> result;
  for (auto& [slot, n] : found) result.push_back(n);
  return result;
}

std::vector<redis_server*> redis_cluster::replicas_of(const redis_server& master) {
  const std::string master_id = node_id(master);
  std::vector<redis_server*> result;
  for (auto& n : nodes_) {
    if (!n->running() || n.get() == &master) continue;
    process_result r = n->cli_result({"CLUSTER", "NODES"}, std::nullopt, "", poll_deadline);
    if (r.exit_code != 0) continue;
    for (auto& e : parse_cluster_nodes(r.out))
      if (e.has_flag("myself") && e.has_flag("slave") && e.master_id == master_id)
        result.push_back(n.get());
  }
  return result;
}

void redis_cluster::wait_ok(std::chrono::seconds deadline) {
  const auto until = clock::now() + deadline;
  // Returns what is not ok yet, or "" when everything is.
  auto check = [&]() -> std::string {
    std::vector<redis_server*> running;
    std::set<std::string> running_addresses;
    for (auto& n : nodes_)
      if (n->running()) {
        running.push_back(n.get());
        running_addresses.insert(n->address());
      }
    if (running.empty()) return "no node is running";
    for (auto* n : running) {
      process_result r = n->cli_result({"CLUSTER", "INFO"}, std::nullopt, "", poll_deadline);
      std::string state = info_field(r.out, "cluster_state");
      if (state != "ok")
        return n->address() + " reports cluster_state:" + state + " " + trim(r.err);
    }
    std::string reference, reference_address;
    std::vector<redis_server*> replicas;
    for (auto* n : running) {
      process_result r = n->cli_result({"CLUSTER", "NODES"}, std::nullopt, "", poll_deadline);
      auto entries = parse_cluster_nodes(r.out);
      std::map<std::string, std::string> address_of;
      for (auto& e : entries) address_of[e.id] = e.address;
      std::vector<std::string> lines;
      int owned = 0;
      for (auto& e : entries) {
        if (!running_addresses.count(e.address)) continue;
        if (e.has_flag("fail") || e.has_flag("fail?") || e.has_flag("handshake") ||
            e.has_flag("noaddr"))
          return n->address() + " sees " + e.address + " as " + e.flags.back();
        bool master = e.has_flag("master");
        if (e.has_flag("myself") && !master) replicas.push_back(n);
        std::string line =
            e.address + (master ? " master" : " replica of " + address_of[e.master_id]);
        line += slots_text(e.slots);
        if (master)
          for (auto [lo, hi] : e.slots) owned += hi - lo + 1;
        lines.push_back(line);
      }
      if (lines.size() != running.size())
        return n->address() + " knows " + std::to_string(lines.size()) + " of the " +
               std::to_string(running.size()) + " running nodes";
      if (owned != total_slots)
        return n->address() + " sees " + std::to_string(owned) + " slots owned by running masters";
      std::sort(lines.begin(), lines.end());
      std::string view;
      for (auto& l : lines) view += "  " + l + "\n";
      if (reference.empty()) {
        reference = view;
        reference_address = n->address();
      } else if (view != reference) {
        return "nodes disagree; " + reference_address + " sees\n" + reference + n->address() +
               " sees\n" + view;
      }
    }
    for (auto* n : replicas) {
      process_result r = n->cli_result({"INFO", "replication"}, std::nullopt, "", poll_deadline);
      std::string link = info_field(r.out, "master_link_status");
      if (link != "up") return "replica " + n->address() + " has master_link_status:" + link;
    }
    return {};
  };
  std::string problem;
  for (;;) {
    problem = check();
    if (problem.empty()) return;
    if (clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("redis cluster (seed " + seed() + ") not ok within " +
                           std::to_string(deadline.count()) + " s: " + problem + "\n" +
                           diagnostics(20));
}

std::string redis_cluster::cli(const std::vector<std::string>& args) const {
  const redis_server& node = any_running();
  std::vector<std::string> argv = node.cli_argv();
  argv.push_back("-c");
  argv.insert(argv.end(), args.begin(), args.end());
  return run_checked_cli(argv, node.cli_env(), "cluster via " + node.address());
}

std::string redis_cluster::diagnostics(int lines) const {
  std::string text;
  for (auto& n : nodes_) {
    if (n->running()) {
      process_result r = n->cli_result({"CLUSTER", "NODES"}, std::nullopt, "", poll_deadline);
      if (r.exit_code == 0 && !r.timed_out)
        text += "---- CLUSTER NODES on " + n->address() + " ----\n" + r.out;
      break;
    }
  }
  for (auto& n : nodes_)
    text += "---- " + n->address() + (n->running() ? "" : " (not running)") + ": last " +
            std::to_string(lines) + " log lines ----\n" + n->log_tail(lines);
  return text;
}

}  // namespace kage::test
