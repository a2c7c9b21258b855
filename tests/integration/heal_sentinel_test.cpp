// `kage heal --sentinel ... --pods SELECTOR` against real redis-sentinel (three sentinels) and
// redis-server "pods", each on its own 127.0.0.x address at one port as in Kubernetes, listed
// by the fake Kubernetes API server: a replica back on a new IP leaves stale entries that
// SENTINEL RESET (one sentinel at a time) clears; a stray replica of a dead primary is pointed
// back; nothing is done when all is consistent or a quorum of sentinels does not answer.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "fixture_kube.hpp"
#include "fixture_redis.hpp"
#include "fixture_sentinel.hpp"

#include <functional>
#include <set>
#include <thread>

using namespace kage::test;
using namespace std::chrono_literals;

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

std::string pod_json(int i, const std::string& ip) {
  return R"({"name": "redis-)" + std::to_string(i) +
         R"(", "labels": {"app": "redis"}, "podIP": ")" + ip + R"(", "ready": true})";
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
  std::vector<std::string> heal(std::vector<std::string> extra) const {
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

BOOST_AUTO_TEST_SUITE_END()
