// The healer's planner, rule by rule, from tables of pods and CLUSTER NODES views: what it does
// and, as often, what it must not do.
#include <boost/test/unit_test.hpp>

#include <kage/engine/heal_plan.hpp>
#include <kage/k8s/pod_fields.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <set>

using namespace kage::engine;
using namespace std::chrono_literals;

namespace {

// A node id of 40 hex digits from one digit: "a" -> "aaaa...".
std::string id(char c) {
  return std::string(40, c);
}

struct fake_node {
  char name;  // its id is id(name)
  std::string ip;
  std::string master;  // "" for a master, else the master's name as a string of one char
  std::string slots;   // "0-5460", "[100->-<id>]", ...
  std::uint64_t epoch = 1;
  std::uint64_t keys = 10;
};

// A cluster and its pods. Every node answers unless `down`; every other node sees a node with
// its `seen_as` flag ("fail", "fail?") when set; every pod is Ready at its node's IP.
struct world {
  std::vector<fake_node> nodes;
  std::vector<heal_pod> pods;
  std::set<char> down;
  std::map<char, std::string> seen_as;
  std::map<char, std::set<char>> forgot;  // viewer -> nodes it no longer lists
  bool api_fresh = true;

  fake_node& node(char n) {
    return *std::find_if(nodes.begin(), nodes.end(), [&](auto& x) { return x.name == n; });
  }
  heal_pod& pod(const std::string& name) {
    return *std::find_if(pods.begin(), pods.end(), [&](auto& p) { return p.name == name; });
  }
  void add(fake_node n, bool with_pod = true) {
    if (with_pod) pods.push_back({std::string("pod-") + n.name, n.ip, true, false, "", ""});
    nodes.push_back(std::move(n));
  }

  std::string line(const fake_node& n, bool self, const std::string& ip) const {
    std::string flags = self ? "myself," : "";
    flags += n.master.empty() ? "master" : "slave";
    if (!self && seen_as.count(n.name)) flags += "," + seen_as.at(n.name);
    return id(n.name) + " " + ip + ":6379@16379 " + flags + " " +
           (n.master.empty() ? "-" : id(n.master[0])) + " 0 0 " + std::to_string(n.epoch) +
           " connected " + n.slots + "\n";
  }

  heal_observed observe() const {
    heal_observed o;
    o.pods = pods;
    o.api_fresh = api_fresh;
    for (const auto& me : nodes) {
      if (down.count(me.name)) continue;
      std::string text;
      for (const auto& other : nodes) {
        if (forgot.count(me.name) && forgot.at(me.name).count(other.name)) continue;
        text += line(other, other.name == me.name, other.ip);
      }
      auto lines = kage::proto::parse_cluster_nodes_lines(text);
      BOOST_TEST_REQUIRE(lines.has_value());
      o.views.push_back({me.ip, *lines, me.keys});
    }
    return o;
  }
};

// Three masters a b c at .1-.3, replicas d e f at .4-.6.
world three_by_one() {
  world w;
  w.add({'a', "10.0.0.1", "", "0-5460", 1, 10});
  w.add({'b', "10.0.0.2", "", "5461-10922", 2, 10});
  w.add({'c', "10.0.0.3", "", "10923-16383", 3, 10});
  w.add({'d', "10.0.0.4", "a", "", 1, 10});
  w.add({'e', "10.0.0.5", "b", "", 2, 10});
  w.add({'f', "10.0.0.6", "c", "", 3, 10});
  return w;
}

heal_policy policy() {
  heal_policy p;
  p.node_timeout = 5s;  // forget_after and stuck_migration_after default to 10 s
  return p;
}

const auto t0 = heal_clock::time_point{} + std::chrono::hours(1000);

// The plan once the view has been the same for longer than every wait (first seen at t0).
heal_plan settled(const world& w, const heal_policy& p = policy(),
                  std::chrono::milliseconds later = 1h) {
  auto first = plan_heal(w.observe(), p, {}, t0);
  return plan_heal(w.observe(), p, first.memory, t0 + later);
}

std::vector<heal_action> of_kind(const heal_plan& plan, heal_action_kind kind) {
  std::vector<heal_action> out;
  for (const auto& a : plan.actions) {
    if (a.kind == kind) out.push_back(a);
  }
  return out;
}

bool finding(const heal_plan& plan, const std::string& part) {
  return std::any_of(plan.findings.begin(), plan.findings.end(),
                     [&](const auto& f) { return f.find(part) != std::string::npos; });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(engine_heal_plan)

BOOST_AUTO_TEST_CASE(a_whole_cluster_gets_no_action) {
  auto plan = settled(three_by_one());
  BOOST_TEST(plan.actions.empty());
  BOOST_TEST(!plan.holding);
  BOOST_TEST(plan.lost_slots.empty());
  BOOST_TEST(plan.findings.empty());
}

BOOST_AUTO_TEST_CASE(a_new_view_holds_still_for_the_node_timeout) {
  auto w = three_by_one();
  auto first = plan_heal(w.observe(), policy(), {}, t0);
  BOOST_TEST(first.holding);
  BOOST_TEST(finding(first, "changed less than cluster-node-timeout ago"));
  auto still = plan_heal(w.observe(), policy(), first.memory, t0 + 4s);
  BOOST_TEST(still.holding);
  auto settled_plan = plan_heal(w.observe(), policy(), still.memory, t0 + 5s);
  BOOST_TEST(!settled_plan.holding);
}

BOOST_AUTO_TEST_CASE(rule1_an_empty_ready_pod_is_met_from_a_master) {
  auto w = three_by_one();
  auto plan0 = settled(w);
  w.add({'7', "10.0.0.7", "", "", 0, 0});
  w.forgot['7'] = {'a', 'b', 'c', 'd', 'e', 'f'};  // it knows only itself
  for (char n : {'a', 'b', 'c', 'd', 'e', 'f'}) w.forgot[n].insert('7');
  // A new pod is a change: the planner holds still, yet rule 1 may act.
  auto plan = plan_heal(w.observe(), policy(), plan0.memory, t0 + 2h);
  BOOST_TEST(plan.holding);
  auto meets = of_kind(plan, heal_action_kind::meet);
  BOOST_TEST_REQUIRE(meets.size() == 1u);
  BOOST_TEST(meets[0].rule == 1);
  BOOST_TEST(meets[0].peer == "10.0.0.7");
  BOOST_TEST((meets[0].target == "10.0.0.1" || meets[0].target == "10.0.0.2" ||
              meets[0].target == "10.0.0.3"));
  BOOST_TEST(plan.actions.size() == 1u);
}

BOOST_AUTO_TEST_CASE(rule1_no_join_for_a_pod_not_ready_or_with_keys) {
  for (int variant = 0; variant < 3; ++variant) {
    auto w = three_by_one();
    w.add({'7', "10.0.0.7", "", "", 0, variant == 1 ? 5u : 0u});
    w.forgot['7'] = {'a', 'b', 'c', 'd', 'e', 'f'};
    for (char n : {'a', 'b', 'c', 'd', 'e', 'f'}) w.forgot[n].insert('7');
    if (variant == 0) w.pod("pod-7").ready = false;
    if (variant == 2) w.node('7').slots = "7";  // holds a slot
    auto plan = settled(w);
    BOOST_TEST(of_kind(plan, heal_action_kind::meet).empty(), "variant " << variant);
  }
}

BOOST_AUTO_TEST_CASE(rule1_a_joined_empty_master_replicates_the_master_with_fewest_replicas) {
  auto w = three_by_one();
  w.nodes.erase(
      std::remove_if(w.nodes.begin(), w.nodes.end(), [](auto& n) { return n.name == 'f'; }),
      w.nodes.end());
  w.pods.pop_back();  // pod-f gone: c has no replica
  w.add({'7', "10.0.0.7", "", "", 0, 0});
  auto plan = settled(w);
  auto r = of_kind(plan, heal_action_kind::replicate);
  BOOST_TEST_REQUIRE(r.size() == 1u);
  BOOST_TEST(r[0].target == "10.0.0.7");
  BOOST_TEST(r[0].peer == id('c'));
  BOOST_TEST(r[0].reason.find("below heal.replicas_per_master") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rule1_never_replicates_a_master_that_is_down_or_may_be) {
  // c lost its replica f and is itself PFAIL (seen "fail?"), then FAIL: the empty node 7 goes
  // to a live master, never to c (it could not forget c later, and would follow it down).
  for (const char* seen : {"fail?", "fail"}) {
    auto w = three_by_one();
    w.nodes.erase(
        std::remove_if(w.nodes.begin(), w.nodes.end(), [](auto& n) { return n.name == 'f'; }),
        w.nodes.end());
    w.pods.pop_back();
    w.down = {'c'};
    w.seen_as['c'] = seen;
    w.add({'7', "10.0.0.7", "", "", 0, 0});
    auto plan = settled(w);
    for (const auto& r : of_kind(plan, heal_action_kind::replicate))
      BOOST_TEST(r.peer != id('c'), seen);
  }
}

BOOST_AUTO_TEST_CASE(rule1_ties_go_to_a_master_on_another_host) {
  auto w = three_by_one();
  w.add({'7', "10.0.0.7", "", "", 0, 0});
  for (auto& p : w.pods) p.host = "node-1";
  w.pod("pod-b").host = "node-2";
  auto plan = settled(w);
  auto r = of_kind(plan, heal_action_kind::replicate);
  BOOST_TEST_REQUIRE(r.size() == 1u);
  BOOST_TEST(r[0].peer == id('b'));
  BOOST_TEST(r[0].reason.find("spare") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rule1_a_master_without_slots_but_with_keys_is_left_alone) {
  auto w = three_by_one();
  w.add({'7', "10.0.0.7", "", "", 0, 3});
  auto plan = settled(w);
  BOOST_TEST(of_kind(plan, heal_action_kind::replicate).empty());
}

BOOST_AUTO_TEST_CASE(rule2_a_node_on_a_new_ip_is_met_there) {
  auto w = three_by_one();
  auto plan0 = settled(w);
  // b restarted on .9 with its nodes.conf: it answers there; the others still list .2.
  w.pod("pod-b").ip = "10.0.0.9";
  heal_observed o = w.observe();
  for (auto& v : o.views) {
    if (v.ip == "10.0.0.2") v.ip = "10.0.0.9";
  }
  auto plan = plan_heal(o, policy(), plan0.memory, t0 + 2h);
  BOOST_TEST(plan.holding);  // the change is new: only rules 1 and 2
  auto meets = of_kind(plan, heal_action_kind::meet);
  BOOST_TEST_REQUIRE(meets.size() == 1u);
  BOOST_TEST(meets[0].rule == 2);
  BOOST_TEST(meets[0].peer == "10.0.0.9");
  BOOST_TEST(meets[0].target != "10.0.0.9");
  BOOST_TEST(of_kind(plan, heal_action_kind::forget).empty());
}

BOOST_AUTO_TEST_CASE(rule2_every_pod_on_new_ips_at_once) {
  auto w = three_by_one();
  heal_observed o = w.observe();
  for (auto& p : o.pods) p.ip = "10.1." + p.ip.substr(5);  // 10.0.0.x -> 10.1.0.x
  for (auto& v : o.views) v.ip = "10.1." + v.ip.substr(5);
  auto plan = plan_heal(o, policy(), {}, t0);
  auto meets = of_kind(plan, heal_action_kind::meet);
  BOOST_TEST(meets.size() == 6u);
  std::set<std::string> peers;
  for (const auto& m : meets) peers.insert(m.peer);
  BOOST_TEST(peers.size() == 6u);
  BOOST_TEST(of_kind(plan, heal_action_kind::forget).empty());
}

// Past cluster-node-timeout every node is FAIL at its old address in everyone's view: the
// nodes still answer at their new IPs and introduce each other.
BOOST_AUTO_TEST_CASE(rule2_every_pod_on_new_ips_after_the_node_timeout) {
  auto w = three_by_one();
  for (char c : std::string("abcdef")) w.seen_as[c] = "fail";
  heal_observed o = w.observe();
  for (auto& p : o.pods) p.ip = "10.1." + p.ip.substr(5);
  for (auto& v : o.views) v.ip = "10.1." + v.ip.substr(5);
  auto plan = plan_heal(o, policy(), {}, t0);
  auto meets = of_kind(plan, heal_action_kind::meet);
  BOOST_TEST(meets.size() == 6u);
  for (const auto& m : meets) BOOST_TEST(m.target != m.peer);
  BOOST_TEST(of_kind(plan, heal_action_kind::forget).empty());
}

BOOST_AUTO_TEST_CASE(
    rule3_a_failed_replica_without_pod_is_forgotten_everywhere_after_forget_after) {
  auto w = three_by_one();
  w.down = {'f'};
  w.seen_as['f'] = "fail";
  w.pods.pop_back();                      // pod-f is gone
  auto early = settled(w, policy(), 9s);  // FAIL for 9 s < forget_after (10 s)
  BOOST_TEST(of_kind(early, heal_action_kind::forget).empty());
  BOOST_TEST(finding(early, "forgotten once it has been FAIL for heal.forget_after"));
  auto plan = settled(w, policy(), 10s);
  auto f = of_kind(plan, heal_action_kind::forget);
  BOOST_TEST(f.size() == 5u);  // every live node
  for (const auto& a : f) BOOST_TEST(a.peer == id('f'));
  BOOST_TEST(plan.memory.forgetting.count(id('f')) == 1u);
}

BOOST_AUTO_TEST_CASE(rule3_the_forget_is_retried_within_the_ban_on_nodes_that_missed_it) {
  auto w = three_by_one();
  w.down = {'f'};
  w.seen_as['f'] = "fail";
  w.pods.pop_back();
  auto plan = settled(w, policy(), 10s);
  // Four nodes forgot it; d missed it. Now only d lists f: no majority sees it FAIL any more.
  for (char n : {'a', 'b', 'c', 'e'}) w.forgot[n].insert('f');
  auto retry = plan_heal(w.observe(), policy(), plan.memory, t0 + 40s);
  auto f = of_kind(retry, heal_action_kind::forget);
  BOOST_TEST_REQUIRE(f.size() == 1u);
  BOOST_TEST(f[0].target == "10.0.0.4");
}

BOOST_AUTO_TEST_CASE(rule3_never_forget_a_node_a_pod_carries_or_a_minority_sees_failed) {
  {
    auto w = three_by_one();  // f failed but pod-f still exists at its IP (not answering)
    w.down = {'f'};
    w.seen_as['f'] = "fail";
    auto plan = settled(w);
    BOOST_TEST(of_kind(plan, heal_action_kind::forget).empty());
    BOOST_TEST(finding(plan, "carries it"));
  }
  {
    auto w = three_by_one();  // only a sees f failed
    w.down = {'f'};
    w.pods.pop_back();
    auto o = w.observe();
    for (auto& v : o.views) {
      if (v.ip != "10.0.0.1") continue;
      for (auto& l : v.nodes) {
        if (l.id == id('f')) l.flags.push_back("fail");
      }
    }
    auto first = plan_heal(o, policy(), {}, t0);
    auto plan = plan_heal(o, policy(), first.memory, t0 + 1h);
    BOOST_TEST(of_kind(plan, heal_action_kind::forget).empty());
  }
  {
    auto w = three_by_one();  // PFAIL only
    w.down = {'f'};
    w.seen_as['f'] = "fail?";
    w.pods.pop_back();
    BOOST_TEST(of_kind(settled(w), heal_action_kind::forget).empty());
  }
}

BOOST_AUTO_TEST_CASE(rule3_a_new_empty_node_at_the_old_ip_does_not_protect_the_old_id) {
  auto w = three_by_one();
  // pod-f lost its volume: at .6 now answers a new empty node 7; the old f is FAIL.
  w.down = {'f'};
  w.seen_as['f'] = "fail";
  w.add({'7', "10.0.0.6", "", "", 0, 0}, false);
  auto plan = settled(w, policy(), 10s);
  auto f = of_kind(plan, heal_action_kind::forget);
  BOOST_TEST(f.size() == 6u);  // five old nodes and the new one know f
  auto r = of_kind(plan, heal_action_kind::replicate);
  BOOST_TEST_REQUIRE(r.size() == 1u);
  BOOST_TEST(r[0].peer == id('c'));  // the master that lost its replica
}

BOOST_AUTO_TEST_CASE(rule3_a_failed_master_with_slots_is_never_forgotten) {
  auto w = three_by_one();
  w.down = {'c', 'f'};
  w.seen_as['c'] = "fail";
  w.seen_as['f'] = "fail";
  w.pods.pop_back();                 // pod-f
  w.pods.erase(w.pods.begin() + 2);  // pod-c
  auto plan = settled(w);
  for (const auto& a : of_kind(plan, heal_action_kind::forget)) BOOST_TEST(a.peer != id('c'));
}

BOOST_AUTO_TEST_CASE(rule4_a_lost_shard_is_reported_and_refilled_only_when_allowed) {
  auto w = three_by_one();
  w.down = {'c', 'f'};
  w.seen_as['c'] = "fail";
  w.seen_as['f'] = "fail";
  w.add({'7', "10.0.0.7", "", "", 0, 0});
  auto plan = settled(w);
  BOOST_TEST_REQUIRE(plan.lost_slots.size() == 1u);
  BOOST_TEST(plan.lost_slots[0].first == 10923);
  BOOST_TEST(plan.lost_slots[0].last == 16383);
  BOOST_TEST(finding(plan, "refill_from_backup is off"));
  BOOST_TEST(of_kind(plan, heal_action_kind::take_slots).empty());

  auto p = policy();
  p.refill_from_backup = true;
  // Their pods still exist (a restart with the volume may bring the data back): no refill.
  auto waiting = settled(w, p);
  BOOST_TEST(of_kind(waiting, heal_action_kind::take_slots).empty());
  BOOST_TEST(finding(waiting, "still carries its master"));
  // The pods are gone: the lost shard is refilled.
  w.pods.erase(std::remove_if(w.pods.begin(), w.pods.end(),
                              [](auto& pod) { return pod.name == "pod-c" || pod.name == "pod-f"; }),
               w.pods.end());
  auto refill = settled(w, p);
  auto take = of_kind(refill, heal_action_kind::take_slots);
  auto restore = of_kind(refill, heal_action_kind::restore_slots);
  BOOST_TEST_REQUIRE(take.size() == 1u);
  BOOST_TEST_REQUIRE(restore.size() == 1u);
  BOOST_TEST(take[0].target == "10.0.0.7");
  BOOST_TEST((take[0].slots == std::vector<kage::slot_range>{{10923, 16383}}));
  BOOST_TEST(of_kind(refill, heal_action_kind::replicate).empty());  // 7 is kept for the slots
}

BOOST_AUTO_TEST_CASE(rule4_a_replica_gone_with_its_pod_does_not_save_the_shard) {
  // Master c is FAIL; its replica f died with it (no answer, no pod) but is only PFAIL yet.
  auto w = three_by_one();
  w.down = {'c', 'f'};
  w.seen_as['c'] = "fail";
  w.seen_as['f'] = "fail?";
  w.pods.pop_back();                 // pod-f
  w.pods.erase(w.pods.begin() + 2);  // pod-c
  w.add({'7', "10.0.0.7", "", "", 0, 0});
  auto p = policy();
  p.refill_from_backup = true;
  auto plan = settled(w, p);
  BOOST_TEST_REQUIRE(plan.lost_slots.size() == 1u);
  BOOST_TEST(of_kind(plan, heal_action_kind::take_slots).size() == 1u);
  BOOST_TEST(of_kind(plan, heal_action_kind::replicate).empty());

  // The same replica with its pod still there (a slow restart): not lost, a failover may come.
  auto kept = three_by_one();
  kept.down = {'c', 'f'};
  kept.seen_as['c'] = "fail";
  kept.seen_as['f'] = "fail?";
  auto waiting = settled(kept, p);
  BOOST_TEST(waiting.lost_slots.empty());
}

BOOST_AUTO_TEST_CASE(rule4_an_empty_node_is_kept_while_a_master_is_in_doubt) {
  // Master c is PFAIL (a failover or a loss is coming): with refill on, the empty joined node 7
  // is not made a replica yet; with refill off it is.
  auto w = three_by_one();
  w.down = {'c'};
  w.seen_as['c'] = "fail?";
  w.add({'7', "10.0.0.7", "", "", 0, 0});
  auto p = policy();
  p.refill_from_backup = true;
  auto kept = settled(w, p);
  BOOST_TEST(of_kind(kept, heal_action_kind::replicate).empty());
  BOOST_TEST(finding(kept, "is kept empty to refill"));
  auto joined = settled(w);
  BOOST_TEST(of_kind(joined, heal_action_kind::replicate).size() == 1u);
}

BOOST_AUTO_TEST_CASE(rule4_a_failed_master_with_a_live_replica_is_a_failover_not_a_loss) {
  auto w = three_by_one();
  w.down = {'c'};
  w.seen_as['c'] = "fail";
  auto plan = settled(w);
  BOOST_TEST(plan.lost_slots.empty());
  BOOST_TEST(plan.holding);
  BOOST_TEST(finding(plan, "failover is under way"));
}

BOOST_AUTO_TEST_CASE(rule5_a_stuck_migration_is_finished_or_rolled_back) {
  auto w = three_by_one();
  w.node('a').slots = "0-5460 [100->-" + id('b') + "]";
  w.node('b').slots = "5461-10922 [100-<-" + id('a') + "]";
  auto early = settled(w, policy(), 9s);
  BOOST_TEST(of_kind(early, heal_action_kind::close_migration).empty());
  auto plan = settled(w, policy(), 10s);
  auto c = of_kind(plan, heal_action_kind::close_migration);
  BOOST_TEST_REQUIRE(c.size() == 1u);
  BOOST_TEST(c[0].finish);
  BOOST_TEST(c[0].source == id('a'));
  BOOST_TEST(c[0].peer == id('b'));
  BOOST_TEST(c[0].target == "10.0.0.1");

  w.node('a').slots = "0-5460";  // importing on b only
  auto one_end = settled(w, policy(), 10s);
  auto r = of_kind(one_end, heal_action_kind::close_migration);
  BOOST_TEST_REQUIRE(r.size() == 1u);
  BOOST_TEST(!r[0].finish);
}

world six_empty_pods() {
  world w;
  for (char n = '1'; n <= '6'; ++n) {
    w.add({n, std::string("10.0.0.") + n, "", "", 0, 0});
    for (char other = '1'; other <= '6'; ++other) {
      if (other != n) w.forgot[n].insert(other);
    }
  }
  return w;
}

BOOST_AUTO_TEST_CASE(rule6_bootstrap_only_over_empty_ready_pods) {
  auto p = policy();
  p.bootstrap = true;
  auto plan = settled(six_empty_pods(), p);
  auto c = of_kind(plan, heal_action_kind::create_cluster);
  BOOST_TEST_REQUIRE(c.size() == 1u);
  BOOST_TEST_REQUIRE(c[0].layout.size() == 6u);
  int slots = 0;
  std::map<std::string, int> replicas;
  for (const auto& n : c[0].layout) {
    for (const auto& r : n.slots) slots += r.last - r.first + 1;
    if (!n.replica_of.empty()) {
      BOOST_TEST(n.replica_of != n.ip);
      ++replicas[n.replica_of];
    }
  }
  BOOST_TEST(slots == 16384);
  BOOST_TEST(replicas.size() == 3u);
  BOOST_TEST(of_kind(plan, heal_action_kind::meet).empty());  // rule 1 waits for the cluster

  BOOST_TEST(settled(six_empty_pods()).actions.empty());  // bootstrap off
  for (int variant = 0; variant < 5; ++variant) {
    auto w = six_empty_pods();
    if (variant == 0) w.node('3').keys = 1;
    if (variant == 1) w.node('3').epoch = 4;
    if (variant == 2) w.forgot['3'].erase('4');  // knows a peer
    if (variant == 3) w.pod("pod-3").ready = false;
    if (variant == 4) w.pods.pop_back(), w.nodes.pop_back();  // 5 < 3 x 2
    auto none = settled(w, p);
    BOOST_TEST(of_kind(none, heal_action_kind::create_cluster).empty(), "variant " << variant);
  }
}

BOOST_AUTO_TEST_CASE(rule6_a_restarted_cluster_is_never_recreated) {
  auto p = policy();
  p.bootstrap = true;
  auto w = three_by_one();  // every node restarted with its nodes.conf
  BOOST_TEST(of_kind(settled(w, p), heal_action_kind::create_cluster).empty());
}

BOOST_AUTO_TEST_CASE(rule7_uncertainty_allows_only_rules_1_and_2) {
  auto base = three_by_one();
  base.down = {'f'};
  base.seen_as['f'] = "fail";
  base.pods.pop_back();
  {
    auto w = base;
    w.api_fresh = false;
    auto plan = settled(w);
    BOOST_TEST(plan.holding);
    BOOST_TEST(finding(plan, "pod list could not be read"));
    BOOST_TEST(of_kind(plan, heal_action_kind::forget).empty());
  }
  {
    auto w = base;
    w.seen_as['a'] = "fail?";  // a master suspected down
    auto plan = settled(w);
    BOOST_TEST(plan.holding);
    BOOST_TEST(of_kind(plan, heal_action_kind::forget).empty());
  }
  {
    auto w = base;  // 3 of 5 pods unready: a drain
    for (int i = 0; i < 3; ++i) w.pods[static_cast<std::size_t>(i)].ready = false;
    auto plan = settled(w);
    BOOST_TEST(plan.holding);
    BOOST_TEST(finding(plan, "not ready"));
    BOOST_TEST(of_kind(plan, heal_action_kind::forget).empty());
  }
}

BOOST_AUTO_TEST_CASE(rule7_at_most_max_actions_per_minute) {
  auto w = three_by_one();
  w.down = {'f'};
  w.seen_as['f'] = "fail";
  w.pods.pop_back();
  auto p = policy();
  p.max_actions_per_minute = 2;
  auto plan = settled(w, p, 10s);
  BOOST_TEST(plan.actions.size() == 2u);
  BOOST_TEST(finding(plan, "deferred"));
  auto next = plan_heal(w.observe(), p, plan.memory, t0 + 30s);
  BOOST_TEST(next.actions.empty());  // the two of 10 s ago still count
  auto later = plan_heal(w.observe(), p, plan.memory, t0 + 71s);
  BOOST_TEST(later.actions.size() == 2u);
}

BOOST_AUTO_TEST_CASE(describe_names_the_command_and_the_reason) {
  auto w = three_by_one();
  w.down = {'f'};
  w.seen_as['f'] = "fail";
  w.pods.pop_back();
  auto plan = settled(w, policy(), 10s);
  BOOST_TEST_REQUIRE(!plan.actions.empty());
  auto text = describe(plan.actions[0], 6379);
  BOOST_TEST(text.find("forget: 10.0.0.") == 0u);
  BOOST_TEST(text.find("CLUSTER FORGET " + id('f')) != std::string::npos);
  BOOST_TEST(text.find("rule 3") != std::string::npos);
}

// The healer's cache keeps k8s::keep_pod_essentials of each Pod: it must read as the whole Pod.
BOOST_AUTO_TEST_CASE(a_trimmed_pod_reads_as_the_whole_pod) {
  const auto whole = boost::json::parse(R"({"apiVersion":"v1","kind":"Pod",
    "metadata":{"name":"redis-3","namespace":"prod","uid":"u-3","managedFields":[{"a":1}],
                "labels":{"app":"redis","topology.kubernetes.io/zone":"eu-1b"},
                "deletionTimestamp":"2026-12-03T10:00:00Z"},
    "spec":{"nodeName":"node-7","containers":[{"name":"redis","image":"redis:7"}]},
    "status":{"phase":"Running","podIP":"10.1.2.3","hostIP":"192.168.0.7",
              "conditions":[{"type":"Initialized","status":"True"},{"type":"Ready","status":"True"},
                            {"type":"Ready","status":"False","lastProbeTime":null}, 7]}})");
  auto slim = whole;
  kage::k8s::keep_pod_essentials(slim);
  BOOST_TEST(boost::json::serialize(slim).size() < boost::json::serialize(whole).size());
  for (const auto& v : {whole, slim}) {
    const auto p = heal_pod_from(v);
    BOOST_TEST_REQUIRE(p.has_value());
    BOOST_TEST(p->name == "redis-3");
    BOOST_TEST(p->ip == "10.1.2.3");
    BOOST_TEST(!p->ready);  // the last Ready condition counts
    BOOST_TEST(p->deleting);
    BOOST_TEST(p->host == "node-7");
    BOOST_TEST(p->zone == "eu-1b");
  }
  BOOST_TEST(!heal_pod_from(boost::json::value(3)).has_value());
  std::vector<boost::json::value> items{whole, boost::json::value("x"), slim};
  BOOST_TEST(heal_pods_from(items).size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
