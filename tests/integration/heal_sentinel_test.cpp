// `kage heal --sentinel ... --pods SELECTOR` against real redis-sentinel (three sentinels) and
// redis-server "pods", each on its own 127.0.0.x address at one port as in Kubernetes, listed
// by the fake Kubernetes API server: a replica back on a new IP leaves stale entries that
// SENTINEL RESET (one sentinel at a time) clears; a stray replica of a dead primary is pointed
// back; nothing is done when all is consistent or a quorum of sentinels does not answer. Run
// as a healer (`kage heal` without --once, and `kage run` with heal.enabled), the pod watch
// triggers the resets at once: long before the (60 s) periodic round.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "fixture_kube.hpp"
#include "fixture_redis.hpp"
#include "fixture_sentinel.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

using namespace kage::test;
using namespace std::chrono_literals;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

namespace {

const std::vector<std::string> pod_hosts = {"127.0.0.81", "127.0.0.82", "127.0.0.83"};
const std::string new_ip = "127.0.0.84";
const std::string dead_ip = "127.0.0.89";

sentinel_options pod_options() {
  sentinel_options o;
  o.hosts = pod_hosts;
  o.redis_port = free_port();
  return o;
}

bool down(const std::map<std::string, std::string>& e) {
  const auto f = e.count("flags") ? e.at("flags") : "";
  return f.find("s_down") != std::string::npos || f.find("disconnected") != std::string::npos;
}

std::string address_of(const std::map<std::string, std::string>& e) {
  return host_port(e.count("ip") ? e.at("ip") : "",
                   std::stoi("0" + (e.count("port") ? e.at("port") : "")));
}

// Every replica entry a sentinel lists ("!" prefixed when flagged down or disconnected).
std::set<std::string> listed_replicas(sentinel_server& s) {
  std::set<std::string> out;
  for (const auto& e : parse_sentinel_entries(s.cli({"SENTINEL", "REPLICAS", "mymaster"})))
    out.insert((down(e) ? "!" : "") + address_of(e));
  return out;
}

std::set<std::string> listed_sentinels(sentinel_server& s) {
  std::set<std::string> out;
  for (const auto& e : parse_sentinel_entries(s.cli({"SENTINEL", "SENTINELS", "mymaster"})))
    out.insert((down(e) ? "!" : "") + address_of(e));
  return out;
}

void wait_until(const std::string& what, const std::function<bool()>& done,
                std::chrono::seconds deadline = 60s) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) BOOST_FAIL("timed out waiting: " + what);
    std::this_thread::sleep_for(200ms);
  }
}

double seconds_since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

// Pod redis-2's process goes and a fresh replica of the primary starts on new_ip (the pod
// object is not touched). Returns once every sentinel flags the old entry down, so that the
// pod event, when it comes, finds stale entries to clear.
redis_server& move_replica(sentinel_deployment& d, std::string& old_address) {
  redis_server* old = d.servers()[2];
  old_address = old->address();
  old->kill();
  redis_options fresh;
  fresh.host = new_ip;
  fresh.port = d.options().redis_port;
  fresh.extra_args = {"--replicaof", pod_hosts[0], std::to_string(fresh.port)};
  redis_server& moved = d.add_server(fresh);
  for (std::size_t i = 0; i < 3; ++i) {
    wait_until("sentinel " + std::to_string(i) + " lists the old replica as down",
               [&] { return listed_replicas(d.sentinel(i)).count("!" + old_address) == 1; });
  }
  return moved;
}

// Seconds from the pod event until a sentinel first dropped the stale entry (the first reset)
// and until every sentinel lists exactly the live replicas and knows the other two.
struct heal_times {
  double first_reset = -1;
  double healed = -1;
};

heal_times await_healed(sentinel_deployment& d, const std::string& old_address,
                        const std::set<std::string>& live, steady::time_point event,
                        std::chrono::seconds deadline, const std::function<std::string()>& why) {
  heal_times t;
  std::vector<std::set<std::string>> others(3);
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 3; ++j)
      if (j != i) others[i].insert(d.sentinels()[j]);
  }
  for (;;) {
    bool healed = true;
    for (std::size_t i = 0; i < 3; ++i) {
      const auto replicas = listed_replicas(d.sentinel(i));
      if (t.first_reset < 0 && replicas.count("!" + old_address) == 0)
        t.first_reset = seconds_since(event);
      healed = healed && replicas == live && listed_sentinels(d.sentinel(i)) == others[i];
    }
    if (healed) {
      t.healed = seconds_since(event);
      return t;
    }
    if (steady::now() > event + deadline) {
      BOOST_FAIL("the sentinels were not healed within " << deadline.count()
                                                         << " s of the pod event\n"
                                                         << why());
    }
    std::this_thread::sleep_for(50ms);
  }
}

std::vector<json::object> json_lines(const std::string& text) {
  std::vector<json::object> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() != '{') continue;
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (!ec && v.is_object()) out.push_back(v.as_object());
  }
  return out;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string write_file(const temp_dir& dir, const std::string& name, const std::string& text) {
  const auto path = dir.file(name);
  FILE* f = std::fopen(path.c_str(), "w");
  BOOST_TEST_REQUIRE(f != nullptr);
  std::fputs(text.c_str(), f);
  std::fclose(f);
  return path;
}

std::string pod_json(int i, const std::string& ip) {
  return R"({"name": "redis-)" + std::to_string(i) +
         R"(", "labels": {"app": "redis"}, "podIP": ")" + ip + R"(", "ready": true})";
}

std::vector<std::string> concat_args(std::vector<std::string> a,
                                     const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The deployment's servers as pods redis-0.. in the fake API server, and the heal command.
struct pods_in_kube {
  sentinel_deployment& d;
  fake_kube kube;
  std::string kubeconfig = kube.write_kubeconfig("kubeconfig", R"("token": "test-token")");

  explicit pods_in_kube(sentinel_deployment& dep) : d(dep) {
    int i = 0;
    for (auto* s : d.servers()) kube.control("add_pod", pod_json(i++, s->host()));
  }
  std::vector<std::string> heal(const std::vector<std::string>& extra) const {
    std::vector<std::string> args{"heal",
                                  "--sentinel",
                                  d.sentinel_list(),
                                  "--master-name",
                                  "mymaster",
                                  "--pods",
                                  "app=redis",
                                  "--namespace",
                                  "default",
                                  "--kubeconfig",
                                  kubeconfig,
                                  "--redis-port",
                                  std::to_string(d.options().redis_port)};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(heal_sentinel)

BOOST_AUTO_TEST_CASE(a_replica_back_on_a_new_ip_leaves_stale_entries_that_reset_clears) {
  sentinel_deployment d(pod_options());
  pods_in_kube k(d);
  const int port = d.options().redis_port;
  const std::string primary = d.primary_address();
  BOOST_TEST_REQUIRE(primary == host_port(pod_hosts[0], port));

  // All consistent: nothing to do.
  auto calm = run_kage(k.heal({"--dry-run", "--json"}));
  BOOST_TEST_REQUIRE(calm.exit_code == 0, describe(calm));
  auto calm_plan = json_result(calm);
  BOOST_TEST(calm_plan.at("actions").as_array().empty(), describe(calm));
  BOOST_TEST(!calm_plan.at("held").as_bool());
  BOOST_TEST(calm_plan.at("primary").as_string() == primary);
  BOOST_TEST(calm_plan.at("sentinels_answering").as_int64() == 3);

  // Pod redis-2 is rescheduled: the old process goes, a fresh one starts on a new IP.
  redis_server* old = d.servers()[2];
  const std::string old_address = old->address();
  old->kill();
  redis_options fresh;
  fresh.host = new_ip;
  fresh.port = port;
  fresh.extra_args = {"--replicaof", pod_hosts[0], std::to_string(port)};
  redis_server& moved = d.add_server(fresh);
  k.kube.control("update_pod", pod_json(2, new_ip));
  for (std::size_t i = 0; i < 3; ++i) {
    wait_until("sentinel " + std::to_string(i) + " lists the old replica as down",
               [&] { return listed_replicas(d.sentinel(i)).count("!" + old_address) == 1; });
  }

  // A dry run plans one reset per sentinel, with the reason, and changes nothing.
  auto dry = run_kage(k.heal({"--dry-run", "--json"}));
  BOOST_TEST_REQUIRE(dry.exit_code == 0, describe(dry));
  auto plan = json_result(dry);
  const auto& actions = plan.at("actions").as_array();
  BOOST_TEST_REQUIRE(actions.size() == 3u, describe(dry));
  for (std::size_t i = 0; i < 3; ++i) {
    BOOST_TEST(actions[i].at("action").as_string() == "reset");
    BOOST_TEST(actions[i].at("target").as_string() == d.sentinels()[i]);
    BOOST_TEST(actions[i].at("result").as_string() == "planned");
    BOOST_TEST(contains(std::string(actions[i].at("reason").as_string()), old_address),
               describe(dry));
  }
  auto text = run_kage(k.heal({"--dry-run"}));
  BOOST_TEST(text.exit_code == 0, describe(text));
  BOOST_TEST(contains(text.out, "planned: SENTINEL RESET mymaster on " + d.sentinels()[0]),
             text.out);
  BOOST_TEST(listed_replicas(d.sentinel(0)).count("!" + old_address) == 1u);

  // One --once resets the three, one after the other, each after the previous rediscovered.
  auto once = run_kage(k.heal({"--once", "--json"}));
  BOOST_TEST_REQUIRE(once.exit_code == 0, describe(once));
  auto done = json_result(once);
  const auto& results = done.at("actions").as_array();
  BOOST_TEST_REQUIRE(results.size() == 3u, describe(once));
  for (const auto& a : results) {
    BOOST_TEST(a.at("result").as_string() == "done", describe(once));
    BOOST_TEST(contains(std::string(a.at("detail").as_string()), "again after"), describe(once));
  }

  // Every sentinel lists exactly the live replicas and knows the other two.
  const std::set<std::string> live{host_port(pod_hosts[1], port), moved.address()};
  for (std::size_t i = 0; i < 3; ++i) {
    wait_until("sentinel " + std::to_string(i) + " lists exactly the live replicas",
               [&] { return listed_replicas(d.sentinel(i)) == live; });
    std::set<std::string> others;
    for (std::size_t j = 0; j < 3; ++j)
      if (j != i) others.insert(d.sentinels()[j]);
    wait_until("sentinel " + std::to_string(i) + " knows the other two",
               [&] { return listed_sentinels(d.sentinel(i)) == others; });
  }
  auto after = run_kage(k.heal({"--dry-run", "--json"}));
  BOOST_TEST(json_result(after).at("actions").as_array().empty(), describe(after));

  // Without a quorum of sentinels nothing is done, and it says why.
  d.sentinel(1).kill();
  d.sentinel(2).kill();
  auto held = run_kage(k.heal({"--once", "--json"}));
  BOOST_TEST_REQUIRE(held.exit_code == 0, describe(held));
  auto held_plan = json_result(held);
  BOOST_TEST(held_plan.at("held").as_bool(), describe(held));
  BOOST_TEST(held_plan.at("actions").as_array().empty());
  BOOST_TEST(contains(describe(held), "only 1 of 3 sentinels answer"), describe(held));
}

BOOST_AUTO_TEST_CASE(a_stray_replica_of_a_dead_primary_is_pointed_back) {
  sentinel_deployment d(pod_options());
  pods_in_kube k(d);
  const int port = d.options().redis_port;
  redis_options stray;
  stray.host = new_ip;
  stray.port = port;
  stray.extra_args = {"--replicaof", dead_ip, std::to_string(port)};
  redis_server& s = d.add_server(stray);
  k.kube.control("add_pod", pod_json(3, new_ip));

  auto dry = run_kage(k.heal({"--dry-run", "--json"}));
  BOOST_TEST_REQUIRE(dry.exit_code == 0, describe(dry));
  const auto plan = json_result(dry);
  const auto& actions = plan.at("actions").as_array();
  BOOST_TEST_REQUIRE(actions.size() == 1u, describe(dry));
  BOOST_TEST(actions[0].at("action").as_string() == "replicaof");
  BOOST_TEST(actions[0].at("rule").as_string() == "stray-replica");
  BOOST_TEST(actions[0].at("target").as_string() == s.address());
  BOOST_TEST(contains(std::string(actions[0].at("reason").as_string()), host_port(dead_ip, port)));

  auto once = run_kage(k.heal({"--once"}));
  BOOST_TEST_REQUIRE(once.exit_code == 0, describe(once));
  BOOST_TEST(contains(once.out, "done: REPLICAOF " + pod_hosts[0]), once.out);
  wait_until("the stray replica syncs from the primary", [&] {
    const auto info = s.cli({"INFO", "replication"});
    return info_field(info, "master_host") == pod_hosts[0] &&
           info_field(info, "master_link_status") == "up";
  });
  d.wait_settled();  // and every sentinel lists it
  auto after = run_kage(k.heal({"--dry-run", "--json"}));
  BOOST_TEST(json_result(after).at("actions").as_array().empty(), describe(after));
}

// `kage heal` as a healer (no --once): the pod object's new IP wakes a round at once; with a
// periodic round only every 300 s, the resets it makes (one sentinel at a time) are the event's.
BOOST_AUTO_TEST_CASE(the_pod_watch_triggers_the_resets_long_before_the_interval) {
  sentinel_deployment d(pod_options());
  pods_in_kube k(d);
  const int port = d.options().redis_port;
  background_process healer;
  healer.start(concat_args({kage_binary()},
                           k.heal({"--interval", "300", "--json", "--log-format", "json"})));
  // The first round (on the first list) finds nothing to do.
  BOOST_TEST_REQUIRE(healer.wait_for_output("\"mode\":\"sentinel\"", 30s),
                     healer.out() + healer.err());
  BOOST_TEST(json_lines(healer.out()).front().at("actions").as_array().empty(), healer.out());

  std::string old_address;
  redis_server& moved = move_replica(d, old_address);
  const auto event = steady::now();
  k.kube.control("update_pod", pod_json(2, new_ip));
  const std::set<std::string> live{host_port(pod_hosts[1], port), moved.address()};
  const auto t = await_healed(d, old_address, live, event, 60s,
                              [&] { return healer.out() + healer.err() + d.diagnostics(10); });
  BOOST_TEST_MESSAGE("kage heal --sentinel: first SENTINEL RESET "
                     << t.first_reset << " s after the pod event, every sentinel healed after "
                     << t.healed << " s (interval 300 s)");
  BOOST_TEST(t.first_reset < 5.0);
  BOOST_TEST(t.healed < 60.0);

  // One round after the event: three resets, each done after the previous one rediscovered.
  wait_until("the healer prints the round", [&] {
    for (const auto& o : json_lines(healer.out()))
      if (o.at("actions").as_array().size() == 3u) return true;
    return false;
  });
  for (const auto& o : json_lines(healer.out())) {
    const auto& actions = o.at("actions").as_array();
    if (actions.empty()) continue;
    BOOST_TEST_REQUIRE(actions.size() == 3u, healer.out());
    for (std::size_t i = 0; i < 3; ++i) {
      BOOST_TEST(actions[i].at("action").as_string() == "reset");
      BOOST_TEST(actions[i].at("target").as_string() == d.sentinels()[i]);
      BOOST_TEST(actions[i].at("result").as_string() == "done", healer.out());
      BOOST_TEST(contains(std::string(actions[i].at("detail").as_string()), "again after"));
    }
  }
  healer.kill(SIGTERM);
  auto done = healer.wait(30s);
  BOOST_TEST(done.exit_code == 0, healer.err());
}

// `kage run` with heal.enabled and redis.sentinel.* in its config: the Sentinel healer runs
// beside the scheduler; holding the Lease it heals on the pod event and takes the backups.
BOOST_AUTO_TEST_CASE(kage_run_heals_a_sentinel_deployment_on_the_pod_event) {
  sentinel_deployment d(pod_options());
  pods_in_kube k(d);
  const int port = d.options().redis_port;
  temp_dir dir("heal-sentinel-run");
  const auto store = dir.file("backups");
  std::string nodes;
  for (const auto& s : d.sentinels()) nodes += (nodes.empty() ? "" : ", ") + s;
  const auto config =
      write_file(dir, "kage.yaml",
                 "redis:\n  sentinel:\n    nodes: [" + nodes + "]\n    master_name: mymaster\n" +
                     "heal:\n  enabled: true\n  lease: on\n  lease_duration_seconds: 3\n" +
                     "  redis_port: " + std::to_string(port) + "\n  interval_seconds: 300\n" +
                     "k8s:\n  pod_selector: app=redis\n  namespace: default\n");
  background_process run;
  run.start({kage_binary(), "run", "--config", config, "--every", "2", "--to", store,
             "--log-format", "json"},
            {{"KUBECONFIG", k.kubeconfig}, {"POD_NAME", "kage-run-0"}});
  wait_until("kage run holds the lease and made its first round",
             [&] { return contains(run.err(), "holds the lease") && !backup_ids(store).empty(); });
  BOOST_TEST(!contains(run.err(), "SENTINEL RESET"), run.err());

  std::string old_address;
  redis_server& moved = move_replica(d, old_address);
  const auto event = steady::now();
  k.kube.control("update_pod", pod_json(2, new_ip));
  const std::set<std::string> live{host_port(pod_hosts[1], port), moved.address()};
  const auto t =
      await_healed(d, old_address, live, event, 60s, [&] { return run.err() + d.diagnostics(10); });
  BOOST_TEST_MESSAGE("kage run (heal.enabled, Sentinel): first SENTINEL RESET "
                     << t.first_reset << " s after the pod event, every sentinel healed after "
                     << t.healed << " s (interval 300 s)");
  BOOST_TEST(t.first_reset < 5.0);
  wait_until("kage run logs the three resets",
             [&] { return count_of(run.err(), "-> done: SENTINEL RESET") == 3u; });

  // The resets are posted as Events by the Lease holder (sentinel 0 runs in pod redis-0).
  bool event_posted = false;
  auto events = json::parse(k.kube.control("list", R"({"resource": "events"})"));
  for (const auto& e : events.at("items").as_array()) {
    const auto& o = e.as_object();
    if (o.at("reason").as_string() == "HealSentinelReset" &&
        o.at("source").at("host").as_string() == "kage-run-0")
      event_posted = true;
  }
  BOOST_TEST(event_posted, json::serialize(events));
  const auto backups = backup_ids(store).size();
  wait_until("another scheduled backup is written",
             [&] { return backup_ids(store).size() > backups; });
  run.kill(SIGTERM);
  auto done = run.wait(30s);
  BOOST_TEST(done.exit_code == 0, run.err());
}

BOOST_AUTO_TEST_SUITE_END()
