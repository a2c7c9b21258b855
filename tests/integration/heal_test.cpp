// The healer's rounds (observe, plan, re-check, act) against real redis-server "pods": each on
// its own 127.0.0.x address at the same port, as in Kubernetes. The pod list is given here; the
// Kubernetes watch that will supply it is tested on its own.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_kube.hpp"
#include "fixture_redis.hpp"

#include <kage/engine/heal.hpp>

#include <boost/asio.hpp>

#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

using namespace kage::test;
using namespace kage::engine;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

constexpr int pod_count = 7;

std::string pod_ip(int i) {
  return "127.0.0." + std::to_string(61 + i);
}

// Seven pods on 127.0.0.61-67, all at one port; the first six form a 3 x 1 cluster.
struct pods {
  int port = free_port();
  std::vector<std::unique_ptr<redis_server>> servers;

  pods() {
    for (int i = 0; i < pod_count; ++i) {
      redis_options o = cluster_node();
      o.host = pod_ip(i);
      o.port = port;
      o.extra_args = {"--cluster-replica-validity-factor", "0"};
      servers.push_back(std::make_unique<redis_server>(o));
    }
    std::vector<std::string> args{"--cluster", "create"};
    for (int i = 0; i < 6; ++i) args.push_back(servers[static_cast<std::size_t>(i)]->address());
    for (const char* a : {"--cluster-replicas", "1", "--cluster-yes"}) args.push_back(a);
    servers[0]->cli(args);
    wait_until("the cluster of six is ok", [&] {
      for (int i = 0; i < 6; ++i) {
        if (info_field(servers[static_cast<std::size_t>(i)]->cli({"CLUSTER", "INFO"}),
                       "cluster_state") != "ok")
          return false;
      }
      return true;
    });
    for (int k = 0; k < 300; ++k) {
      servers[0]->cli_result({"-c", "SET", "key:" + std::to_string(k), "v"});
    }
  }

  std::vector<heal_pod> list(const std::set<int>& gone = {}) const {
    std::vector<heal_pod> out;
    for (int i = 0; i < pod_count; ++i) {
      if (gone.count(i)) continue;
      out.push_back({"redis-" + std::to_string(i), pod_ip(i), true, false, "", ""});
    }
    return out;
  }

  std::string nodes(int i) const {
    return servers[static_cast<std::size_t>(i)]->cli({"CLUSTER", "NODES"});
  }

  static void wait_until(const std::string& what, const std::function<bool()>& done,
                         std::chrono::seconds deadline = 60s) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) BOOST_FAIL("timed out waiting: " + what);
      std::this_thread::sleep_for(200ms);
    }
  }
};

heal_round round_once(const pods& p, const std::vector<heal_pod>& list, heal_policy policy,
                      const heal_memory& memory, bool dry_run) {
  asio::io_context io;
  auto target = make_target({pod_ip(0) + ":" + std::to_string(p.port)}, {});
  auto f = asio::co_spawn(io, async_heal_once(target, list, policy, memory, dry_run, nullptr),
                          asio::use_future);
  io.run();
  return f.get();
}

heal_policy policy_of(const pods& p) {
  heal_policy policy;
  policy.port = p.port;
  policy.node_timeout = 2000ms;  // the fixture's cluster-node-timeout
  return policy;
}

std::string myself_line(const std::string& nodes) {
  std::istringstream in(nodes);
  for (std::string line; std::getline(in, line);) {
    if (line.find("myself") != std::string::npos) return line;
  }
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(heal)

BOOST_AUTO_TEST_CASE(an_empty_pod_joins_as_a_replica_and_a_deleted_pod_is_forgotten_after_fail) {
  pods p;
  const auto policy = policy_of(p);
  heal_memory memory;

  // A dry run explains and changes nothing.
  auto dry = round_once(p, p.list(), policy, memory, true);
  BOOST_TEST_REQUIRE(dry.plan.actions.size() == 1u);
  BOOST_TEST(describe(dry.plan.actions[0], p.port).find("CLUSTER MEET " + pod_ip(6)) !=
             std::string::npos);
  BOOST_TEST(dry.results.empty());
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(p.nodes(6).find('\n') == p.nodes(6).rfind('\n'));  // still knows only itself

  // Rounds until the new pod is a replica: a MEET, then a REPLICATE, nothing else.
  std::vector<heal_result> done;
  pods::wait_until("pod 6 becomes a replica", [&] {
    auto r = round_once(p, p.list(), policy, memory, false);
    memory = r.plan.memory;
    for (auto& x : r.results) {
      if (x.acted) done.push_back(x);
    }
    return myself_line(p.nodes(6)).find("slave") != std::string::npos;
  });
  BOOST_TEST_REQUIRE(done.size() >= 2u);
  BOOST_TEST((done[0].action.kind == heal_action_kind::meet));
  for (const auto& x : done) {
    BOOST_TEST(
        (x.action.kind == heal_action_kind::meet || x.action.kind == heal_action_kind::replicate),
        x.detail);
  }

  // Pod 5 (a replica) is deleted: its node is forgotten by every node, but only once it has
  // been FAIL for forget_after (2 x 2 s), which itself takes cluster-node-timeout.
  const std::string gone_line = myself_line(p.nodes(5));
  const std::string gone_id = gone_line.substr(0, 40);
  BOOST_TEST_REQUIRE(gone_line.find("slave") != std::string::npos);
  const auto killed_at = heal_clock::now();
  p.servers[5]->kill();
  std::optional<heal_clock::time_point> first_forget;
  pods::wait_until("node 5 forgotten everywhere", [&] {
    auto r = round_once(p, p.list({5}), policy, memory, false);
    memory = r.plan.memory;
    for (auto& x : r.results) {
      BOOST_TEST((x.action.kind == heal_action_kind::forget), describe(x.action, p.port));
      if (x.acted && !first_forget) first_forget = heal_clock::now();
    }
    for (int i = 0; i < pod_count; ++i) {
      if (i != 5 && p.nodes(i).find(gone_id) != std::string::npos) return false;
    }
    return true;
  });
  BOOST_TEST_REQUIRE(first_forget.has_value());
  BOOST_TEST_MESSAGE("first FORGET "
                     << std::chrono::duration<double>(*first_forget - killed_at).count()
                     << " s after the pod was deleted");
  BOOST_TEST(std::chrono::duration<double>(*first_forget - killed_at).count() >= 6.0);

  // Nothing more to do, and the cluster serves every slot with the same keys.
  pods::wait_until("cluster ok", [&] {
    return info_field(p.servers[0]->cli({"CLUSTER", "INFO"}), "cluster_state") == "ok";
  });
  auto last = round_once(p, p.list({5}), policy, memory, true);
  BOOST_TEST(last.plan.actions.empty());
  std::size_t keys = 0;
  for (int i = 0; i < pod_count; ++i) {
    if (i == 5) continue;
    if (myself_line(p.nodes(i)).find("master") != std::string::npos) {
      keys += std::stoul(p.servers[static_cast<std::size_t>(i)]->cli({"DBSIZE"}));
    }
  }
  BOOST_TEST(keys == 300u);
}

// `kage heal` from the command line, the pods listed from the fake API server.
BOOST_AUTO_TEST_CASE(kage_heal_plans_with_dry_run_and_acts_with_once) {
  pods p;
  fake_kube kube;
  const auto kubeconfig = kube.write_kubeconfig("kubeconfig", R"("token": "test-token")");
  for (int i = 0; i < pod_count; ++i) {
    kube.control("add_pod", R"({"name": "redis-)" + std::to_string(i) +
                                R"(", "labels": {"app": "redis"}, "podIP": ")" + pod_ip(i) +
                                R"(", "ready": true})");
  }
  // Not selected: its IP is a node of the cluster, so selecting it would change the plan.
  kube.control("add_pod",
               R"({"name": "other", "labels": {"app": "other"}, "podIP": "127.0.0.99"})");
  const std::vector<std::string> base{"heal",        "--pods",       "app=redis",
                                      "--namespace", "default",      "--kubeconfig",
                                      kubeconfig,    "--redis-port", std::to_string(p.port)};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };

  auto dry = run_kage(with({"--dry-run", "--json"}));
  BOOST_TEST_REQUIRE(dry.exit_code == 0, describe(dry));
  auto plan = json_result(dry);
  BOOST_TEST(plan.at("pods").as_int64() == pod_count);
  const auto& actions = plan.at("actions").as_array();
  BOOST_TEST_REQUIRE(actions.size() == 1u, describe(dry));
  BOOST_TEST(actions[0].at("action").as_string() == "meet");
  BOOST_TEST(actions[0].at("peer").as_string() == pod_ip(6));
  BOOST_TEST(actions[0].at("result").as_string() == "planned");
  BOOST_TEST(!std::string(actions[0].at("reason").as_string()).empty());
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(p.nodes(6).find('\n') == p.nodes(6).rfind('\n'));  // changed nothing

  auto text = run_kage(with({"--dry-run"}));
  BOOST_TEST(text.exit_code == 0, describe(text));
  BOOST_TEST(contains(text.out, "planned: meet: "), text.out);
  BOOST_TEST(contains(text.out, "CLUSTER MEET " + pod_ip(6)), text.out);

  pods::wait_until("kage heal --once makes pod 6 a replica", [&] {
    auto once = run_kage(with({"--once"}));
    BOOST_TEST(once.exit_code == 0, describe(once));
    return myself_line(p.nodes(6)).find("slave") != std::string::npos;
  });

  // What goes wrong says what to do.
  auto no_pods = run_kage({"heal", "--kubeconfig", kubeconfig});
  BOOST_TEST(no_pods.exit_code == exit_usage);
  BOOST_TEST(contains(no_pods.err, "--pods SELECTOR"), no_pods.err);
  auto none = run_kage({"heal", "--pods", "app=nothing", "--namespace", "default", "--kubeconfig",
                        kubeconfig, "--once"});
  BOOST_TEST(none.exit_code == exit_usage);
  BOOST_TEST(contains(none.err, "no pod in namespace 'default' matches --pods 'app=nothing'"),
             none.err);
  const auto wrong = kube.write_kubeconfig("wrong", R"("token": "not-the-token")");
  auto refused = run_kage(
      {"heal", "--pods", "app=redis", "--namespace", "default", "--kubeconfig", wrong, "--once"});
  BOOST_TEST(refused.exit_code != 0);
  BOOST_TEST(contains(refused.err, "cannot list the Redis pods"), refused.err);
}

BOOST_AUTO_TEST_SUITE_END()
