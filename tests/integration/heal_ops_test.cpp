// The healer's multi-step and address scenarios against real redis-server "pods" and the fake
// API server (the world of heal_world.hpp): bootstrap (scenario 15), stuck migrations
// (scenario 10), a master left with no slots (scenario 11), two pods swapping IPs (scenario 4).
// Each ends with every node saying cluster_state:ok, every slot served, every node knowing
// every live node at its pod's IP, no key lost, and nothing unsafe in the healer's log.
#include "heal_world.hpp"

#include <filesystem>

using namespace kage::test;
using namespace kage::test::heal;
using namespace std::chrono_literals;

namespace {

// Masters' keys in all: with a replica each, the keys of the cluster.
std::uint64_t cluster_keys(world& w) {
  std::uint64_t n = 0;
  for (auto* p : w.live()) {
    if (world::is_master(*p->server)) n += std::stoull(p->server->cli({"DBSIZE"}));
  }
  return n;
}

// The key's value read through the cluster (following MOVED and ASK).
std::string get(world& w, const std::string& key) {
  auto r = w.pods[0].server->cli_result({"-c", "GET", key});
  auto out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

bool any_open_slot(world& w) {
  for (auto* p : w.live()) {
    if (contains(p->server->cli({"CLUSTER", "NODES"}), "[")) return true;
  }
  return false;
}

pod* pod_at(world& w, const std::string& ip) {
  for (auto* p : w.live())
    if (p->server->host() == ip) return p;
  return nullptr;
}

// The pod of the master serving `slot`.
pod* owner_of(world& w, int slot) {
  for (const auto& line : lines_of(w.pods[0].server->cli({"CLUSTER", "NODES"}))) {
    auto f = words_of(line);
    if (f.size() < 9 || f[2].find("master") == std::string::npos) continue;
    for (std::size_t i = 8; i < f.size(); ++i) {
      const auto dash = f[i].find('-');
      if (f[i][0] == '[') continue;
      const int first = std::stoi(f[i].substr(0, dash));
      const int last = dash == std::string::npos ? first : std::stoi(f[i].substr(dash + 1));
      if (slot >= first && slot <= last) return pod_at(w, f[1].substr(0, f[1].find(':')));
    }
  }
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(heal_ops)

// Scenario 15: six empty pods; with --bootstrap the healer creates the cluster (3 masters, a
// replica each), once. After every pod restarts on a new IP it is healed, never re-created.
BOOST_AUTO_TEST_CASE(bootstrap_of_six_empty_pods_then_all_restarted) {
  world w(false);
  const std::vector<std::string> dry{"heal",        "--pods",       "app=redis",
                                     "--namespace", "default",      "--kubeconfig",
                                     w.kubeconfig,  "--redis-port", std::to_string(w.port),
                                     "--dry-run",   "--json"};
  auto without = run_kage(dry);
  BOOST_TEST_REQUIRE(without.exit_code == 0, describe(without));
  BOOST_TEST(json_result(without).at("actions").as_array().empty(), describe(without));
  // A one-shot plan has not seen the view still for cluster-node-timeout: it holds (rule 7)
  // and says what rule 6 will do once it is.
  auto with_flag = dry;
  with_flag.push_back("--bootstrap");
  auto planned = run_kage(with_flag);
  BOOST_TEST_REQUIRE(planned.exit_code == 0, describe(planned));
  const auto plan = json_result(planned);
  BOOST_TEST(plan.at("actions").as_array().empty(), describe(planned));
  bool explained = false;
  for (const auto& f : plan.at("findings").as_array()) {
    explained = explained || (contains(text(f), "create-cluster: ") &&
                              contains(text(f), "(rule 6: heal.bootstrap is on") &&
                              contains(text(f), "Ready and empty"));
  }
  BOOST_TEST(explained, describe(planned));
  const auto plain = json_result(without);
  for (const auto& f : plain.at("findings").as_array())
    BOOST_TEST(!contains(text(f), "create-cluster"), describe(without));

  const auto t0 = steady::now();
  healer h(w, {"--bootstrap"});
  wait_until(
      "the cluster is created", [&] { return w.settled(); }, 60s,
      [&] { return w.state() + h.output(); });
  BOOST_TEST_MESSAGE("scenario 15: cluster_state:ok everywhere " << seconds_since(t0)
                                                                 << " s after the healer started");
  std::size_t masters = 0;
  for (auto* p : w.live()) masters += world::is_master(*p->server) ? 1 : 0;
  BOOST_TEST(masters == 3u, w.state());
  BOOST_TEST(count_with(h.done(), "create-cluster: ") == 1u, h.output());
  for (int k = 0; k < 100; ++k) {
    w.pods[0].server->cli({"-c", "SET", "boot:" + std::to_string(k), std::to_string(k)});
  }
  wait_until(
      "the replicas hold every key", [&] { return w.replicas_synced(); }, 30s);
  std::map<std::string, std::string> ids;
  for (auto& p : w.pods) ids[p.name] = world::id_of(*p.server);

  for (auto& p : w.pods) w.set_pod(p, p.server->host(), false);
  for (auto& p : w.pods) p.server->kill();
  for (auto& p : w.pods) p.server->restart_at(w.new_ip());
  for (auto& p : w.pods) w.set_pod(p, p.server->host(), true);
  wait_until(
      "the restarted cluster is whole", [&] { return w.settled(); }, 60s,
      [&] { return w.state() + h.output(); });
  for (auto& p : w.pods) BOOST_TEST(world::id_of(*p.server) == ids[p.name], p.name);
  BOOST_TEST(cluster_keys(w) == 100u);
  BOOST_TEST(count_with(h.done(), "create-cluster: ") == 1u, h.output());
  BOOST_TEST(count_with(h.done(), "FORGET") == 0u, h.output());
}

// Scenario 10: two slots left open by interrupted migrations. Slot a: MIGRATING on its owner
// and IMPORTING on another master, half its keys moved: the healer finishes the move. Slot b:
// IMPORTING on another master only, with a key written there under ASKING: the healer moves
// the key back to the owner and closes the slot. No key is lost.
BOOST_AUTO_TEST_CASE(open_slots_of_an_interrupted_migration_are_closed) {
  world w;
  for (int k = 0; k < 20; ++k) {
    w.pods[0].server->cli({"-c", "SET", "{moving}:" + std::to_string(k), std::to_string(k)});
  }
  const int a = std::stoi(w.pods[0].server->cli({"CLUSTER", "KEYSLOT", "{moving}"}));
  const int b = std::stoi(w.pods[0].server->cli({"CLUSTER", "KEYSLOT", "{back}"}));
  pod* owner_a = owner_of(w, a);
  pod* owner_b = owner_of(w, b);
  BOOST_TEST_REQUIRE(owner_a != nullptr);
  BOOST_TEST_REQUIRE(owner_b != nullptr);
  pod* peer_a = nullptr;
  pod* peer_b = nullptr;
  for (auto* p : w.live()) {
    if (!world::is_master(*p->server)) continue;
    if (p != owner_a && !peer_a) peer_a = p;
    if (p != owner_b && !peer_b) peer_b = p;
  }
  BOOST_TEST_REQUIRE((peer_a && peer_b));
  const auto sa = std::to_string(a);
  const auto sb = std::to_string(b);
  peer_a->server->cli({"CLUSTER", "SETSLOT", sa, "IMPORTING", world::id_of(*owner_a->server)});
  owner_a->server->cli({"CLUSTER", "SETSLOT", sa, "MIGRATING", world::id_of(*peer_a->server)});
  std::vector<std::string> migrate{
      "MIGRATE", peer_a->server->host(), std::to_string(w.port), "", "0", "5000", "KEYS"};
  for (int k = 0; k < 10; ++k) migrate.push_back("{moving}:" + std::to_string(k));
  owner_a->server->cli(migrate);
  peer_b->server->cli({"CLUSTER", "SETSLOT", sb, "IMPORTING", world::id_of(*owner_b->server)});
  auto asked = peer_b->server->cli_result({}, std::nullopt, "ASKING\nSET {back}:1 one\n");
  BOOST_TEST_REQUIRE(asked.exit_code == 0, asked.err);
  BOOST_TEST_REQUIRE(peer_b->server->cli({"CLUSTER", "COUNTKEYSINSLOT", sb}) == "1\n");
  const auto keys_before = cluster_keys(w);
  BOOST_TEST_REQUIRE(keys_before == 321u);  // 300 + 20 + 1

  temp_dir dir("heal-migration");
  const auto config = write_config(dir, "heal:\n  stuck_migration_after_seconds: 2\n");
  const auto t0 = steady::now();
  healer h(w, {"--config", config});
  wait_until(
      "both slots are closed", [&] { return !any_open_slot(w) && w.settled(); }, 60s,
      [&] { return w.state() + h.output(); });
  BOOST_TEST_MESSAGE("scenario 10: both slots closed, cluster_state:ok, " << seconds_since(t0)
                                                                          << " s");
  BOOST_TEST(cluster_keys(w) == keys_before, w.state());
  for (int k = 0; k < 20; ++k)
    BOOST_TEST(get(w, "{moving}:" + std::to_string(k)) == std::to_string(k));
  BOOST_TEST(get(w, "{back}:1") == "one");
  BOOST_TEST(owner_of(w, a) == peer_a, "slot a was handed to its importer");
  BOOST_TEST(owner_of(w, b) == owner_b, "slot b stays with its owner");
  BOOST_TEST(peer_b->server->cli({"CLUSTER", "COUNTKEYSINSLOT", sb}) == "0\n");
  BOOST_TEST(count_with(h.done(), "close-migration: ") == 2u, h.output());
  BOOST_TEST(count_with(h.done(), "FORGET") == 0u, h.output());
}

// Scenario 11: a master with no slots (an empty node someone MEETed by hand) is made a replica
// of the master with the fewest replicas.
BOOST_AUTO_TEST_CASE(a_master_left_with_no_slots_is_made_a_replica) {
  world w;
  auto& extra = w.add_pod(w.new_ip());
  w.pods[0].server->cli({"CLUSTER", "MEET", extra.server->host(), std::to_string(w.port)});
  wait_until(
      "the slotless master is known everywhere", [&] { return w.settled(); }, 30s,
      [&] { return w.state(); });
  BOOST_TEST_REQUIRE(world::is_master(*extra.server));

  auto dry = run_kage({"heal", "--pods", "app=redis", "--namespace", "default", "--kubeconfig",
                       w.kubeconfig, "--redis-port", std::to_string(w.port), "--dry-run"});
  BOOST_TEST(dry.exit_code == 0, describe(dry));
  BOOST_TEST(contains(dry.out, "CLUSTER REPLICATE"), dry.out);

  healer h(w);
  wait_until(
      "it is a replica", [&] { return !world::is_master(*extra.server) && w.settled(); }, 40s,
      [&] { return w.state() + h.output(); });
  w.check_end("scenario 11");
  BOOST_TEST(count_with(h.done(), "REPLICATE") == 1u, h.output());
  BOOST_TEST(count_with(h.done(), "MEET") == 0u, h.output());
}

// Scenario 4: two pods swap IPs (both down, each back at the other's address with its
// nodes.conf). Every node ends knowing each id at its new address; nothing is forgotten.
BOOST_AUTO_TEST_CASE(two_pods_swap_ips) {
  world w;
  healer h(w);
  auto& x = w.pods[1];
  auto& y = w.pods[4];
  const std::string x_ip = x.server->host();
  const std::string y_ip = y.server->host();
  const std::string x_id = world::id_of(*x.server);
  const std::string y_id = world::id_of(*y.server);
  std::this_thread::sleep_for(500ms);
  const auto t0 = steady::now();
  w.set_pod(x, x_ip, false);
  w.set_pod(y, y_ip, false);
  x.server->kill();
  y.server->kill();
  x.server->restart_at(y_ip);
  y.server->restart_at(x_ip);
  w.set_pod(x, y_ip, true);
  w.set_pod(y, x_ip, true);
  wait_until(
      "the cluster agrees on the swapped IPs", [&] { return w.settled(); }, 60s,
      [&] { return w.state() + h.output(); });
  BOOST_TEST_MESSAGE("scenario 4: cluster_state:ok everywhere " << seconds_since(t0)
                                                                << " s after the swap");
  w.check_end("scenario 4");
  BOOST_TEST(world::id_of(*x.server) == x_id);
  BOOST_TEST(world::id_of(*y.server) == y_id);
  for (const auto& line : lines_of(w.pods[0].server->cli({"CLUSTER", "NODES"}))) {
    if (line.rfind(x_id, 0) == 0) BOOST_TEST(contains(line, y_ip + ":"), line);
    if (line.rfind(y_id, 0) == 0) BOOST_TEST(contains(line, x_ip + ":"), line);
  }
  BOOST_TEST(count_with(h.done(), "FORGET") == 0u, h.output());
}

// Scenario 5: a master's pod loses its volume and comes back as a new, empty node on a new IP.
// Redis promotes its replica; the old id is forgotten only once it is FAIL, and on every node;
// the new node becomes the replica that master now lacks. No key is lost.
BOOST_AUTO_TEST_CASE(a_pod_loses_its_volume) {
  world w;
  healer h(w);
  auto& m = w.pods[0];
  BOOST_TEST_REQUIRE(world::is_master(*m.server));
  const std::string old_id = world::id_of(*m.server);
  pod* replica = nullptr;
  for (auto* p : w.live()) {
    auto f = words_of(world::myself(*p->server));
    if (f.size() > 3 && f[3] == old_id) replica = p;
  }
  BOOST_TEST_REQUIRE(replica != nullptr);
  std::this_thread::sleep_for(500ms);
  const auto t0 = steady::now();
  w.set_pod(m, m.server->host(), false);
  m.server->kill();
  for (const char* data : {"nodes.conf", "appendonlydir", "dump.rdb"})
    std::filesystem::remove_all(std::filesystem::path(m.server->dir()) / data);
  m.server->restart_at(w.new_ip());
  const std::string new_id = world::id_of(*m.server);
  BOOST_TEST_REQUIRE(new_id != old_id);
  w.set_pod(m, m.server->host(), true);
  wait_until(
      "its replica is promoted", [&] { return world::is_master(*replica->server); }, 30s,
      [&] { return w.state(); });
  const double failover = seconds_since(t0);
  wait_until(
      "the old id is forgotten and the new node is a replica",
      [&] { return !world::is_master(*m.server) && w.settled(); }, 60s,
      [&] { return w.state() + h.output(); });
  BOOST_TEST_MESSAGE("scenario 5: cluster_state:ok again (replica promoted) "
                     << failover << " s after the pod lost its volume; healed (old id forgotten "
                     << "on every node, the new node a replica) " << seconds_since(t0)
                     << " s (cluster-node-timeout 2 s, heal.forget_after 4 s)");
  w.check_end("scenario 5");
  const auto done = h.done();
  for (const auto& line : done) {
    if (contains(line, "FORGET")) BOOST_TEST(contains(line, old_id), line);
  }
  BOOST_TEST(count_with(done, "FORGET") >= 5u, h.output());  // on every other node
  BOOST_TEST(count_with(done, "REPLICATE") == 1u, h.output());
  // Forgotten only after FAIL: each FORGET says so (the planner's tables test the timing).
  for (const auto& line : done) {
    if (contains(line, "FORGET"))
      BOOST_TEST(contains(line, "is FAIL for a majority of masters for longer than"), line);
  }
}

// Scenario 9: a whole shard (master and replica pods) is lost. With --refill-from-backup an
// empty pod joins, takes exactly the lost slots and gets their keys back from the newest
// backup: the shard's DEBUG DIGEST equals the one at the backup.
BOOST_AUTO_TEST_CASE(a_lost_shard_is_refilled_from_a_backup) {
  world w;
  temp_dir store("heal-refill");
  auto backup =
      run_kage({"backup", "--node", w.pods[0].server->address(), "--to", store.path(), "--json"});
  BOOST_TEST_REQUIRE(backup.exit_code == 0, describe(backup));
  pod* master = nullptr;
  pod* replica = nullptr;
  for (auto* p : w.live()) {
    if (!world::is_master(*p->server) || master) continue;
    master = p;
  }
  BOOST_TEST_REQUIRE(master != nullptr);
  const std::string master_id = world::id_of(*master->server);
  for (auto* p : w.live()) {
    auto f = words_of(world::myself(*p->server));
    if (f.size() > 3 && f[3] == master_id) replica = p;
  }
  BOOST_TEST_REQUIRE(replica != nullptr);
  const std::string replica_id = world::id_of(*replica->server);

  healer h(w, {"--refill-from-backup", "--from", store.path()});
  std::this_thread::sleep_for(500ms);
  const auto t0 = steady::now();
  w.delete_pod(*master);
  w.delete_pod(*replica);
  auto& fresh = w.add_pod(w.new_ip());
  wait_until(
      "the nodes see the shard lost", [&] { return !w.state_ok(); }, 30s,
      [&] { return w.state(); });
  wait_until(
      "cluster_state:ok again", [&] { return w.state_ok(); }, 90s,
      [&] { return w.state() + h.output(); });
  const double ok = seconds_since(t0);
  wait_until(
      "the dead ids are forgotten", [&] { return w.settled(); }, 60s,
      [&] { return w.state() + h.output(); });
  BOOST_TEST_MESSAGE("scenario 9: cluster_state:ok again (slots taken, keys restored) "
                     << ok << " s after both pods of a shard were deleted; healed (dead ids "
                     << "forgotten) " << seconds_since(t0) << " s (cluster-node-timeout 2 s)");
  BOOST_TEST(world::is_master(*fresh.server));
  w.check_end("scenario 9");
  const auto done = h.done();
  BOOST_TEST(count_with(done, "take-slots: ") == 1u, h.output());
  BOOST_TEST(count_with(done, "restore-slots: ") == 1u, h.output());
  BOOST_TEST(count_with(done, "keys of slots") == 1u, h.output());
  for (const auto& line : done) {
    if (contains(line, "FORGET"))
      BOOST_TEST((contains(line, master_id) || contains(line, replica_id)), line);
  }
}

// Scenario 12 (the rest of it): the service-account token rotates while the healer watches,
// every watch then ends (410), and the healer is killed mid-heal and started again. The token
// file is read again after the 401, the pods are listed again, and the restarted healer
// finishes the heal: nothing is forgotten, the cluster ends whole.
BOOST_AUTO_TEST_CASE(token_rotation_and_a_healer_restarted_mid_heal) {
  world w;
  temp_dir dir("heal-token");
  const std::string token_file = dir.file("token");
  write_file(token_file, "test-token\n");
  w.kubeconfig = w.kube.write_kubeconfig("kc-file", R"("tokenFile": ")" + token_file + "\"");
  auto first = std::make_unique<healer>(w);
  wait_until(
      "the healer has listed the pods", [&] { return first->metric("kage_heal_api_fresh") == 1; },
      20s, [&] { return first->output(); });
  write_file(token_file, "rotated-token\n");
  w.kube.control("set_tokens", R"({"tokens": ["rotated-token"]})");
  w.kube.control("compact");  // every watch ends with 410 Gone: list again, with the new token
  auto& moved = w.pods[2];
  const auto t0 = steady::now();
  w.restart_on_new_ip(moved);
  wait_until(
      "the healer acts on the event", [&] { return !first->done().empty() || w.settled(); }, 30s,
      [&] { return w.state() + first->output(); });
  // The first healer was refused once with the old token, read the file again and listed.
  const auto refused_then_listed = [&] {
    auto all = json::parse(w.kube.control("requests"));
    std::int64_t refused = -1;
    for (const auto& r : all.at("requests").as_array()) {
      const auto& o = r.as_object();
      if (!contains(text(o.at("path")), "/pods")) continue;
      const auto code = o.at("code").is_int64() ? o.at("code").as_int64() : 0;
      if (code == 401 && refused < 0) refused = o.at("seq").as_int64();
      if (code == 200 && refused >= 0 && o.at("seq").as_int64() > refused) return true;
    }
    return false;
  };
  wait_until("a 401, then the pods listed with the new token", refused_then_listed, 30s,
             [&] { return first->output(); });
  const auto before = first->done();
  first->proc.kill(SIGKILL);  // mid-heal: it may not have seen the cluster agree yet
  healer second(w);
  wait_until(
      "the cluster agrees on the new IP", [&] { return w.settled(); }, 60s,
      [&] { return w.state() + first->output() + second.output(); });
  BOOST_TEST_MESSAGE("scenario 12 (token rotated, healer restarted): healed "
                     << seconds_since(t0) << " s after the pod event");
  w.check_end("scenario 12");
  BOOST_TEST(contains(first->proc.err(), "listing again"), first->output());
  BOOST_TEST(count_with(before, "FORGET") == 0u, first->output());
  BOOST_TEST(count_with(second.done(), "FORGET") == 0u, second.output());
  // The restarted healer repeats nothing that still holds: a MEET already made is not made again.
  for (const auto& line : second.done()) {
    const bool repeated = std::find(before.begin(), before.end(), line) != before.end();
    BOOST_TEST(!repeated, line);
  }
}

BOOST_AUTO_TEST_SUITE_END()
