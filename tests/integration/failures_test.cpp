// What goes wrong in real life: each gets one clear message, a documented exit code, and leaves
// nothing that looks like a complete backup.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_redis.hpp"

#include <sys/mount.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

using namespace kage::test;
namespace fs = std::filesystem;

namespace {

// No manifest anywhere under dir, and no temporary files left behind.
void expect_nothing_complete(const std::string& dir) {
  const auto left = leftovers_of_failure(dir);
  BOOST_TEST(left.empty(), left.size() << " left, e.g. " << (left.empty() ? "" : left.front()));
}

std::vector<command> string_keys(int n, std::size_t value_size, std::uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::vector<command> c;
  for (int i = 0; i < n; ++i) {
    std::string v(value_size, ' ');
    for (auto& ch : v) ch = static_cast<char>(rng());
    c.push_back({"SET", "key:" + std::to_string(i), v});
  }
  return c;
}

// A backup of a small standalone server, for damaging.
struct small_backup {
  redis_server server{redis_options{}};
  temp_dir store{"store"};
  std::string id;
  std::string object;
  small_backup() {
    test_client c(server.address());
    c.load(string_keys(2000, 200));
    auto r = run_kage({"backup", "--node", server.address(), "--to", store.path(), "--quiet"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
    id = only_backup(store.path());
    object = store.file(id + "/shard-00.resp.zst");
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(connecting)

BOOST_AUTO_TEST_CASE(unreachable_node) {
  temp_dir store("store");
  const std::string addr = "127.0.0.1:" + std::to_string(free_port());
  auto r = run_kage({"backup", "--node", addr, "--to", store.path(), "--connect-timeout", "2000"});
  BOOST_TEST(r.exit_code == exit_redis, describe(r));
  BOOST_TEST(contains(r.err, "connection refused"), r.err);
  BOOST_TEST(contains(r.err, addr), r.err);
  expect_nothing_complete(store.path());
}

BOOST_AUTO_TEST_CASE(wrong_or_missing_password) {
  redis_options o;
  o.requirepass = "right-secret";
  redis_server server(o);
  temp_dir store("store");
  auto r = run_kage({"backup", "--node", server.address(), "--to", store.path()},
                    {{"REDISCLI_AUTH", "wrong-secret"}});
  BOOST_TEST(r.exit_code == exit_redis, describe(r));
  BOOST_TEST(contains(r.err, "WRONGPASS"), r.err);
  BOOST_TEST(contains(r.err, "REDISCLI_AUTH"), r.err);
  BOOST_TEST(!contains(r.err + r.out, "wrong-secret"));  // never echo secrets

  r = run_kage({"backup", "--node", server.address(), "--to", store.path()});
  BOOST_TEST(r.exit_code == exit_redis, describe(r));
  BOOST_TEST(contains(r.err, "requires a password"), r.err);
  expect_nothing_complete(store.path());

  // The right one, from a file (never argv).
  temp_dir secrets("secrets");
  std::ofstream(secrets.file("pw")) << "right-secret\n";
  r = run_kage({"backup", "--node", server.address(), "--to", store.path(), "--password-file",
                secrets.file("pw"), "--quiet"});
  BOOST_TEST(r.exit_code == 0, describe(r));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(damaged_backups)

BOOST_AUTO_TEST_CASE(corrupted_byte_caught_by_verify_and_restore) {
  small_backup b;
  const auto size = fs::file_size(b.object);
  for (auto pos : {size / 3, size / 2, size - 20}) {
    temp_dir copy("copy");
    fs::copy(b.store.path(), copy.path(), fs::copy_options::recursive);
    const std::string object = copy.file(b.id + "/shard-00.resp.zst");
    {
      std::fstream f(object, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(static_cast<std::streamoff>(pos));
      char c = 0;
      f.read(&c, 1);
      c = static_cast<char>(c ^ 0x5a);
      f.seekp(static_cast<std::streamoff>(pos));
      f.write(&c, 1);
    }
    auto r = run_kage({"verify", "--from", copy.path()});
    BOOST_TEST(r.exit_code == exit_integrity, "byte " << pos << "\n" << describe(r));
    BOOST_TEST(contains(r.out, "DAMAGED"), r.out);

    redis_server target(redis_options{});
    r = run_kage({"restore", "--node", target.address(), "--from", copy.path(), "--quiet"});
    BOOST_TEST(r.exit_code == exit_integrity, "byte " << pos << "\n" << describe(r));
    BOOST_TEST(contains(r.err, "damaged"), r.err);
  }
}

BOOST_AUTO_TEST_CASE(truncated_object_caught_by_verify_and_restore) {
  small_backup b;
  fs::resize_file(b.object, fs::file_size(b.object) / 2);
  auto r = run_kage({"verify", "--from", b.store.path(), "--id", b.id});
  BOOST_TEST(r.exit_code == exit_integrity, describe(r));
  redis_server target(redis_options{});
  r = run_kage({"restore", "--node", target.address(), "--from", b.store.path(), "--quiet"});
  BOOST_TEST(r.exit_code == exit_integrity, describe(r));
}

BOOST_AUTO_TEST_CASE(backup_without_manifest_is_not_restorable) {
  small_backup b;
  fs::remove(b.store.file(b.id + "/manifest.json"));
  auto r = run_kage({"list", "--from", b.store.path()});
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.out, "incomplete"), r.out);
  redis_server target(redis_options{});
  r = run_kage({"restore", "--node", target.address(), "--from", b.store.path()});
  BOOST_TEST(r.exit_code == exit_incompatible, describe(r));
  r = run_kage({"restore", "--node", target.address(), "--from", b.store.path(), "--id",
                "20200101T000000.000Z"});
  BOOST_TEST(r.exit_code == exit_incompatible, describe(r));
}

BOOST_AUTO_TEST_CASE(prune_keeps_a_backup_whose_manifest_it_cannot_read) {
  small_backup b;
  const std::string old_id = "20200101T000000.000Z";
  fs::create_directories(b.store.file(old_id));
  fs::copy_file(b.object, b.store.file(old_id + "/shard-00.resp.zst"));
  std::ofstream(b.store.file(old_id + "/manifest.json")) << "{\"format\": 2}";  // a newer kage's
  auto r = run_kage({"prune", "--from", b.store.path(), "--keep-last", "1", "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(fs::exists(b.store.file(old_id + "/manifest.json")), r.out);
  BOOST_TEST(json_result(r).at("kept_damaged").as_array().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(guards)

BOOST_AUTO_TEST_CASE(keys_outside_database_0_are_not_silently_left_out) {
  redis_server server(redis_options{});
  server.cli({"SET", "a", "1"});
  server.cli({"-n", "3", "SET", "b", "2"});
  temp_dir store("store");
  auto r = run_kage({"backup", "--node", server.address(), "--to", store.path()});
  BOOST_TEST(r.exit_code == 1, describe(r));
  BOOST_TEST(contains(r.err, "db3"), r.err);
  expect_nothing_complete(store.path());
}

BOOST_AUTO_TEST_CASE(dry_run_reports_refusals_instead_of_counting_them_missing) {
  redis_options o;
  o.acl_lines = {"user narrow on >pw ~user:* +@all"};
  redis_server server(o);
  test_client c(server.address());
  c.load({{"SET", "user:1", "a"}, {"SET", "other:1", "b"}});
  temp_dir store("store");
  auto r = run_kage({"backup", "--node", server.address(), "--to", store.path(), "--quiet"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  r = run_kage({"restore", "--node", server.address(), "--from", store.path(), "--dry-run",
                "--user", "narrow"},
               {{"REDISCLI_AUTH", "pw"}});
  BOOST_TEST(r.exit_code == 3, describe(r));
  BOOST_TEST(contains(r.err, "NOPERM"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(storing)

BOOST_AUTO_TEST_CASE(full_disk) {
  // A 1 MiB filesystem and 4 MB of incompressible values.
  temp_dir mount_point("tiny");
  BOOST_TEST_REQUIRE(::mount("tmpfs", mount_point.path().c_str(), "tmpfs", 0, "size=1m") == 0,
                     "mount tmpfs (the test suite runs as root): " << std::strerror(errno));
  struct unmount {
    std::string path;
    ~unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } guard{mount_point.path()};

  redis_server server(redis_options{});
  test_client c(server.address());
  c.load(string_keys(4000, 1000));
  auto r = run_kage({"backup", "--node", server.address(), "--to", mount_point.path() + "/b"});
  BOOST_TEST(r.exit_code == exit_store, describe(r));
  BOOST_TEST(contains(r.err, "No space left on device"), r.err);
  expect_nothing_complete(mount_point.path());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(during_backup)

BOOST_AUTO_TEST_CASE(master_killed_mid_backup_is_followed_to_its_replica) {
  redis_cluster source(3, 1, cluster_node());
  test_client src(source.seed());
  src.load(string_keys(60000, 16));
  for (auto* m : source.masters()) m->cli({"WAIT", "1", "5000"});
  const auto total = src.dbsize();

  temp_dir store("store");
  // One key at a time so the backup is still running when the master dies.
  background_process backup({kage_binary(), "backup", "--node", source.seed(), "--to", store.path(),
                             "--window", "1", "--scan-count", "1", "--json"});
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  BOOST_TEST_REQUIRE(backup.running(), "the backup finished before the master was killed");
  source.masters()[1]->kill(SIGKILL);
  auto r = backup.wait(std::chrono::seconds(240));
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.err, "promoted"), r.err);
  BOOST_TEST(json_result(r).at("keys").as_int64() == static_cast<std::int64_t>(total));
  r = run_kage({"verify", "--from", store.path()});
  BOOST_TEST(r.exit_code == 0, describe(r));
}

// SIGTERM in the middle of a backup: exit 130, "nothing was kept", and it is true: the objects
// already written are removed, only status.json says what happened.
BOOST_AUTO_TEST_CASE(sigterm_mid_backup_leaves_nothing_behind) {
  redis_cluster source(3, 0, cluster_node());
  test_client src(source.seed());
  src.load(string_keys(60000, 16));
  temp_dir store("store");
  background_process backup({kage_binary(), "backup", "--node", source.seed(), "--to", store.path(),
                             "--window", "1", "--scan-count", "1"});
  // Wait until some shard has written an object, then stop the backup.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto files = [&] {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(store.path()))
      if (e.is_regular_file()) out.push_back(e.path().filename().string());
    return out;
  };
  while (files().empty() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST_REQUIRE(!files().empty(), "the backup wrote nothing within 30 s");
  BOOST_TEST_REQUIRE(backup.running(), "the backup finished before SIGTERM");
  backup.kill(SIGTERM);
  auto r = backup.wait(std::chrono::seconds(60));
  BOOST_TEST(r.exit_code == 130, describe(r));
  BOOST_TEST(contains(r.err, "nothing was kept"), r.err);
  BOOST_TEST(!contains(r.err, "cleanup of the abandoned backup failed"), r.err);
  for (const auto& f : files()) BOOST_TEST(f == "status.json", "left behind: " << f);
}

// SIGTERM in the middle of a snapshot, after one shard's RDB was committed: exit 130 and that
// RDB is removed again (the cleanup runs after the cancellation and must not be cancelled).
BOOST_AUTO_TEST_CASE(sigterm_mid_snapshot_leaves_nothing_behind) {
  redis_cluster source(3, 0, cluster_node());
  test_client src(source.seed());
  src.load(string_keys(30000, 16));
  // Two shards stream slowly (30 ms a key); the first finishes at once.
  for (std::size_t i = 1; i < source.masters().size(); ++i)
    source.masters()[i]->cli({"CONFIG", "SET", "rdb-key-save-delay", "30000"});
  temp_dir store("store");
  background_process snap(
      {kage_binary(), "snapshot", "--node", source.seed(), "--to", store.path()});
  auto rdbs = [&] {
    std::size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(store.path()))
      n += e.is_regular_file() && e.path().extension() == ".rdb" ? 1 : 0;
    return n;
  };
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (rdbs() == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST_REQUIRE(rdbs() >= 1u, "no shard's RDB was committed within 30 s");
  BOOST_TEST_REQUIRE(snap.running(), "the snapshot finished before SIGTERM");
  snap.kill(SIGTERM);
  auto r = snap.wait(std::chrono::seconds(60));
  BOOST_TEST(r.exit_code == 130, describe(r));
  BOOST_TEST(!contains(r.err, "cleanup of the abandoned snapshot failed"), r.err);
  BOOST_TEST(rdbs() == 0u, "an RDB of the interrupted snapshot was left behind");
  for (auto* m : source.masters()) m->kill();  // their slow BGSAVE children go with them
}

BOOST_AUTO_TEST_CASE(master_killed_without_replica_fails_cleanly) {
  redis_cluster source(3, 0, cluster_node());
  test_client src(source.seed());
  src.load(string_keys(60000, 16));
  temp_dir store("store");
  background_process backup({kage_binary(), "backup", "--node", source.seed(), "--to", store.path(),
                             "--window", "1", "--scan-count", "1", "--failover-timeout", "3000"});
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  BOOST_TEST_REQUIRE(backup.running(), "the backup finished before the master was killed");
  const std::string victim = source.masters()[2]->address();
  source.masters()[2]->kill(SIGKILL);
  auto r = backup.wait(std::chrono::seconds(120));
  BOOST_TEST(r.exit_code == exit_redis, describe(r));
  BOOST_TEST(contains(r.err, victim), r.err);
  BOOST_TEST(contains(r.err, "no manifest was written"), r.err);
  expect_nothing_complete(store.path());
  auto ids = backup_ids(store.path());
  for (const auto& id : ids) BOOST_TEST(fs::is_empty(store.file(id)), id);
}

BOOST_AUTO_TEST_CASE(keys_expiring_and_deleted_during_backup) {
  redis_server server(redis_options{});
  test_client c(server.address());
  std::vector<command> cmds;
  for (int i = 0; i < 20000; ++i) {
    cmds.push_back({"SET", "k:" + std::to_string(i), "v", "PX", std::to_string(200 + i / 10)});
    cmds.push_back({"SET", "keep:" + std::to_string(i), "v"});
  }
  c.load(cmds);
  temp_dir store("store");
  background_process backup({kage_binary(), "backup", "--node", server.address(), "--to",
                             store.path(), "--window", "1", "--scan-count", "1", "--json"});
  // Delete keys while the backup runs, too.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<command> dels;
  for (int i = 0; i < 20000; i += 2) dels.push_back({"DEL", "keep:" + std::to_string(i)});
  c.load(dels);
  auto r = backup.wait(std::chrono::seconds(240));
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  auto out = json_result(r);
  const auto keys = out.at("keys").as_int64();
  const auto vanished = out.at("vanished").as_int64();
  BOOST_TEST(keys + vanished <= 40000);
  BOOST_TEST(keys >= 10000);  // the undeleted half of keep:* is always there
  BOOST_TEST_MESSAGE("backed up " << keys << ", vanished " << vanished);
  r = run_kage({"verify", "--from", store.path()});
  BOOST_TEST(r.exit_code == 0, describe(r));

  // Restoring later skips what has expired by then and brings back the rest.
  std::this_thread::sleep_for(std::chrono::milliseconds(2300));
  redis_server target(redis_options{});
  r = run_kage({"restore", "--node", target.address(), "--from", store.path(), "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  auto o = json_result(r);
  BOOST_TEST(o.at("restored").as_int64() + o.at("expired").as_int64() == keys);
  test_client t(target.address());
  BOOST_TEST(t.dbsize() == static_cast<std::size_t>(o.at("restored").as_int64()));
  for (int i = 1; i < 20000; i += 2) {
    BOOST_TEST_REQUIRE(t.exec({"EXISTS", "keep:" + std::to_string(i)}).value == "1");
  }
}

BOOST_AUTO_TEST_SUITE_END()
