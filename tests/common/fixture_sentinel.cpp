#include "fixture_sentinel.hpp"

#include <algorithm>
#include <exception>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace kage::test {
namespace {

using clock = std::chrono::steady_clock;

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(trim(line));
  return lines;
}

bool has_any_flag(const std::string& flags, std::initializer_list<const char*> wanted) {
  std::istringstream in(flags);
  for (std::string f; std::getline(in, f, ',');) {
    for (const char* w : wanted)
      if (f == w) return true;
  }
  return false;
}

}  // namespace

std::vector<std::map<std::string, std::string>> parse_sentinel_entries(const std::string& out) {
  std::vector<std::map<std::string, std::string>> entries;
  auto lines = lines_of(out);
  for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
    if (lines[i] == "name" || entries.empty()) entries.emplace_back();
    entries.back()[lines[i]] = lines[i + 1];
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------
// sentinel_server

sentinel_server::sentinel_server(const std::string& host, const std::string& name,
                                 const redis_server& primary, int quorum,
                                 const std::string& password, int down_after_ms)
    : host_(host), password_(password), dir_("sentinel") {
  constexpr int attempts = 5;
  for (int attempt = 1;; ++attempt) {
    port_ = free_port();
    std::string conf;
    conf += "port " + std::to_string(port_) + "\n";
    conf += "bind " + host_ + "\n";
    conf += "protected-mode no\n";
    conf += "daemonize no\n";
    conf += "dir \"" + dir_.path() + "\"\n";
    conf += "logfile \"" + dir_.file("sentinel.log") + "\"\n";
    // Loopback peers all come from 127.0.0.1 unless told otherwise.
    conf += "sentinel announce-ip " + host_ + "\n";
    conf += "sentinel announce-port " + std::to_string(port_) + "\n";
    conf += "sentinel monitor " + name + " " + primary.host() + " " +
            std::to_string(primary.port()) + " " + std::to_string(quorum) + "\n";
    // 5 s by default: long enough that a loaded machine does not look like a failure.
    conf += "sentinel down-after-milliseconds " + name + " " + std::to_string(down_after_ms) + "\n";
    conf += "sentinel failover-timeout " + name + " 10000\n";
    conf += "sentinel parallel-syncs " + name + " 1\n";
    if (!primary.options().requirepass.empty())
      conf += "sentinel auth-pass " + name + " \"" + primary.options().requirepass + "\"\n";
    if (!password_.empty()) {
      conf += "requirepass \"" + password_ + "\"\n";
      conf += "sentinel sentinel-pass \"" + password_ + "\"\n";
    }
    write_file(dir_.file("sentinel.conf"), conf);
    try {
      start();
      return;
    } catch (const std::runtime_error& e) {
      const bool port_taken =
          std::string(e.what()).find("Address already in use") != std::string::npos;
      if (!port_taken || attempt == attempts) throw;
    }
  }
}

sentinel_server::~sentinel_server() {
  if (proc_.started() && (std::uncaught_exceptions() > 0 || current_test_failed()))
    std::cerr << "--- sentinel " << address() << " log:\n" << log_tail(40);
}

void sentinel_server::start() {
  proc_.start({"redis-sentinel", dir_.file("sentinel.conf")});
  const auto deadline = clock::now() + std::chrono::seconds(10);
  for (;;) {
    if (!proc_.running()) {
      proc_.wait(std::chrono::seconds(1));
      throw std::runtime_error("redis-sentinel " + address() + " exited during start-up\n" +
                               log_tail(30));
    }
    if (port_accepts(host_, port_)) {
      auto r = cli_result({"PING"});
      if (!r.timed_out && r.exit_code == 0 && r.out.rfind("PONG", 0) == 0) return;
    }
    if (clock::now() >= deadline) {
      proc_.kill(SIGKILL);
      proc_.wait(std::chrono::seconds(10));
      throw std::runtime_error("redis-sentinel " + address() + " did not answer PING in 10 s\n" +
                               log_tail(30));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void sentinel_server::kill(int sig) {
  if (!proc_.running()) return;
  proc_.kill(sig);
  if (sig == SIGSTOP || sig == SIGCONT) return;
  proc_.wait(std::chrono::seconds(10));
}

process_result sentinel_server::cli_result(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"redis-cli", "-h", host_, "-p", std::to_string(port_)};
  argv.insert(argv.end(), args.begin(), args.end());
  std::map<std::string, std::string> env;
  if (!password_.empty()) env["REDISCLI_AUTH"] = password_;
  return run_process(argv, env, std::chrono::seconds(10));
}

std::string sentinel_server::cli(const std::vector<std::string>& args) const {
  auto r = cli_result(args);
  if (r.timed_out || r.exit_code != 0 || r.out.rfind("ERR", 0) == 0)
    throw std::runtime_error("redis-cli " + quote_command(args) + " against sentinel " + address() +
                             " failed: " + r.out + r.err);
  return r.out;
}

// ---------------------------------------------------------------------------------------------
// sentinel_deployment

sentinel_deployment::sentinel_deployment(sentinel_options opts) : opts_(std::move(opts)) {
  const auto& hosts = opts_.hosts;
  redis_options first;
  first.host = hosts[0];
  first.extra_args = opts_.redis_extra_args;
  first.port = opts_.redis_port;
  servers_.push_back(std::make_unique<redis_server>(first));
  const redis_server& p = *servers_.front();
  for (int i = 1; i <= opts_.replicas; ++i) {
    redis_options r;
    r.host = hosts[static_cast<std::size_t>(i) % hosts.size()];
    r.extra_args = opts_.redis_extra_args;
    r.port = opts_.redis_port;
    r.extra_args.insert(r.extra_args.end(), {"--replicaof", p.host(), std::to_string(p.port())});
    servers_.push_back(std::make_unique<redis_server>(r));
  }
  const int quorum = opts_.sentinels / 2 + 1;
  for (int j = 0; j < opts_.sentinels; ++j) {
    sentinels_.push_back(std::make_unique<sentinel_server>(
        hosts[static_cast<std::size_t>(j) % hosts.size()], opts_.master_name, p, quorum,
        opts_.password, opts_.down_after_ms));
  }
  wait_settled();
}

sentinel_deployment::~sentinel_deployment() {
  // Sentinels first, so none starts a failover while the servers go down.
  sentinels_.clear();
  servers_.clear();
}

std::vector<std::string> sentinel_deployment::sentinels() const {
  std::vector<std::string> out;
  for (const auto& s : sentinels_) out.push_back(s->address());
  return out;
}

std::string sentinel_deployment::sentinel_list() const {
  std::string out;
  for (const auto& s : sentinels_) out += (out.empty() ? "" : ",") + s->address();
  return out;
}

std::vector<redis_server*> sentinel_deployment::servers() {
  std::vector<redis_server*> out;
  for (auto& s : servers_) out.push_back(s.get());
  return out;
}

redis_server& sentinel_deployment::add_server(redis_options opts) {
  servers_.push_back(std::make_unique<redis_server>(std::move(opts)));
  return *servers_.back();
}

const sentinel_server& sentinel_deployment::first_running() const {
  for (const auto& s : sentinels_)
    if (s->running()) return *s;
  throw std::runtime_error("no sentinel of the deployment is running");
}

std::string sentinel_deployment::primary_address() const {
  auto lines =
      lines_of(first_running().cli({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", opts_.master_name}));
  if (lines.size() < 2) throw std::runtime_error("the sentinel names no primary");
  return host_port(lines[0], std::stoi(lines[1]));
}

redis_server* sentinel_deployment::primary() {
  const std::string address = primary_address();
  for (auto& s : servers_)
    if (s->address() == address && s->running()) return s.get();
  throw std::runtime_error("the sentinels name " + address + ", not a running server of ours");
}

std::vector<redis_server*> sentinel_deployment::replicas() {
  const std::string address = primary_address();
  std::vector<redis_server*> out;
  for (auto& s : servers_)
    if (s->address() != address && s->running()) out.push_back(s.get());
  return out;
}

void sentinel_deployment::wait_settled(std::chrono::seconds deadline) {
  const auto until = clock::now() + deadline;
  std::string last;
  for (;;) {
    try {
      last.clear();
      std::string named;
      std::size_t running_sentinels = 0;
      for (const auto& s : sentinels_) {
        if (!s->running()) continue;
        ++running_sentinels;
        auto lines = lines_of(s->cli({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", opts_.master_name}));
        if (lines.size() < 2) {
          last = s->address() + " names no primary";
          break;
        }
        const std::string a = host_port(lines[0], std::stoi(lines[1]));
        if (!named.empty() && a != named) {
          last = "sentinels disagree: " + named + " vs " + a;
          break;
        }
        named = a;
      }
      redis_server* p = last.empty() ? primary() : nullptr;
      if (p && info_field(p->cli({"INFO", "replication"}), "role") != "master")
        last = p->address() + " is not a master yet";
      std::vector<std::string> replica_addresses;
      if (last.empty()) {
        for (auto* r : replicas()) {
          const std::string info = r->cli({"INFO", "replication"});
          const std::string master = host_port(info_field(info, "master_host"),
                                               std::stoi("0" + info_field(info, "master_port")));
          if (info_field(info, "role") != "slave" || master != p->address() ||
              info_field(info, "master_link_status") != "up") {
            last = r->address() + " is not a synced replica of " + p->address();
            break;
          }
          replica_addresses.push_back(r->address());
        }
      }
      if (last.empty()) {
        for (const auto& s : sentinels_) {
          if (!s->running()) continue;
          auto entries =
              parse_sentinel_entries(s->cli({"SENTINEL", "REPLICAS", opts_.master_name}));
          std::size_t good = 0;
          for (const auto& e : entries) {
            const std::string a = host_port(e.count("ip") ? e.at("ip") : "",
                                            std::stoi("0" + (e.count("port") ? e.at("port") : "")));
            if (std::find(replica_addresses.begin(), replica_addresses.end(), a) ==
                replica_addresses.end())
              continue;
            if (!has_any_flag(e.count("flags") ? e.at("flags") : "",
                              {"s_down", "o_down", "disconnected"}))
              ++good;
          }
          const auto others =
              parse_sentinel_entries(s->cli({"SENTINEL", "SENTINELS", opts_.master_name}));
          if (good != replica_addresses.size()) {
            last = s->address() + " sees " + std::to_string(good) + " of " +
                   std::to_string(replica_addresses.size()) + " replicas healthy";
            break;
          }
          if (others.size() + 1 < running_sentinels) {
            last = s->address() + " knows " + std::to_string(others.size()) + " other sentinels";
            break;
          }
        }
      }
      if (last.empty()) return;
    } catch (const std::exception& e) {
      last = e.what();
    }
    if (clock::now() >= until) {
      throw std::runtime_error("the Sentinel deployment did not settle within " +
                               std::to_string(deadline.count()) + " s: " + last + "\n" +
                               diagnostics(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::string sentinel_deployment::start_failover(std::chrono::seconds deadline) {
  const std::string old = primary_address();
  first_running().cli({"SENTINEL", "FAILOVER", opts_.master_name});
  const auto until = clock::now() + deadline;
  for (;;) {
    try {
      if (primary_address() != old) return old;
    } catch (const std::exception&) {
      // asked too early; ask again
    }
    if (clock::now() >= until)
      throw std::runtime_error("SENTINEL FAILOVER did not name a new primary within " +
                               std::to_string(deadline.count()) + " s\n" + diagnostics(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string sentinel_deployment::diagnostics(int lines) const {
  std::string out;
  for (const auto& s : sentinels_)
    out += "--- sentinel " + s->address() + ":\n" + s->log_tail(lines) + "\n";
  for (const auto& s : servers_)
    out += "--- redis " + s->address() + ":\n" + s->log_tail(lines) + "\n";
  return out;
}

}  // namespace kage::test
