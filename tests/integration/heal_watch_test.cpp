// The healer as it runs: `kage heal` watching the pods on the fake API server while redis-server
// "pods" (one 127.0.0.x address each, one port, bind-source-addr set) restart on new IPs, scale
// up and down, pause. Each scenario ends with every node saying cluster_state:ok, every slot
// served, every node knowing every live node at its pod's IP, the DEBUG DIGEST of every shard
// equal to the start, and nothing unsafe done (the healer's JSON log and the Events it posted).
#include "heal_world.hpp"

using namespace kage::test;
using namespace kage::test::heal;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(heal_watch)

// Scenario 2: one pod (a master) restarts on a new IP with its nodes.conf. Redis 7 itself
// updates the address once the node reaches its peers; the healer must then do nothing unsafe
// (at most a MEET at the new address) and the cluster ends whole.
BOOST_AUTO_TEST_CASE(one_pod_restarts_on_a_new_ip) {
  world w;
  healer h(w);
  auto& moved = w.pods[1];
  const std::string id = world::id_of(*moved.server);
  std::this_thread::sleep_for(500ms);
  const auto t0 = steady::now();
  w.restart_on_new_ip(moved);
  wait_until(
      "the cluster agrees on the new IP", [&] { return w.settled(); }, 40s,
      [&] { return w.state() + h.output(); });
  BOOST_TEST_MESSAGE("scenario 2: healed (cluster_state:ok everywhere, every node knows the new "
                     << "IP) " << seconds_since(t0)
                     << " s after the pod event (cluster-node-timeout 2 s)");
  w.check_end("scenario 2");
  BOOST_TEST(world::id_of(*moved.server) == id);  // it kept its id
  for (const auto& line : h.done()) BOOST_TEST(contains(line, "meet: "), line);
  for (const auto& e : w.events()) BOOST_TEST(text(e.at("reason")) == "HealMeet");
  wait_until(
      "the metrics show a healthy cluster",
      [&] {
        return h.metric("kage_cluster_state_ok") == 1 &&
               h.metric("kage_cluster_slots_covered") == 16384 &&
               h.metric("kage_heal_last_success_timestamp_seconds") > 0 &&
               h.metric("kage_heal_leader") == 1;
      },
      20s, [&] { return h.metrics(); });
}

// Scenario 3: every pod restarts on a new IP at once: no node can reach another at the
// addresses its nodes.conf lists. The dry run explains the MEETs; the healer then makes them.
BOOST_AUTO_TEST_CASE(every_pod_restarts_on_new_ips_at_once) {
  world w;
  const auto t0 = steady::now();
  for (auto& p : w.pods) w.set_pod(p, p.server->host(), false);
  for (auto& p : w.pods) p.server->kill();
  for (auto& p : w.pods) p.server->restart_at(w.new_ip());
  for (auto& p : w.pods) w.set_pod(p, p.server->host(), true);

  const std::vector<std::string> base{
      "heal",         "--pods",     "app=redis",    "--namespace",          "default",
      "--kubeconfig", w.kubeconfig, "--redis-port", std::to_string(w.port), "--dry-run"};
  auto with_json = base;
  with_json.push_back("--json");
  auto dry = run_kage(with_json);
  BOOST_TEST_REQUIRE(dry.exit_code == 0, describe(dry));
  auto plan = json_result(dry);
  const auto& actions = plan.at("actions").as_array();
  BOOST_TEST(actions.size() == 6u, describe(dry));
  std::set<std::string> peers;
  for (const auto& a : actions) {
    BOOST_TEST(text(a.at("action")) == "meet");
    BOOST_TEST(a.at("rule").as_int64() == 2);
    BOOST_TEST(text(a.at("result")) == "planned");
    BOOST_TEST(contains(text(a.at("reason")), "keeps its id, role and slots"), describe(dry));
    peers.insert(text(a.at("peer")));
  }
  for (auto& p : w.pods) BOOST_TEST(peers.count(p.server->host()) == 1u, p.server->host());
  auto dry_text = run_kage(base);
  BOOST_TEST(contains(dry_text.out, "planned: meet: "), dry_text.out);
  BOOST_TEST(contains(dry_text.out, "CLUSTER MEET " + w.pods[3].server->host()), dry_text.out);
  BOOST_TEST(contains(dry_text.out, "(rule 2: pod redis-3 carries node"), dry_text.out);

  healer h(w);
  wait_until(
      "the cluster agrees on six new IPs", [&] { return w.settled(); }, 60s,
      [&] { return w.state() + h.output(); });
  BOOST_TEST_MESSAGE("scenario 3: cluster_state:ok everywhere "
                     << seconds_since(t0)
                     << " s after the pod events, dry runs included (cluster-node-timeout 2 s)");
  w.check_end("scenario 3");
  const auto done = h.done();
  BOOST_TEST(count_with(done, "FORGET") == 0u, h.output());
  BOOST_TEST(count_with(done, "CLUSTER MEET") >= 1u, h.output());
  bool event = false;
  for (const auto& e : w.events()) {
    BOOST_TEST(text(e.at("reason")) != "HealForget");
    event = event || text(e.at("reason")) == "HealMeet";
  }
  BOOST_TEST(event, "no HealMeet Event");
  wait_until(
      "the metrics count the MEETs",
      [&] { return h.metric("kage_heal_actions_total{action=\"meet\"}") >= 1; }, 20s,
      [&] { return h.metrics(); });
}

// Scenario 6: two empty pods join as replicas.
BOOST_AUTO_TEST_CASE(scale_up_by_two) {
  world w;
  healer h(w);
  std::this_thread::sleep_for(500ms);
  const auto t0 = steady::now();
  auto& a = w.add_pod(w.new_ip());
  auto& b = w.add_pod(w.new_ip());
  wait_until(
      "the new pods are replicas",
      [&] { return !world::is_master(*a.server) && !world::is_master(*b.server) && w.settled(); },
      60s, [&] { return w.state() + h.output(); });
  BOOST_TEST_MESSAGE("scenario 6: both new pods are replicas, cluster_state:ok, "
                     << seconds_since(t0) << " s after the pod events");
  w.check_end("scenario 6");
  auto done = h.done();
  BOOST_TEST(count_with(done, "FORGET") == 0u, h.output());
  BOOST_TEST(count_with(done, "REPLICATE") == 2u, h.output());
}

// Scenario 7: two replicas' pods are deleted: their ids are forgotten on every node, only
// after they have been FAIL for forget_after, and nothing else is.
BOOST_AUTO_TEST_CASE(scale_down_by_two) {
  world w;
  healer h(w);
  std::vector<pod*> victims;
  for (auto* p : w.live())
    if (!world::is_master(*p->server) && victims.size() < 2) victims.push_back(p);
  BOOST_TEST_REQUIRE(victims.size() == 2u);
  std::set<std::string> ids;
  for (auto* p : victims) ids.insert(world::id_of(*p->server));
  std::this_thread::sleep_for(500ms);
  const auto t0 = steady::now();
  for (auto* p : victims) w.delete_pod(*p);
  wait_until(
      "the deleted pods' nodes are forgotten", [&] { return w.settled(); }, 60s,
      [&] { return w.state() + h.output(); });
  BOOST_TEST_MESSAGE("scenario 7: four nodes, cluster_state:ok, " << seconds_since(t0)
                                                                  << " s after the deletes");
  w.check_end("scenario 7");
  const auto done = h.done();
  for (const auto& line : done) {
    if (line.find("FORGET") == std::string::npos) continue;
    bool of_victim = false;
    for (const auto& id : ids) of_victim = of_victim || line.find(id) != std::string::npos;
    BOOST_TEST(of_victim, "forgot a node that was not deleted: " << line);
  }
  BOOST_TEST(count_with(done, "FORGET") >= 8u, h.output());  // 2 ids x 4 nodes
}

// Scenario 1: a master dies; once its replica has been promoted it comes back as a pod on a new
// IP with its nodes.conf and rejoins as a replica. Nothing is forgotten.
BOOST_AUTO_TEST_CASE(a_master_dies_and_comes_back_on_a_new_ip) {
  world w;
  healer h(w);
  auto& m = w.pods[0];
  const std::string id = world::id_of(*m.server);
  pod* replica = nullptr;
  for (auto* p : w.live()) {
    auto words = words_of(world::myself(*p->server));
    if (words.size() > 3 && words[3] == id) replica = p;
  }
  BOOST_TEST_REQUIRE(replica != nullptr);
  std::this_thread::sleep_for(500ms);
  const auto t0 = steady::now();
  w.set_pod(m, m.server->host(), false);
  m.server->kill();
  wait_until(
      "its replica is promoted", [&] { return world::is_master(*replica->server); }, 30s,
      [&] { return w.state(); });
  const auto t1 = steady::now();
  const double failover = std::chrono::duration<double>(t1 - t0).count();
  m.server->restart_at(w.new_ip());
  w.set_pod(m, m.server->host(), true);
  wait_until(
      "the old master rejoins", [&] { return w.settled(); }, 60s,
      [&] { return w.state() + h.output(); });
  BOOST_TEST_MESSAGE("scenario 1: cluster_state:ok again (replica promoted) "
                     << failover << " s after the master died; healed (rejoined as a replica) "
                     << seconds_since(t1)
                     << " s after its pod came back on a new IP (cluster-node-timeout 2 s)");
  w.check_end("scenario 1");
  BOOST_TEST(!world::is_master(*m.server), "the old master should now be a replica");
  BOOST_TEST(world::id_of(*m.server) == id);
  BOOST_TEST(count_with(h.done(), "FORGET") == 0u, h.output());
}

// Scenario 8: a master paused shorter than cluster-node-timeout: nothing is done. Longer: Redis
// fails it over, the healer forgets nothing while its pod exists, and after SIGCONT it is a
// replica.
BOOST_AUTO_TEST_CASE(a_master_paused_shorter_and_longer_than_the_node_timeout) {
  world w;
  healer h(w);
  auto& m = w.pods[2];
  BOOST_TEST_REQUIRE(world::is_master(*m.server));
  std::this_thread::sleep_for(1s);
  m.server->kill(SIGSTOP);
  std::this_thread::sleep_for(1s);
  m.server->kill(SIGCONT);
  std::this_thread::sleep_for(3s);
  BOOST_TEST(h.done().empty(), h.output());
  BOOST_TEST(world::is_master(*m.server));
  BOOST_TEST(w.settled(), w.state());

  const auto t0 = steady::now();
  m.server->kill(SIGSTOP);
  std::this_thread::sleep_for(6s);
  m.server->kill(SIGCONT);
  wait_until(
      "the paused master is back as a replica",
      [&] { return !world::is_master(*m.server) && w.settled(); }, 40s,
      [&] { return w.state() + h.output(); });
  BOOST_TEST_MESSAGE("scenario 8: cluster_state:ok everywhere " << seconds_since(t0)
                                                                << " s after a 6 s pause");
  w.check_end("scenario 8");
  BOOST_TEST(count_with(h.done(), "FORGET") == 0u, h.output());
}

// Scenario 13: three healers at once: only the Lease holder acts; when it dies another takes
// over within the lease duration and heals the next change.
BOOST_AUTO_TEST_CASE(three_healers_only_the_lease_holder_acts) {
  world w;
  temp_dir dir("heal-lease");
  const auto config = write_config(dir, "heal:\n  lease_duration_seconds: 3\n");
  std::vector<std::unique_ptr<healer>> hs;
  for (int i = 0; i < 3; ++i) {
    hs.push_back(std::make_unique<healer>(
        w, std::vector<std::string>{"--config", config, "--lease", "on", "--identity",
                                    "healer-" + std::to_string(i)}));
  }
  int dead = -1;
  auto holders = [&] {
    std::vector<int> out;
    for (int i = 0; i < 3; ++i)
      if (i != dead && hs[static_cast<std::size_t>(i)]->proc.running() &&
          hs[static_cast<std::size_t>(i)]->leads())
        out.push_back(i);
    return out;
  };
  wait_until(
      "one healer holds the lease", [&] { return holders().size() == 1u; }, 20s,
      [&] { return hs[0]->output() + hs[1]->output() + hs[2]->output(); });
  const int first = holders()[0];
  const std::string first_id = "healer-" + std::to_string(first);

  auto& a = w.add_pod(w.new_ip());
  wait_until(
      "the new pod is a replica", [&] { return !world::is_master(*a.server) && w.settled(); }, 40s,
      [&] { return w.state() + hs[static_cast<std::size_t>(first)]->output(); });
  for (int i = 0; i < 3; ++i) {
    if (i != first) BOOST_TEST(hs[static_cast<std::size_t>(i)]->done().empty());
  }
  BOOST_TEST(holders().size() == 1u);
  for (const auto& e : w.events()) {
    BOOST_TEST(text(e.at("source").at("host")) == first_id, json::serialize(e));
  }

  // The holder dies without releasing the Lease: another takes over after the lease duration.
  const auto t0 = steady::now();
  hs[static_cast<std::size_t>(first)]->proc.kill(SIGKILL);
  dead = first;
  wait_until(
      "another healer takes the lease", [&] { return holders().size() == 1u; }, 15s);
  const double takeover = seconds_since(t0);
  const int second = holders()[0];
  BOOST_TEST(second != first);
  BOOST_TEST_MESSAGE("scenario 13: healer-" << second << " took the lease " << takeover
                                            << " s after the holder died (lease 3 s)");
  BOOST_TEST(takeover < 3.0 + 3.0);
  auto& b = w.add_pod(w.new_ip());
  wait_until(
      "the next new pod is a replica", [&] { return !world::is_master(*b.server) && w.settled(); },
      40s, [&] { return w.state() + hs[static_cast<std::size_t>(second)]->output(); });
  w.check_end("scenario 13");
  for (int i = 0; i < 3; ++i) {
    if (i != first && i != second) BOOST_TEST(hs[static_cast<std::size_t>(i)]->done().empty());
  }
}

// Scenario 12: the watch gets 410 Gone and the API server restarts while a pod moves: the
// healer lists again, holds still while the pod list is stale, and heals once it is fresh.
BOOST_AUTO_TEST_CASE(the_watch_expires_and_the_api_server_restarts_mid_heal) {
  world w;
  temp_dir dir("heal-stale");
  const auto config = write_config(dir, "heal:\n  api_stale_after_seconds: 1\n");
  healer h(w, {"--config", config});
  wait_until(
      "the healer has listed the pods", [&] { return h.metric("kage_heal_api_fresh") == 1; }, 20s,
      [&] { return h.output(); });
  w.kube.control("compact");  // every watch ends with 410 Gone
  auto& moved = w.pods[4];
  const auto t0 = steady::now();
  w.kube.control("stop_api");
  w.restart_on_new_ip(moved);  // the healer cannot see this until the API server is back
  wait_until(
      "the healer says its pod list is stale",
      [&] { return contains(h.proc.err(), "the pod list may be stale"); }, 20s,
      [&] { return h.output(); });
  BOOST_TEST(count_with(h.done(), "FORGET") == 0u, h.output());
  w.kube.control("start_api");
  wait_until(
      "the cluster agrees on the new IP", [&] { return w.settled(); }, 60s,
      [&] { return w.state() + h.output(); });
  BOOST_TEST_MESSAGE("scenario 12: cluster_state:ok everywhere "
                     << seconds_since(t0)
                     << " s after the pod event "
                        "(the API server was down meanwhile)");
  w.check_end("scenario 12");
  BOOST_TEST(count_with(h.done(), "FORGET") == 0u, h.output());
  const bool relisted = contains(h.proc.err(), "listing again");
  BOOST_TEST(relisted, h.output());
}

// kage run with heal.enabled: the healer runs beside the scheduler (a pod joins as a replica)
// and, holding the Lease, this instance takes the scheduled backups.
BOOST_AUTO_TEST_CASE(kage_run_heals_with_the_heal_section) {
  world w;
  temp_dir dir("heal-run");
  const auto store = dir.file("backups");
  const auto config =
      write_config(dir,
                   "heal:\n  enabled: true\n  lease: on\n  lease_duration_seconds: 3\n"
                   "  redis_port: " +
                       std::to_string(w.port) +
                       "\n  interval_seconds: 2\n"
                       "k8s:\n  pod_selector: app=redis\n  namespace: default\n");
  background_process run;
  run.start({kage_binary(), "run", "--config", config, "--every", "2", "--node",
             w.pods[0].server->address(), "--to", store, "--log-format", "json"},
            {{"KUBECONFIG", w.kubeconfig}, {"POD_NAME", "kage-run-0"}});
  wait_until(
      "kage run holds the lease", [&] { return contains(run.err(), "holds the lease"); }, 20s,
      [&] { return run.err(); });
  auto& a = w.add_pod(w.new_ip());
  wait_until(
      "the new pod is a replica", [&] { return !world::is_master(*a.server) && w.settled(); }, 40s,
      [&] { return w.state() + run.err(); });
  wait_until(
      "a scheduled backup is written", [&] { return !backup_ids(store).empty(); }, 30s,
      [&] { return run.err(); });
  bool event = false;
  for (const auto& e : w.events()) event = event || text(e.at("source").at("host")) == "kage-run-0";
  BOOST_TEST(event, "no Event from kage run");
  run.kill(SIGTERM);
  auto done = run.wait(30s);
  BOOST_TEST(done.exit_code == 0, run.err());
}

BOOST_AUTO_TEST_SUITE_END()
