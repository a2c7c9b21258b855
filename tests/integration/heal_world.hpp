#pragma once
// The healer's test world: six redis-server "pods" (one 127.0.0.x address each, one port,
// bind-source-addr set) forming a 3 x 1 cluster with 300 keys, listed as Pods by the fake API
// server, and `kage heal` processes watching them. Shared by the heal scenario tests.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_kube.hpp"
#include "fixture_redis.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace kage::test::heal {

using namespace std::chrono_literals;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

inline std::string ip_of(int n) {
  return "127.0.0." + std::to_string(101 + n);
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

inline std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

inline void wait_until(const std::string& what, const std::function<bool()>& done,
                       std::chrono::seconds deadline,
                       const std::function<std::string()>& why = {}) {
  const auto until = steady::now() + deadline;
  while (!done()) {
    if (steady::now() > until) BOOST_FAIL("timed out waiting: " + what + (why ? "\n" + why() : ""));
    std::this_thread::sleep_for(250ms);  // each poll runs a dozen redis-cli
  }
}

inline double seconds_since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

// A pod: its name, the redis-server it runs (at the pod's IP), whether it exists.
struct pod {
  std::string name;
  std::unique_ptr<redis_server> server;
  bool gone = false;
};

// Six pods forming a 3 x 1 cluster with 300 keys, listed by the fake API server (app=redis).
struct world {
  int port = free_port();
  fake_kube kube;
  std::string kubeconfig = kube.write_kubeconfig("kubeconfig", R"("token": "test-token")");
  std::vector<pod> pods;
  int next_ip = 20;  // new IPs: 127.0.0.121 and up
  std::map<std::string, std::string> start_digests;

  // formed = false: six empty pods, no cluster (for the bootstrap).
  explicit world(bool formed = true) {
    for (int i = 0; i < 6; ++i) add_pod(ip_of(i));
    if (!formed) return;
    std::vector<std::string> args{"--cluster", "create"};
    for (auto& p : pods) args.push_back(p.server->address());
    for (const char* a : {"--cluster-replicas", "1", "--cluster-yes"}) args.push_back(a);
    pods[0].server->cli(args);
    wait_until(
        "the cluster of six is ok", [&] { return settled(); }, 60s, [&] { return state(); });
    for (int k = 0; k < 300; ++k) {
      pods[0].server->cli_result({"-c", "SET", "key:" + std::to_string(k), std::to_string(k)});
    }
    wait_until(
        "the replicas hold every key", [&] { return replicas_synced(); }, 30s);
    start_digests = digests();
    BOOST_TEST_REQUIRE(start_digests.size() == 3u);
  }

  std::string new_ip() { return ip_of(next_ip++); }

  // Starts a redis-server at ip and lists its pod (Ready).
  pod& add_pod(const std::string& ip) {
    redis_options o = cluster_node();
    o.host = ip;
    o.port = port;
    // A pod's data survives its restart (a volume): an AOF written on every write.
    o.extra_args = {"--cluster-replica-validity-factor",
                    "0",
                    "--enable-debug-command",
                    "yes",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always"};
    pod p;
    p.name = "redis-" + std::to_string(pods.size());
    p.server = std::make_unique<redis_server>(o);
    kube.control("add_pod", R"({"name": ")" + p.name +
                                R"(", "labels": {"app": "redis"}, "podIP": ")" + ip +
                                R"(", "ready": true})");
    pods.push_back(std::move(p));
    return pods.back();
  }
  void set_pod(const pod& p, const std::string& ip, bool ready) {
    kube.control("update_pod", R"({"name": ")" + p.name + R"(", "podIP": ")" + ip +
                                   R"(", "ready": )" + (ready ? "true" : "false") + "}");
  }
  void delete_pod(pod& p) {
    kube.control("delete", R"({"resource": "pods", "name": ")" + p.name + R"("})");
    p.server->kill();
    p.gone = true;
  }
  // The pod restarts on a new IP with its data directory (nodes.conf): not ready while down.
  void restart_on_new_ip(pod& p) {
    set_pod(p, p.server->host(), false);
    p.server->restart_at(new_ip());
    set_pod(p, p.server->host(), true);
  }

  std::vector<pod*> live() {
    std::vector<pod*> out;
    for (auto& p : pods)
      if (!p.gone) out.push_back(&p);
    return out;
  }

  static std::string myself(const redis_server& s) {
    for (const auto& line : lines_of(s.cli({"CLUSTER", "NODES"})))
      if (line.find("myself") != std::string::npos) return line;
    return {};
  }
  static std::string id_of(const redis_server& s) { return myself(s).substr(0, 40); }
  static bool is_master(const redis_server& s) {
    return words_of(myself(s)).size() > 2 &&
           words_of(myself(s))[2].find("master") != std::string::npos;
  }

  // Shard (its slots, as its master lists them) -> DEBUG DIGEST of its master.
  std::map<std::string, std::string> digests() {
    std::map<std::string, std::string> out;
    for (auto* p : live()) {
      auto w = words_of(myself(*p->server));
      if (w.size() < 9 || w[2].find("master") == std::string::npos) continue;
      std::string slots;
      for (std::size_t i = 8; i < w.size(); ++i) slots += w[i] + " ";
      out[slots] = p->server->cli({"DEBUG", "DIGEST"});
    }
    return out;
  }

  bool replicas_synced() {
    std::map<std::string, std::string> size_by_id;
    for (auto* p : live()) size_by_id[id_of(*p->server)] = p->server->cli({"DBSIZE"});
    for (auto* p : live()) {
      auto w = words_of(myself(*p->server));
      if (w.size() < 4 || w[3] == "-") continue;
      if (size_by_id[w[3]] != size_by_id[id_of(*p->server)]) return false;
    }
    return true;
  }

  // Every live node: cluster_state ok, all slots ok, and it knows exactly the live pods' nodes,
  // each at its pod's IP, none failed or in handshake.
  bool settled() {
    const auto nodes = live();
    std::set<std::string> ips;
    for (auto* p : nodes) ips.insert(p->server->host());
    for (auto* p : nodes) {
      try {
        const auto info = p->server->cli({"CLUSTER", "INFO"});
        if (info_field(info, "cluster_state") != "ok") return false;
        if (info_field(info, "cluster_slots_ok") != "16384") return false;
        const auto lines = lines_of(p->server->cli({"CLUSTER", "NODES"}));
        if (lines.size() != nodes.size()) return false;
        for (const auto& line : lines) {
          auto w = words_of(line);
          if (w.size() < 8) return false;
          if (w[2].find("fail") != std::string::npos || w[2].find("handshake") != std::string::npos)
            return false;
          if (!ips.count(w[1].substr(0, w[1].find(':')))) return false;
        }
      } catch (const std::exception&) {
        return false;
      }
    }
    return true;
  }

  // Every live node says cluster_state:ok with all 16384 slots ok (stale entries may remain).
  bool state_ok() {
    for (auto* p : live()) {
      try {
        const auto info = p->server->cli({"CLUSTER", "INFO"});
        if (info_field(info, "cluster_state") != "ok") return false;
        if (info_field(info, "cluster_slots_ok") != "16384") return false;
      } catch (const std::exception&) {
        return false;
      }
    }
    return true;
  }

  std::string state() {
    std::string out;
    for (auto* p : live()) {
      try {
        out += p->name + " " + p->server->address() + ":\n" + p->server->cli({"CLUSTER", "NODES"});
      } catch (const std::exception& e) {
        out += p->name + ": " + e.what() + "\n";
      }
    }
    return out;
  }

  // The Events posted, as (reason, involved pod, source host).
  std::vector<json::object> events() {
    auto list = json::parse(kube.control("list", R"({"resource": "events"})"));
    std::vector<json::object> out;
    for (auto& e : list.at("items").as_array()) out.push_back(e.as_object());
    return out;
  }

  void check_end(const std::string& what) {
    BOOST_TEST_MESSAGE(what);
    BOOST_TEST(digests() == start_digests, "the shards' digests changed:\n" << state());
  }
};

inline std::string text(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : std::string();
}

// A config file (YAML) for the healers: short lease, quick staleness.
inline std::string write_config(const temp_dir& dir, const std::string& yaml) {
  const auto path = dir.file("kage.yaml");
  FILE* f = std::fopen(path.c_str(), "w");
  BOOST_TEST_REQUIRE(f != nullptr);
  std::fputs(yaml.c_str(), f);
  std::fclose(f);
  return path;
}

// A `kage heal` process watching the world's pods.
struct healer {
  background_process proc;
  int metrics_port = free_port();

  healer(world& w, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{kage_binary(),
                                  "heal",
                                  "--pods",
                                  "app=redis",
                                  "--namespace",
                                  "default",
                                  "--kubeconfig",
                                  w.kubeconfig,
                                  "--redis-port",
                                  std::to_string(w.port),
                                  "--interval",
                                  "2",
                                  "--log-format",
                                  "json",
                                  "--json",
                                  "--listen",
                                  "127.0.0.1:" + std::to_string(metrics_port)};
    args.insert(args.end(), extra.begin(), extra.end());
    proc.start(args);
  }
  ~healer() {
    if (proc.running()) proc.kill(SIGKILL);
  }

  // The healer's log lines (JSON objects).
  std::vector<json::object> log() const {
    std::vector<json::object> out;
    for (const auto& line : lines_of(proc.err())) {
      boost::system::error_code ec;
      auto v = json::parse(line, ec);
      if (!ec && v.is_object()) out.push_back(v.as_object());
    }
    return out;
  }
  // Log messages that carried out an action ("... -> done: ...").
  std::vector<std::string> done() const {
    std::vector<std::string> out;
    for (const auto& o : log()) {
      const auto msg = o.contains("msg") ? text(o.at("msg")) : std::string();
      if (msg.find(" -> done: ") != std::string::npos) out.push_back(msg);
    }
    return out;
  }
  std::string metrics() const {
    auto r = run_process(
        {"curl", "-s", "http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics"}, {}, 10s);
    return r.out;
  }
  double metric(const std::string& sample) const {
    for (const auto& line : lines_of(metrics())) {
      if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
    }
    return -1;
  }
  std::string output() const {
    return "healer stderr:\n" + proc.err() + "\nstdout:\n" + proc.out();
  }
  bool leads() const { return contains(proc.err(), "holds the lease: acting"); }
};

inline std::size_t count_with(const std::vector<std::string>& lines, const std::string& needle) {
  return static_cast<std::size_t>(std::count_if(
      lines.begin(), lines.end(), [&](auto& l) { return l.find(needle) != std::string::npos; }));
}

}  // namespace kage::test::heal
