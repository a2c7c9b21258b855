// The Sentinel healer's planner, rule by rule, from tables: three sentinels, a primary and two
// replica pods; each case changes that consistent picture and says what must (and must not) be
// planned.
#include <boost/test/unit_test.hpp>

#include <kage/engine/sentinel_heal_plan.hpp>

#include <algorithm>
#include <functional>

using namespace kage::engine;

namespace {

const std::string primary = "10.0.1.0:6379";
const std::string replica1 = "10.0.1.1:6379";
const std::string replica2 = "10.0.1.2:6379";
const std::string moved2 = "10.0.1.9:6379";  // replica 2 after a restart on a new IP

std::string sentinel_address(int i) {
  return "10.0.0." + std::to_string(i + 1) + ":26379";
}
std::string run_id(int i) {
  return "r" + std::to_string(i + 1);
}

sentinel_server_state pod(const std::string& name, const std::string& address,
                          const std::string& role, const std::string& master = "",
                          bool link_up = true, std::uint64_t keys = 10) {
  sentinel_server_state s;
  s.name = name;
  s.address = address;
  s.answered = true;
  s.role = role;
  s.master = master;
  s.link_up = link_up;
  s.keys = keys;
  return s;
}

// Everything consistent: every sentinel names the primary, lists both replicas and knows the
// other two sentinels.
sentinel_observed consistent() {
  sentinel_observed o;
  o.master_name = "mymaster";
  for (int i = 0; i < 3; ++i) {
    sentinel_state s;
    s.address = sentinel_address(i);
    s.reachable = true;
    s.run_id = run_id(i);
    s.master = primary;
    s.master_flags = "master";
    s.quorum = 2;
    s.replicas = {{replica1, "x1", "slave"}, {replica2, "x2", "slave"}};
    for (int j = 0; j < 3; ++j) {
      if (j != i) s.sentinels.push_back({sentinel_address(j), run_id(j), "sentinel"});
    }
    o.sentinels.push_back(std::move(s));
  }
  o.pods = {pod("redis-0", primary, "master"), pod("redis-1", replica1, "slave", primary),
            pod("redis-2", replica2, "slave", primary)};
  return o;
}

// Replica 2 came back on a new IP: its pod moved; the sentinels list the new address and keep
// the old one, down.
void replica_moved(sentinel_observed& o) {
  o.pods[2].address = moved2;
  for (auto& s : o.sentinels) {
    s.replicas = {{replica1, "x1", "slave"},
                  {replica2, "x2", "slave,s_down,disconnected"},
                  {moved2, "x3", "slave"}};
  }
}

std::vector<std::string> summary(const sentinel_plan& p) {
  std::vector<std::string> out;
  for (const auto& a : p.actions) out.push_back(std::string(to_string(a.kind)) + " " + a.target);
  return out;
}

bool found(const sentinel_plan& p, const std::string& text) {
  return std::any_of(p.findings.begin(), p.findings.end(),
                     [&](const std::string& f) { return f.find(text) != std::string::npos; });
}

struct plan_case {
  const char* name;
  std::function<void(sentinel_observed&)> change;
  std::vector<std::string> actions;  // "kind target", in order
  bool held;
  std::string finding;  // a text one finding holds ("" = no check)
};

const std::string resets[] = {"reset " + sentinel_address(0), "reset " + sentinel_address(1),
                              "reset " + sentinel_address(2)};

const std::vector<plan_case> cases = {
    {"everything consistent: nothing", [](sentinel_observed&) {}, {}, false, ""},
    {"a sentinel that does not list a live replica yet: nothing (it discovers it itself)",
     [](sentinel_observed& o) { o.sentinels[1].replicas.pop_back(); },
     {},
     false,
     ""},
    {"a replica on a new IP, its old entry down: every sentinel is reset, in order",
     replica_moved,
     {resets[0], resets[1], resets[2]},
     false,
     ""},
    {"an old entry not flagged down (the sentinel still reaches something there): nothing",
     [](sentinel_observed& o) {
       replica_moved(o);
       for (auto& s : o.sentinels) s.replicas[1].flags = "slave";
     },
     {},
     false,
     ""},
    {"only one sentinel keeps the old entry: only it is reset",
     [](sentinel_observed& o) {
       o.sentinels[1].replicas.push_back({"10.0.1.7:6379", "x7", "slave,s_down"});
     },
     {resets[1]},
     false,
     ""},
    {"a sentinel that is gone, flagged down, no configured sentinel: the one listing it is reset",
     [](sentinel_observed& o) {
       o.sentinels[0].sentinels.push_back({"10.0.0.9:26379", "r9", "sentinel,s_down,disconnected"});
     },
     {resets[0]},
     false,
     ""},
    {"a configured sentinel down (maybe restarting): no reset for its entry",
     [](sentinel_observed& o) {
       o.sentinels[2].reachable = false;
       o.sentinels[2].error = "connection refused";
       for (int i = 0; i < 2; ++i)
         o.sentinels[static_cast<std::size_t>(i)].sentinels.back().flags =
             "sentinel,s_down,disconnected";
     },
     {},
     false,
     "10.0.0.3:26379 does not answer"},
    {"one sentinel down, a replica moved: the two that answer are reset",
     [](sentinel_observed& o) {
       replica_moved(o);
       o.sentinels[2].reachable = false;
     },
     {resets[0], resets[1]},
     false,
     ""},
    {"a stray replica of a dead primary is pointed at the primary",
     [](sentinel_observed& o) {
       o.pods[2].master = "10.0.1.99:6379";
       o.pods[2].link_up = false;
     },
     {"replicaof " + replica2},
     false,
     ""},
    {"a stray replica and a moved one: REPLICAOF first, then the resets",
     [](sentinel_observed& o) {
       replica_moved(o);
       o.pods[1].master = "10.0.1.99:6379";
     },
     {"replicaof " + replica1, resets[0], resets[1], resets[2]},
     false,
     ""},
    {"an empty master pod joins as a replica",
     [](sentinel_observed& o) {
       o.pods.push_back(pod("redis-3", "10.0.1.3:6379", "master", "", false, 0));
     },
     {"replicaof 10.0.1.3:6379"},
     false,
     ""},
    {"a master pod with keys is reported, never overwritten",
     [](sentinel_observed& o) { o.pods.push_back(pod("redis-3", "10.0.1.3:6379", "master")); },
     {},
     false,
     "holds 10 keys"},
    {"a quorum of sentinels does not answer: nothing, even with stale entries and strays",
     [](sentinel_observed& o) {
       replica_moved(o);
       o.pods[1].master = "10.0.1.99:6379";
       o.sentinels[1].reachable = false;
       o.sentinels[2].reachable = false;
     },
     {},
     true,
     "only 1 of 3 sentinels answer"},
    {"a configured quorum above the majority is honoured",
     [](sentinel_observed& o) {
       replica_moved(o);
       for (auto& s : o.sentinels) s.quorum = 3;
       o.sentinels[2].reachable = false;
     },
     {},
     true,
     "3 are needed"},
    {"the sentinels do not agree on the primary: nothing",
     [](sentinel_observed& o) {
       replica_moved(o);
       o.sentinels[0].master = "10.0.1.1:6379";
       o.sentinels[1].master = "10.0.1.2:6379";
     },
     {},
     true,
     "do not name one primary"},
    {"a failover in progress: nothing",
     [](sentinel_observed& o) {
       replica_moved(o);
       o.pods[1].master = "10.0.1.99:6379";
       o.sentinels[1].failover_in_progress = true;
     },
     {},
     true,
     "failover"},
    {"a sentinel sees the primary down: nothing",
     [](sentinel_observed& o) {
       replica_moved(o);
       o.sentinels[0].master_flags = "master,s_down";
     },
     {},
     true,
     "sees the primary"},
    {"the primary does not answer: nothing",
     [](sentinel_observed& o) {
       replica_moved(o);
       o.pods[0].answered = false;
       o.pods[0].error = "connection refused";
     },
     {},
     true,
     "does not answer"},
    {"the primary answers as a replica: nothing",
     [](sentinel_observed& o) {
       replica_moved(o);
       o.pods[0].role = "slave";
       o.pods[0].master = replica1;
     },
     {},
     true,
     "answers as role:slave"},
    {"the primary is no pod but answers (read separately): resets go ahead",
     [](sentinel_observed& o) {
       replica_moved(o);
       o.primaries.push_back(o.pods[0]);
       o.pods.erase(o.pods.begin());
     },
     {resets[0], resets[1], resets[2]},
     false,
     ""},
    {"a sentinel still rediscovering the others: no reset this round, strays still repointed",
     [](sentinel_observed& o) {
       replica_moved(o);
       o.pods[1].master = "10.0.1.99:6379";
       o.sentinels[2].sentinels.clear();
     },
     {"replicaof " + replica1},
     false,
     "no SENTINEL RESET this round"},
    {"one sentinel that monitors no such master: the other two decide",
     [](sentinel_observed& o) {
       replica_moved(o);
       o.sentinels[2].master.clear();
       o.sentinels[2].replicas.clear();
     },
     {resets[0], resets[1]},
     false,
     "monitors no master"},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(sentinel_heal_plan)

BOOST_AUTO_TEST_CASE(rules_from_a_table) {
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      auto o = consistent();
      c.change(o);
      const auto p = plan_sentinel_heal(o);
      BOOST_TEST(summary(p) == c.actions, boost::test_tools::per_element());
      BOOST_TEST(p.held == c.held);
      if (!c.finding.empty()) BOOST_TEST(found(p, c.finding));
      for (const auto& a : p.actions) {
        BOOST_TEST(!a.reason.empty());
        BOOST_TEST(a.primary == primary);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_reset_says_what_the_sentinel_must_know_again) {
  auto o = consistent();
  replica_moved(o);
  const auto p = plan_sentinel_heal(o);
  BOOST_TEST_REQUIRE(p.actions.size() == 3u);
  const auto& a = p.actions[1];
  BOOST_TEST(a.expect_sentinels == (std::vector<std::string>{"r1", "r3"}),
             boost::test_tools::per_element());
  BOOST_TEST(a.expect_replicas == (std::vector<std::string>{replica1, moved2}),
             boost::test_tools::per_element());
  BOOST_TEST(a.reason.find("replica 10.0.1.2:6379 (slave,s_down,disconnected)") !=
             std::string::npos);
  BOOST_TEST(describe(a, "mymaster").rfind("SENTINEL RESET mymaster on 10.0.0.2:26379 (", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(replicaof_names_the_primary_and_the_reason) {
  auto o = consistent();
  o.pods[2].master = "10.0.1.99:6379";
  const auto p = plan_sentinel_heal(o);
  BOOST_TEST_REQUIRE(p.actions.size() == 1u);
  BOOST_TEST(p.actions[0].rule == "stray-replica");
  const auto text = describe(p.actions[0], "mymaster");
  BOOST_TEST(text.rfind("REPLICAOF 10.0.1.0 6379 on 10.0.1.2:6379 (", 0) == 0u, text);
  BOOST_TEST(text.find("replicates from 10.0.1.99:6379") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(a_replica_of_the_primary_that_is_still_syncing_is_not_expected_back) {
  auto o = consistent();
  replica_moved(o);
  o.pods[1].link_up = false;
  const auto p = plan_sentinel_heal(o);
  BOOST_TEST_REQUIRE(p.actions.size() == 3u);
  BOOST_TEST(p.actions[0].expect_replicas == (std::vector<std::string>{moved2}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(flags_are_matched_whole) {
  BOOST_TEST(has_sentinel_flag("slave,s_down,disconnected", "s_down"));
  BOOST_TEST(has_sentinel_flag("s_down", "s_down"));
  BOOST_TEST(!has_sentinel_flag("master,s_downish", "s_down"));
  BOOST_TEST(!has_sentinel_flag("", "s_down"));
}

BOOST_AUTO_TEST_SUITE_END()
