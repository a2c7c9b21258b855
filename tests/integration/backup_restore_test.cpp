// End to end through the kage binary: back up, verify, restore, compare every key.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_redis.hpp"

#include <kage/storage/archive.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <ios>

using namespace kage::test;
namespace fs = std::filesystem;

namespace {

// Every key equal (type and DEBUG DIGEST-VALUE); TTLs kept (never longer, at most `slack` ms
// shorter than in the source snapshot).
void expect_same(const std::map<std::string, key_state>& source,
                 const std::map<std::string, key_state>& restored, std::int64_t slack_ms = 120000) {
  BOOST_TEST(source.size() == restored.size());
  for (const auto& [key, s] : source) {
    auto it = restored.find(key);
    BOOST_TEST_REQUIRE((it != restored.end()), "missing key " << key);
    BOOST_TEST(it->second.type == s.type, "type of " << key);
    BOOST_TEST(it->second.digest == s.digest, "value of " << key);
    if (s.pttl < 0) {
      BOOST_TEST(it->second.pttl == -1, "ttl of " << key);
    } else {
      BOOST_TEST(it->second.pttl <= s.pttl, "ttl of " << key);
      BOOST_TEST(it->second.pttl > s.pttl - slack_ms, "ttl of " << key);
    }
  }
}

// SETs with distinct TTLs of 10 minutes and more.
std::vector<command> keys_with_ttls(int n) {
  std::vector<command> data;
  for (int i = 0; i < n; ++i)
    data.push_back({"SET", "ttl:" + std::to_string(i), "v", "PX", std::to_string(600000 + 7 * i)});
  return data;
}

// Each key's PEXPIRETIME as the server holds it.
std::map<std::string, std::int64_t> expire_times(test_client& c, const std::vector<command>& data) {
  std::map<std::string, std::int64_t> out;
  for (const auto& cmd : data) out[cmd[1]] = std::stoll(c.exec({"PEXPIRETIME", cmd[1]}).value);
  return out;
}

// key -> expire-at of every record in a local backup's shard objects.
std::map<std::string, std::int64_t> archived_expire_times(const std::string& backup_dir) {
  std::map<std::string, std::int64_t> out;
  for (const auto& entry : fs::directory_iterator(backup_dir)) {
    if (!entry.path().string().ends_with(".resp.zst")) continue;
    kage::storage::archive_reader in;
    in.feed(read_file(entry.path().string()));
    in.end_of_input();
    for (;;) {
      auto rec = in.next();
      BOOST_TEST_REQUIRE(rec.has_value(), rec.error().message());
      if (!*rec) break;
      out[std::string((*rec)->key)] = (*rec)->expire_at_ms;
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(standalone)

BOOST_AUTO_TEST_CASE(round_trip_every_type_and_standard_tools) {
  redis_server server(redis_options{});
  test_client client(server.address());
  client.load(every_type_commands("s:", 20));
  const auto before = client.snapshot();
  BOOST_TEST_REQUIRE(before.size() > 200u);

  temp_dir store("store");
  auto r = run_kage({"backup", "--node", server.address(), "--to", store.path(), "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  auto out = json_result(r);
  BOOST_TEST(out.at("keys").as_int64() == static_cast<std::int64_t>(before.size()));
  const std::string id = only_backup(store.path());
  BOOST_TEST(fs::exists(store.file(id + "/manifest.json")));
  BOOST_TEST(manifest(store.path(), id).at("cluster").as_bool() == false);

  r = run_kage({"verify", "--from", store.path()});
  BOOST_TEST(r.exit_code == 0, describe(r));

  client.exec({"FLUSHALL"});
  r = run_kage({"restore", "--node", server.address(), "--from", store.path(), "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("restored").as_int64() == static_cast<std::int64_t>(before.size()));
  expect_same(before, client.snapshot());

  // Standard tools alone, as README and storage/FORMAT.md say: zstd -dc | redis-cli --pipe.
  redis_server fresh(redis_options{});
  auto argv = fresh.cli_argv();
  std::string cmd = "zstd -dc " + store.file(id + "/shard-00.resp.zst") + " | ";
  for (const auto& a : argv) cmd += "'" + a + "' ";
  cmd += "--pipe";
  auto piped = run_process({"bash", "-c", cmd});
  BOOST_TEST_REQUIRE(piped.exit_code == 0, describe(piped));
  BOOST_TEST(piped.out.find("errors: 0") != std::string::npos, piped.out);
  test_client fresh_client(fresh.address());
  expect_same(before, fresh_client.snapshot());
}

BOOST_AUTO_TEST_CASE(patterns_select_keys) {
  redis_server server(redis_options{});
  test_client client(server.address());
  client.load({{"SET", "user:1", "a"},
               {"SET", "user:2", "b"},
               {"SET", "order:1", "c"},
               {"SET", "session:9", "d"}});
  temp_dir store("store");
  // Two patterns; a key matching both is taken once.
  auto r = run_kage({"backup", "--node", server.address(), "--to", store.path(), "--pattern",
                     "user:*", "--pattern", "*:1", "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("keys").as_int64() == 3);

  // PATTERN from the environment, comma-separated, as the old sidecar used it.
  temp_dir store2("store");
  r = run_kage({"backup", "--node", server.address(), "--to", store2.path(), "--json"},
               {{"PATTERN", "session:*,order:*"}});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("keys").as_int64() == 2);

  // Restore with a pattern filter brings back only those keys.
  client.exec({"FLUSHALL"});
  r = run_kage({"restore", "--node", server.address(), "--from", store.path(), "--pattern",
                "user:*", "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  auto o = json_result(r);
  BOOST_TEST(o.at("restored").as_int64() == 2);
  BOOST_TEST(o.at("filtered").as_int64() == 1);
  BOOST_TEST(client.dbsize() == 2u);
}

BOOST_AUTO_TEST_CASE(backup_files_and_folders_are_owner_only) {
  redis_server server(redis_options{});
  test_client client(server.address());
  client.load({{"SET", "a", "1"}, {"HSET", "h", "f", "v"}, {"SET", "b", "2"}});
  temp_dir store("store");
  // kage creates the nested folders itself; a common umask must not widen what it creates.
  const std::string to = store.path() + "/nested/backups";
  const mode_t old_mask = ::umask(022);
  auto r = run_kage({"backup", "--node", server.address(), "--to", to});
  ::umask(old_mask);
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));

  std::size_t files = 0, folders = 0;
  const auto check = [&](const fs::path& p) {
    struct stat st {};
    BOOST_TEST_REQUIRE(::lstat(p.c_str(), &st) == 0, p);
    const mode_t mode = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
      ++folders;
      BOOST_TEST(mode == 0700u, p << " has mode " << std::oct << mode);
    } else {
      ++files;
      BOOST_TEST(S_ISREG(st.st_mode), p);
      BOOST_TEST(mode == 0600u, p << " has mode " << std::oct << mode);
    }
  };
  check(store.path() + "/nested");
  for (const auto& e : fs::recursive_directory_iterator(store.path() + "/nested")) check(e.path());
  // nested, backups, the snapshot's folder; its manifest and at least one shard.
  BOOST_TEST(folders >= 3u);
  BOOST_TEST(files >= 2u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cluster)

BOOST_AUTO_TEST_CASE(three_masters_into_four_then_restore_missing) {
  redis_cluster source(3, 1, cluster_node());
  test_client src(source.seed());
  auto data = every_type_commands("c:", 200);
  // A value of 50 MB, and Redis Functions.
  data.push_back({"SET", "c:big", std::string(50u << 20, 'x') + "end"});
  src.load(data);
  for (const auto& m : src.masters()) {
    auto r = src.exec_on(m, {"FUNCTION", "LOAD",
                             "#!lua name=kagelib\nredis.register_function('kage_echo', "
                             "function(keys, args) return args[1] end)"});
    BOOST_TEST_REQUIRE(!r.is_error(), r.value);
  }
  const auto before = src.snapshot();

  temp_dir store("store");
  auto r = run_kage({"backup", "--node", source.seed(), "--to", store.path(), "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("keys").as_int64() == static_cast<std::int64_t>(before.size()));
  const std::string id = only_backup(store.path());
  auto m = manifest(store.path(), id);
  BOOST_TEST(m.at("objects").as_array().size() == 3u);
  BOOST_TEST(m.at("topology").as_array().size() == 6u);

  r = run_kage({"verify", "--from", store.path(), "--id", id});
  BOOST_TEST(r.exit_code == 0, describe(r));

  // A target of another shape: 4 masters, no replicas.
  redis_cluster target(4, 0, cluster_node());
  r = run_kage({"restore", "--node", target.seed(), "--from", store.path(), "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  auto o = json_result(r);
  BOOST_TEST(o.at("restored").as_int64() == static_cast<std::int64_t>(before.size()));
  BOOST_TEST(o.at("present").as_int64() == 0);
  BOOST_TEST(o.at("targets").as_array().size() == 4u);
  test_client dst(target.seed());
  expect_same(before, dst.snapshot());
  for (const auto& master : dst.masters()) {
    auto fl = dst.exec_on(master, {"FCALL", "kage_echo", "0", "hi"});
    BOOST_TEST(fl.value == "hi", master << ": " << fl.value);
  }

  // Lose one master's keys: restore-missing brings back exactly those.
  const std::string victim = dst.masters()[1];
  const auto lost = std::stoll(dst.exec_on(victim, {"DBSIZE"}).value);
  BOOST_TEST_REQUIRE(lost > 0);
  dst.exec_on(victim, {"FLUSHALL"});

  r = run_kage({"restore", "--node", target.seed(), "--from", store.path(), "--dry-run", "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  o = json_result(r);
  BOOST_TEST(o.at("restored").as_int64() == lost);
  BOOST_TEST(o.at("present").as_int64() == static_cast<std::int64_t>(before.size()) - lost);
  BOOST_TEST(std::stoll(dst.exec_on(victim, {"DBSIZE"}).value) == 0);  // dry run wrote nothing

  r = run_kage({"restore", "--node", target.seed(), "--from", store.path(), "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  o = json_result(r);
  BOOST_TEST(o.at("restored").as_int64() == lost);
  BOOST_TEST(o.at("present").as_int64() == static_cast<std::int64_t>(before.size()) - lost);
  expect_same(before, dst.snapshot());

  // Without --replace a changed key is kept; with it, the backup's value wins.
  dst.exec({"SET", "c:str:1", "changed"});
  r = run_kage({"restore", "--node", target.seed(), "--from", store.path(), "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(dst.exec({"GET", "c:str:1"}).value == "changed");
  r = run_kage({"restore", "--node", target.seed(), "--from", store.path(), "--replace", "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("restored").as_int64() == static_cast<std::int64_t>(before.size()));
  BOOST_TEST(dst.exec({"GET", "c:str:1"}).value == "value-1");
}

BOOST_AUTO_TEST_CASE(expiry_times_are_the_servers_own) {
  // Redis 7.0+: each record's expire-at is the server's PEXPIRETIME, to the millisecond, not
  // the client's clock plus PTTL at the moment the reply was read (which drifts by the time
  // replies wait in the pipeline).
  redis_cluster source(3, 0, cluster_node());
  test_client src(source.seed());
  const auto data = keys_with_ttls(3000);
  src.load(data);
  const auto expected = expire_times(src, data);

  temp_dir store("store");
  auto r = run_kage({"backup", "--node", source.seed(), "--to", store.path(), "--window", "64"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  const auto archived = archived_expire_times(store.path() + "/" + only_backup(store.path()));
  BOOST_TEST_REQUIRE(archived.size() == expected.size());
  std::size_t exact = 0;
  for (const auto& [key, at] : archived) {
    if (at == expected.at(key))
      ++exact;
    else
      BOOST_TEST(at == expected.at(key), key);
  }
  BOOST_TEST(exact == expected.size());
}

BOOST_AUTO_TEST_CASE(expiry_from_pttl_when_pexpiretime_is_not_allowed) {
  // As on Redis 6.2, which has no PEXPIRETIME: PTTL plus the local clock, never shorter.
  redis_options o = cluster_node();
  o.acl_lines = {"user narrow on >pw ~* &* +@all -pexpiretime"};
  redis_cluster source(3, 0, o);
  test_client src(source.seed());
  const auto data = keys_with_ttls(500);
  src.load(data);
  const auto expected = expire_times(src, data);

  temp_dir store("store");
  auto r = run_kage({"backup", "--node", source.seed(), "--to", store.path(), "--user", "narrow"},
                    {{"REDISCLI_AUTH", "pw"}});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.err, "PEXPIRETIME is not available"), r.err);
  const auto archived = archived_expire_times(store.path() + "/" + only_backup(store.path()));
  BOOST_TEST_REQUIRE(archived.size() == expected.size());
  for (const auto& [key, at] : archived) {
    BOOST_TEST(at >= expected.at(key), key);
    BOOST_TEST(at < expected.at(key) + 10000, key);
  }
}

BOOST_AUTO_TEST_CASE(prefer_replica_reads_replicas) {
  redis_cluster source(3, 1, cluster_node());
  test_client src(source.seed());
  src.load(every_type_commands("r:", 10));
  // Replicas must have caught up before we read from them (WAIT alone may time out on a busy
  // machine): every replica holds as many keys as its master, within a deadline.
  for (auto* m : source.masters()) {
    m->cli({"WAIT", "1", "5000"});
    const auto want = m->cli({"DBSIZE"});
    for (auto* replica : source.replicas_of(*m)) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (replica->cli({"DBSIZE"}) != want && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      BOOST_TEST_REQUIRE(replica->cli({"DBSIZE"}) == want);
    }
  }
  const auto before = src.snapshot();
  temp_dir store("store");
  auto r = run_kage({"backup", "--node", source.seed(), "--to", store.path(), "--read-from",
                     "prefer-replica", "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("keys").as_int64() == static_cast<std::int64_t>(before.size()));
  auto m = manifest(store.path(), only_backup(store.path()));
  for (const auto& o : m.at("objects").as_array()) {
    BOOST_TEST(o.at("read_role").as_string() == "replica");
    BOOST_TEST(o.at("read_from").as_string() != o.at("master_address").as_string());
  }
}

BOOST_AUTO_TEST_SUITE_END()
