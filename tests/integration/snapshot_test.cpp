// Physical snapshots end to end through the kage binary: every master's RDB and every node's
// nodes.conf into the store, a cluster brought back from them with `kage fetch`, replicas
// preferred when healthy, a master lost mid-transfer, and fetch refusing bad or unsafe writes.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_redis.hpp"

#include <kage/storage/sha256.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

using namespace kage::test;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

json::object read_json(const std::string& path) {
  return json::parse(read_file(path)).as_object();
}

std::string str(const json::value& v) {
  return std::string(v.as_string());
}

std::vector<command> string_keys(int n, std::size_t value_size, const std::string& prefix = "k:") {
  std::vector<command> c;
  for (int i = 0; i < n; ++i)
    c.push_back({"SET", prefix + std::to_string(i), std::string(value_size, 'a' + i % 26)});
  return c;
}

// No manifest anywhere under dir, and no temporary files left behind.
void expect_nothing_complete(const std::string& dir) {
  const auto left = leftovers_of_failure(dir);
  BOOST_TEST(left.empty(), left.size() << " left, e.g. " << (left.empty() ? "" : left.front()));
}

process_result check_rdb(const std::string& path) {
  return run_process({"redis-check-rdb", path}, {}, std::chrono::seconds(60));
}

// The node ids by address, and each master's DEBUG DIGEST (the hash of its whole dataset).
struct cluster_state {
  std::map<std::string, std::string> ids;      // address -> node id
  std::map<std::string, std::string> digests;  // master address -> DEBUG DIGEST
  std::set<std::string> masters;
};

cluster_state state_of(redis_cluster& c) {
  cluster_state s;
  for (auto* n : c.nodes()) s.ids[n->address()] = c.node_id(*n);
  for (auto* m : c.masters()) {
    s.masters.insert(m->address());
    s.digests[m->address()] = trim(m->cli({"DEBUG", "DIGEST"}));
  }
  return s;
}

// One RDB per master, one nodes.conf per node, and nodes.json, all matching the cluster.
void check_snapshot_manifest(const temp_dir& store, const std::string& id,
                             const cluster_state& before) {
  const auto m = manifest(store.path(), id);
  BOOST_TEST(str(m.at("kind")) == "snapshot");
  const auto& objects = m.at("objects").as_array();
  BOOST_TEST_REQUIRE(objects.size() == 3u);
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const auto& o = objects[i].as_object();
    const std::string file = store.file(id + "/" + str(o.at("name")));
    BOOST_TEST(str(o.at("name")) == "shard-0" + std::to_string(i) + ".rdb");
    BOOST_TEST(str(o.at("read_role")) == "master");
    BOOST_TEST(before.masters.count(str(o.at("read_from"))) == 1u);
    BOOST_TEST(str(o.at("node_id")) == before.ids.at(str(o.at("read_from"))));
    BOOST_TEST(o.at("rdb_version").as_int64() == 10);
    BOOST_TEST(str(o.at("redis_version")).starts_with("7."));
    BOOST_TEST(str(o.at("transfer")) == "diskless");  // the fixture's servers sync diskless
    BOOST_TEST(static_cast<std::uintmax_t>(o.at("bytes").as_int64()) == fs::file_size(file));
    BOOST_TEST(str(o.at("sha256")) == kage::storage::sha256_hex(read_file(file)));
    const auto check = check_rdb(file);
    BOOST_TEST(check.exit_code == 0, file << "\n" << check.out << check.err);
    BOOST_TEST(contains(check.out, "RDB looks OK"), check.out);
  }
  const auto& configs = m.at("node_configs").as_array();
  BOOST_TEST_REQUIRE(configs.size() == 6u);
  for (const auto& cv : configs) {
    const auto& c = cv.as_object();
    const std::string node_id = str(c.at("node_id"));
    BOOST_TEST(before.ids.at(str(c.at("address"))) == node_id);
    BOOST_TEST(str(c.at("source")) == "self");
    const std::string conf = read_file(store.file(id + "/nodes/" + node_id + ".conf"));
    BOOST_TEST(contains(conf, node_id + " " + str(c.at("address")) + "@"), conf);
    BOOST_TEST(contains(conf, "vars currentEpoch "), conf);
    int myself = 0;
    for (auto at = conf.find("myself"); at != std::string::npos; at = conf.find("myself", at + 1))
      ++myself;
    BOOST_TEST(myself == 1, conf);
    const auto own = ("\n" + conf).find("\n" + node_id + " ");  // its own line, not its replicas'
    BOOST_TEST_REQUIRE(own != std::string::npos, conf);
    const auto own_line = conf.substr(own, conf.find('\n', own) - own);
    BOOST_TEST(contains(own_line, " myself,"), conf);
  }
  const auto view = json::parse(read_file(store.file(id + "/nodes.json"))).as_array();
  BOOST_TEST(view.size() == 6u);
  for (const auto& n : view) {
    const auto& o = n.as_object();
    BOOST_TEST(before.ids.at(str(o.at("host")) + ":" + std::to_string(o.at("port").as_int64())) ==
               str(o.at("name")));
    if (o.at("replicate").is_null()) BOOST_TEST(o.at("slots_count").as_int64() > 0);
  }
}

// "" once every node says cluster_state:ok and every replica's link is up; else the last
// problem seen when 60 s have passed.
std::string wait_until_healthy(std::vector<std::unique_ptr<redis_server>>& restored) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string problem;
  for (;;) {
    problem.clear();
    for (auto& n : restored) {
      const auto info = n->cli_result({"CLUSTER", "INFO"});
      if (info_field(info.out, "cluster_state") != "ok")
        problem = n->address() + " cluster_state:" + info_field(info.out, "cluster_state");
      const auto repl = n->cli_result({"INFO", "replication"});
      if (info_field(repl.out, "role") == "slave" &&
          info_field(repl.out, "master_link_status") != "up")
        problem =
            n->address() + " master_link_status:" + info_field(repl.out, "master_link_status");
    }
    if (problem.empty() || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return problem;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_snapshot)

BOOST_AUTO_TEST_CASE(snapshot_then_fetch_brings_the_cluster_back) {
  auto source = std::make_unique<redis_cluster>(3, 1, cluster_node());
  {
    test_client client(source->seed());
    client.load(every_type_commands("s:", 50));
    client.load(string_keys(20000, 100));
  }
  for (auto* m : source->masters()) m->cli({"WAIT", "1", "5000"});
  const cluster_state before = state_of(*source);
  BOOST_TEST_REQUIRE(before.masters.size() == 3u);

  temp_dir store("store");
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run_kage({"snapshot", "--node", source->seed(), "--to", store.path(), "--json"});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  const std::string id = only_backup(store.path());
  const auto out = json_result(r);
  BOOST_TEST(str(out.at("id")) == id);
  BOOST_TEST(out.at("shards").as_int64() == 3);
  BOOST_TEST_MESSAGE("snapshot of 3 masters, " << out.at("bytes").as_int64() << " RDB bytes, in "
                                               << seconds << " s (kage wall time)");

  check_snapshot_manifest(store, id, before);
  const auto status = read_json(store.file(id + "/status.json"));
  BOOST_TEST(str(status.at("phase")) == "Completed");
  BOOST_TEST(str(status.at("format")) == "rdb");
  BOOST_TEST(str(status.at("error")) == "");
  BOOST_TEST(str(status.at("checksumSHA256")) ==
             kage::storage::sha256_hex(read_file(store.file(id + "/manifest.json"))));
  BOOST_TEST(status.at("backupSize").as_int64() == out.at("bytes").as_int64());

  // list, show, verify understand it; restore says what it restores.
  r = run_kage({"list", "--from", store.path()});
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.out, "snapshot"), r.out);
  r = run_kage({"show", "--from", store.path()});
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.out, "shard-02.rdb"), r.out);
  r = run_kage({"verify", "--from", store.path()});
  BOOST_TEST(r.exit_code == 0, describe(r));
  r = run_kage({"restore", "--node", source->seed(), "--from", store.path()});
  BOOST_TEST(r.exit_code == exit_incompatible, describe(r));
  BOOST_TEST(contains(r.err, "restores logical backups"), r.err);

  // Lose the whole cluster; bring every node back on its port from fetched files only.
  struct node_spec {
    std::string host, address;
    int port;
  };
  std::vector<node_spec> specs;
  for (auto* n : source->nodes()) specs.push_back({n->host(), n->address(), n->port()});
  source.reset();  // SIGKILL every node

  std::vector<std::unique_ptr<temp_dir>> dirs;
  std::vector<std::unique_ptr<redis_server>> restored;
  for (const auto& s : specs) {
    dirs.push_back(std::make_unique<temp_dir>("data"));
    const std::string dir = dirs.back()->path();
    r = run_kage({"fetch", "--from", store.path(), "--node-id", before.ids.at(s.address), "--to",
                  dir, "--json"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
    BOOST_TEST(fs::file_size(dir + "/dump.rdb") > 0u);
    BOOST_TEST(contains(read_file(dir + "/nodes.conf"), before.ids.at(s.address) + " "));
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    redis_options o = cluster_node();
    o.host = specs[i].host;
    o.port = specs[i].port;
    const std::string dir = dirs[i]->path();
    o.extra_args = {
        "--dir", dir, "--dbfilename", "dump.rdb", "--cluster-config-file", dir + "/nodes.conf"};
    restored.push_back(std::make_unique<redis_server>(o));
  }
  // cluster_state:ok everywhere, replicas linked, the same ids, every key (same digests).
  const std::string problem = wait_until_healthy(restored);
  BOOST_TEST_REQUIRE(problem.empty(), problem);
  for (auto& n : restored) {
    BOOST_TEST(trim(n->cli({"CLUSTER", "MYID"})) == before.ids.at(n->address()));
    const std::string role = info_field(n->cli({"INFO", "replication"}), "role");
    BOOST_TEST((role == "master") == (before.masters.count(n->address()) == 1), n->address());
    if (role == "master")
      BOOST_TEST(trim(n->cli({"DEBUG", "DIGEST"})) == before.digests.at(n->address()),
                 n->address());
  }
}

BOOST_AUTO_TEST_CASE(prefer_replica_reads_healthy_replicas_only) {
  redis_cluster source(3, 1, cluster_node());
  {
    test_client client(source.seed());
    client.load(string_keys(3000, 50));
  }
  for (auto* m : source.masters()) m->cli({"WAIT", "1", "5000"});
  const auto masters = source.masters();
  std::map<std::string, std::string> replica_of;  // master address -> its replica's address
  for (auto* m : masters) replica_of[m->address()] = source.replicas_of(*m).at(0)->address();

  temp_dir store("store");
  auto r = run_kage({"snapshot", "--node", source.seed(), "--to", store.path(), "--target",
                     "prefer-replica", "--quiet"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  auto m = manifest(store.path(), only_backup(store.path()));
  for (const auto& ov : m.at("objects").as_array()) {
    const auto& o = ov.as_object();
    BOOST_TEST(str(o.at("read_role")) == "replica");
    BOOST_TEST(str(o.at("read_from")) == replica_of.at(str(o.at("master_address"))));
    BOOST_TEST(check_rdb(store.file(str(m.at("id")) + "/" + str(o.at("name")))).exit_code == 0);
  }

  // One replica frozen, one dead: those shards come from their masters.
  auto* frozen = source.node(replica_of.at(masters[1]->address()));
  auto* dead = source.node(replica_of.at(masters[2]->address()));
  frozen->kill(SIGSTOP);
  dead->kill(SIGKILL);
  temp_dir store2("store");
  r = run_kage({"snapshot", "--node", source.seed(), "--to", store2.path(), "--target",
                "prefer-replica", "--connect-timeout", "1000", "--quiet"});
  frozen->kill(SIGCONT);
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  m = manifest(store2.path(), only_backup(store2.path()));
  const auto& objects = m.at("objects").as_array();
  BOOST_TEST(str(objects[0].at("read_role")) == "replica");
  BOOST_TEST(str(objects[1].at("read_role")) == "master");
  BOOST_TEST(str(objects[1].at("read_from")) == masters[1]->address());
  BOOST_TEST(str(objects[2].at("read_role")) == "master");
  BOOST_TEST(str(objects[2].at("read_from")) == masters[2]->address());
  // Their nodes.conf could not come from themselves: built from a peer's view.
  for (const auto& cv : m.at("node_configs").as_array()) {
    const auto& c = cv.as_object();
    const bool away =
        str(c.at("address")) == frozen->address() || str(c.at("address")) == dead->address();
    BOOST_TEST(str(c.at("source")) == (away ? "peer" : "self"), str(c.at("address")));
  }
  r = run_kage({"verify", "--from", store2.path()});
  BOOST_TEST(r.exit_code == 0, describe(r));
}

BOOST_AUTO_TEST_CASE(master_killed_mid_transfer_fails_cleanly) {
  redis_cluster source(3, 0, cluster_node());
  {
    test_client client(source.seed());
    client.load(string_keys(9000, 100));
  }
  auto* victim = source.masters()[1];
  const std::string address = victim->address();
  // 1 ms per key: this master's RDB takes seconds to produce.
  victim->cli({"CONFIG", "SET", "rdb-key-save-delay", "1000"});

  temp_dir store("store");
  background_process snapshot(
      {kage_binary(), "snapshot", "--node", source.seed(), "--to", store.path(), "--json"});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool saving = false;
  while (!saving && std::chrono::steady_clock::now() < deadline && snapshot.running()) {
    saving = info_field(victim->cli({"INFO", "persistence"}), "rdb_bgsave_in_progress") == "1";
    if (!saving) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_TEST_REQUIRE(saving, "the victim never started producing its RDB\n" << snapshot.err());
  // Mid-transfer: some of the victim's RDB (shard-01) already sits in its temporary object.
  bool streaming = false;
  while (!streaming && std::chrono::steady_clock::now() < deadline && snapshot.running()) {
    for (const auto& id : backup_ids(store.path()))
      for (const auto& e : fs::directory_iterator(store.file(id)))
        if (e.path().filename().string().starts_with(".shard-01.rdb.tmp-") && e.file_size() > 0)
          streaming = true;
    if (!streaming) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_TEST_REQUIRE(streaming, "no RDB bytes from the victim arrived\n" << snapshot.err());
  BOOST_TEST_REQUIRE(snapshot.running(), "the snapshot finished before the master was killed");
  victim->kill(SIGKILL);
  auto r = snapshot.wait(std::chrono::seconds(120));
  BOOST_TEST(r.exit_code == exit_redis, describe(r));
  BOOST_TEST(contains(r.err, address), r.err);
  BOOST_TEST(contains(r.err, "bytes of the RDB"), r.err);
  BOOST_TEST(contains(r.err, "no manifest was written"), r.err);
  expect_nothing_complete(store.path());

  // status.json says Failed, with the error; nothing else of the snapshot is left.
  const std::string id = only_backup(store.path());
  std::vector<std::string> left;
  for (const auto& e : fs::recursive_directory_iterator(store.file(id)))
    if (e.is_regular_file()) left.push_back(e.path().filename().string());
  BOOST_TEST(left == std::vector<std::string>{"status.json"}, left.size() << " files left");
  const auto status = read_json(store.file(id + "/status.json"));
  BOOST_TEST(str(status.at("phase")) == "Failed");
  BOOST_TEST(contains(str(status.at("error")), address), str(status.at("error")));
  BOOST_TEST(str(status.at("completedAt")) != "");
  // kage list tells the failure and why.
  r = run_kage({"list", "--from", store.path()});
  BOOST_TEST(contains(r.out, "failed"), r.out);
  BOOST_TEST(contains(r.out, address), r.out);
  r = run_kage({"list", "--from", store.path(), "--json"});
  const auto listed = boost::json::parse(r.out).as_array().at(0).as_object();
  BOOST_TEST(!listed.at("complete").as_bool());
  BOOST_TEST(listed.at("failed").as_bool());
  BOOST_TEST(contains(str(listed.at("problem")), address), r.out);
  // kage restore/show/fetch refuse it with the same reason.
  r = run_kage({"show", "--from", store.path(), "--id", id});
  BOOST_TEST(r.exit_code != 0, describe(r));
  BOOST_TEST(contains(r.err, address), r.err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fetch_and_standalone)

BOOST_AUTO_TEST_CASE(fetch_refuses_to_overwrite_and_checks_every_byte) {
  redis_cluster source(1, 1, cluster_node());
  {
    test_client client(source.seed());
    client.load(string_keys(2000, 100));
  }
  temp_dir store("store");
  auto r = run_kage({"snapshot", "--node", source.seed(), "--to", store.path(), "--quiet"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  const std::string id = only_backup(store.path());
  const auto m = manifest(store.path(), id);
  const std::string master_id = str(m.at("objects").as_array()[0].at("master_id"));
  const std::string replica_id = source.node_id(*source.replicas_of(*source.masters()[0]).at(0));
  const std::string rdb = store.file(id + "/shard-00.rdb");

  // A replica gets its master's RDB and its own nodes.conf.
  temp_dir data("data");
  r = run_kage({"fetch", "--from", store.path(), "--node-id", replica_id, "--to", data.path(),
                "--rdb-name", "replica.rdb", "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(read_file(data.file("replica.rdb")) == read_file(rdb));
  BOOST_TEST(contains(read_file(data.file("nodes.conf")), replica_id + " "));
  BOOST_TEST(str(json_result(r).at("role")) == "replica");

  // A non-empty dump stays unless --force.
  temp_dir busy("data");
  write_file(busy.file("dump.rdb"), "precious");
  r = run_kage({"fetch", "--from", store.path(), "--node-id", master_id, "--to", busy.path()});
  BOOST_TEST(r.exit_code == exit_usage, describe(r));
  BOOST_TEST(contains(r.err, "--force"), r.err);
  BOOST_TEST(read_file(busy.file("dump.rdb")) == "precious");
  BOOST_TEST(!fs::exists(busy.file("nodes.conf")));
  r = run_kage(
      {"fetch", "--from", store.path(), "--node-id", master_id, "--to", busy.path(), "--force"});
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(read_file(busy.file("dump.rdb")) == read_file(rdb));

  // An unknown node.
  temp_dir other("data");
  r = run_kage(
      {"fetch", "--from", store.path(), "--node-id", std::string(40, '0'), "--to", other.path()});
  BOOST_TEST(r.exit_code == exit_incompatible, describe(r));
  BOOST_TEST(contains(r.err, master_id), r.err);

  // One flipped byte in the store: fetch fails with exit 5 and writes nothing; verify agrees.
  {
    std::fstream f(rdb, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(rdb) / 2));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x20);
    f.seekp(static_cast<std::streamoff>(fs::file_size(rdb) / 2));
    f.write(&c, 1);
  }
  temp_dir fresh("data");
  r = run_kage({"fetch", "--from", store.path(), "--node-id", master_id, "--to", fresh.path()});
  BOOST_TEST(r.exit_code == exit_integrity, describe(r));
  BOOST_TEST(contains(r.err, "damaged"), r.err);
  BOOST_TEST(fs::is_empty(fresh.path()), "fetch left files in " << fresh.path());
  r = run_kage({"verify", "--from", store.path()});
  BOOST_TEST(r.exit_code == exit_integrity, describe(r));
  BOOST_TEST(contains(r.out, "DAMAGED"), r.out);
}

BOOST_AUTO_TEST_CASE(standalone_disk_based_sync_and_acl_refusal) {
  redis_options o;
  o.acl_lines = {"user snap on >snap-secret ~* +@all -@admin"};
  redis_server server(o);
  {
    test_client client(server.address());
    client.load(string_keys(5000, 100));
  }
  const std::string digest = trim(server.cli({"DEBUG", "DIGEST"}));
  // Disk-based: the RDB comes with its length first.
  server.cli({"CONFIG", "SET", "repl-diskless-sync", "no"});
  temp_dir store("store");
  auto r = run_kage({"snapshot", "--node", server.address(), "--to", store.path(), "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  const std::string id = only_backup(store.path());
  const auto m = manifest(store.path(), id);
  BOOST_TEST(m.at("cluster").as_bool() == false);
  BOOST_TEST(m.at("node_configs").as_array().empty());
  const auto& obj = m.at("objects").as_array()[0].as_object();
  BOOST_TEST(str(obj.at("transfer")) == "disk");
  const std::string rdb = store.file(id + "/shard-00.rdb");
  BOOST_TEST(check_rdb(rdb).exit_code == 0);

  // The RDB loads into a fresh server with every key.
  temp_dir data("data");
  r = run_kage({"fetch", "--from", store.path(), "--node-id", str(obj.at("master_id")), "--to",
                data.path()});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(!fs::exists(data.file("nodes.conf")));
  redis_options fresh;
  fresh.extra_args = {"--dir", data.path(), "--dbfilename", "dump.rdb"};
  redis_server loaded(fresh);
  BOOST_TEST(trim(loaded.cli({"DEBUG", "DIGEST"})) == digest);

  // A user without the replication commands is told which to grant, in the server's words.
  temp_dir store2("store");
  r = run_kage({"snapshot", "--node", server.address(), "--to", store2.path(), "--user", "snap"},
               {{"REDISCLI_AUTH", "snap-secret"}});
  BOOST_TEST(r.exit_code == exit_redis, describe(r));
  BOOST_TEST(contains(r.err, "NOPERM"), r.err);
  BOOST_TEST(contains(r.err, "+sync"), r.err);
  BOOST_TEST(contains(r.err, "+replconf"), r.err);
  expect_nothing_complete(store2.path());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(secured)

// TLS everywhere and a user holding only what a snapshot needs (README, "Security").
BOOST_AUTO_TEST_CASE(tls_cluster_with_least_privilege_user) {
  auto tls = make_tls_files();
  redis_options o = cluster_node();
  o.tls = tls;
  o.requirepass = "admin-secret";
  o.acl_lines = {
      "user snapper on >snap-secret +@connection +info +cluster|shards +cluster|nodes "
      "+cluster|info +replconf +sync +psync"};
  redis_cluster source(1, 1, o);
  {
    kage::proto::redis_config c;
    c.password = "admin-secret";
    c.tls.enabled = true;
    c.tls.ca_file = tls.ca_cert;
    c.tls.cert_file = tls.client_cert;
    c.tls.key_file = tls.client_key;
    test_client client(source.seed(), c);
    client.load(string_keys(3000, 100));
  }
  temp_dir store("store");
  const std::vector<std::string> tls_flags{"--cacert",      tls.ca_cert, "--cert",
                                           tls.client_cert, "--key",     tls.client_key};
  std::vector<std::string> args{"snapshot",   "--node", source.seed(), "--to",
                                store.path(), "--user", "snapper",     "--quiet"};
  args.insert(args.end(), tls_flags.begin(), tls_flags.end());
  auto r = run_kage(args, {{"REDISCLI_AUTH", "snap-secret"}});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  const std::string id = only_backup(store.path());
  const auto m = manifest(store.path(), id);
  BOOST_TEST(m.at("node_configs").as_array().size() == 2u);
  for (const auto& c : m.at("node_configs").as_array()) BOOST_TEST(str(c.at("source")) == "self");
  BOOST_TEST(check_rdb(store.file(id + "/shard-00.rdb")).exit_code == 0);
  r = run_kage({"verify", "--from", store.path()});
  BOOST_TEST(r.exit_code == 0, describe(r));
}

BOOST_AUTO_TEST_SUITE_END()
