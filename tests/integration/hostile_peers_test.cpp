// Issue 14's defects found by hostile input, each driven through the kage binary: concurrent
// runs into one location, lying and trickling Redis nodes (tests/common/fake_redis.py), runs
// killed mid-way, restores into a cluster that is not ready yet.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_moto.hpp"
#include "fixture_redis.hpp"

#include <filesystem>
#include <map>
#include <set>
#include <thread>

using namespace kage::test;
namespace fs = std::filesystem;

namespace {

// tests/common/fake_redis.py on a free port, ready to answer.
struct fake_redis {
  int port = free_port();
  background_process proc;
  explicit fake_redis(const std::string& mode) {
    proc.start({"python3", source_dir() + "/tests/common/fake_redis.py", "--port",
                std::to_string(port), "--mode", mode});
    BOOST_TEST_REQUIRE(proc.wait_for_output("ready", std::chrono::seconds(10)),
                       "fake_redis did not start: " << proc.err());
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

std::vector<command> numbered_keys(const std::string& prefix, int n) {
  std::vector<command> c;
  for (int i = 0; i < n; ++i) c.push_back({"SET", prefix + std::to_string(i), "v"});
  return c;
}

}  // namespace

// Defect 1: ids were the start time in ms, unclaimed; two runs in one millisecond shared one.
BOOST_AUTO_TEST_SUITE(one_writer_per_id)

BOOST_AUTO_TEST_CASE(concurrent_backups_into_one_directory_get_distinct_ids) {
  redis_server a{redis_options{}}, b{redis_options{}};
  test_client(a.address()).load(numbered_keys("a:", 50));
  test_client(b.address()).load(numbered_keys("b:", 80));
  temp_dir store("store");
  constexpr int rounds = 4, runs = 8;
  for (int round = 0; round < rounds; ++round) {
    std::vector<background_process> procs(runs);
    for (int i = 0; i < runs; ++i)
      procs[i].start({kage_binary(), "backup", "--node", (i % 2 ? b : a).address(), "--to",
                      store.path(), "--quiet"});
    for (auto& p : procs) {
      const auto r = p.wait(std::chrono::seconds(120));
      BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
    }
  }
  // One backup per run, each with the keys of the server it read.
  const auto ids = backup_ids(store.path());
  BOOST_TEST(ids.size() == std::size_t{rounds * runs});
  std::map<std::string, int> per_server;
  for (const auto& id : ids) {
    const auto m = manifest(store.path(), id);
    BOOST_TEST(m.at("id").as_string() == id);
    const auto& o = m.at("objects").as_array().at(0).as_object();
    const std::string from(o.at("master_address").as_string());
    ++per_server[from];
    BOOST_TEST(m.at("total_keys").to_number<int>() == (from == a.address() ? 50 : 80), id);
    BOOST_TEST(fs::exists(store.file(id + "/claim.json")), id);
  }
  BOOST_TEST(per_server[a.address()] == rounds * runs / 2);
  BOOST_TEST(per_server[b.address()] == rounds * runs / 2);
  const auto v = run_kage({"verify", "--from", store.path(), "--id", ids.back()});
  BOOST_TEST(v.exit_code == 0, describe(v));
}

BOOST_AUTO_TEST_SUITE_END()

// Defect 3: whatever DUMP returned was archived and the backup called complete.
BOOST_AUTO_TEST_SUITE(dump_payloads_checked_as_read)

BOOST_AUTO_TEST_CASE(an_honest_fake_node_backs_up) {
  // The fake itself is sound: its payload passes, so the failures below are the checks'.
  fake_redis node("honest");
  temp_dir store("store");
  auto r = run_kage({"backup", "--node", node.address(), "--to", store.path(), "--quiet"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  r = run_kage({"verify", "--from", store.path()});
  BOOST_TEST(r.exit_code == 0, describe(r));
}

BOOST_AUTO_TEST_CASE(a_lying_dump_reply_fails_the_backup) {
  const std::map<std::string, std::string> expected = {
      {"flipped-crc", "returned a payload that fails its own CRC64 check"},
      {"text", "returned a payload that fails its own CRC64 check"},
      {"integer", "answered '5', not a DUMP payload"},
  };
  for (const auto& [mode, message] : expected) {
    fake_redis node(mode);
    temp_dir store("store");
    auto r = run_kage({"backup", "--node", node.address(), "--to", store.path()});
    BOOST_TEST(r.exit_code == exit_redis, mode << "\n" << describe(r));
    BOOST_TEST(contains(r.err, "DUMP of 'k' on " + node.address() + " " + message), mode << "\n"
                                                                                         << r.err);
    BOOST_TEST(leftovers_of_failure(store.path()).empty(), mode);
    r = run_kage({"list", "--from", store.path()});
    BOOST_TEST(!contains(r.out, " complete "), mode << "\n" << describe(r));
  }
}

BOOST_AUTO_TEST_SUITE_END()

// Defect 4: runs killed mid-way left temporary files and open uploads that list hid and prune
// never removed.
BOOST_AUTO_TEST_SUITE(leftovers_of_killed_runs)

BOOST_AUTO_TEST_CASE(sigkill_mid_backup_then_prune_removes_the_temporary_files) {
  redis_server server{redis_options{}};
  test_client(server.address()).load(random_keys("k", 40000, 500));
  temp_dir store("store");
  // One key in flight at a time: slow enough to be caught mid-way.
  background_process backup({kage_binary(), "backup", "--node", server.address(), "--to",
                             store.path(), "--window", "1", "--quiet"});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (leftovers_of_failure(store.path()).empty() && backup.running() &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // some bytes in it
  BOOST_TEST_REQUIRE(backup.running(), "the backup finished before SIGKILL");
  backup.kill(SIGKILL);
  backup.wait(std::chrono::seconds(10));
  const auto left = leftovers_of_failure(store.path());
  BOOST_TEST_REQUIRE(left.size() == 1u);
  BOOST_TEST(contains(left[0], ".shard-00.resp.zst.tmp-"), left[0]);

  auto r = run_kage({"list", "--from", store.path()});
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.out, "1 temporary file(s) or unfinished upload(s) left by interrupted"),
             r.out);
  r = run_kage({"prune", "--from", store.path(), "--keep-last", "10", "--grace", "1h"});
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(leftovers_of_failure(store.path()).size() == 1u);  // younger than the grace period
  r = run_kage({"prune", "--from", store.path(), "--keep-last", "10", "--grace", "0s"});
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.out, "(temporary file, "), r.out);
  BOOST_TEST(leftovers_of_failure(store.path()).empty());
  BOOST_TEST(backup_ids(store.path()).empty());  // the claimed, interrupted backup went too
}

BOOST_AUTO_TEST_CASE(sigkill_mid_upload_then_prune_aborts_the_upload) {
  moto_server s3;
  redis_server server{redis_options{}};
  test_client(server.address()).load(random_keys("k", 30000, 1000));  // ~30 MB: several parts
  s3_fault_proxy proxy(s3, "delay-parts:3000");
  auto env = s3.env();
  env["S3_ENDPOINT_URL"] = proxy.endpoint();
  background_process backup(
      {kage_binary(), "backup", "--node", server.address(), "--to", "s3://kage-test/kill",
       "--part-size-mb", "5", "--parts-in-flight", "2"},
      env);
  const auto open_uploads = [&] {
    return boost::json::parse(s3.tool({"uploads"})).as_array().size();
  };
  // Killed once its multipart upload is open: 6 parts, 2 at a time, each held back 3 s by the
  // proxy, leave about 9 s between the upload opening and completing.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (open_uploads() == 0 && backup.running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  BOOST_TEST_REQUIRE(backup.running(), "the backup finished before SIGKILL");
  backup.kill(SIGKILL);
  backup.wait(std::chrono::seconds(10));
  BOOST_TEST_REQUIRE(open_uploads() == 1u, "the backup said: " << backup.err());

  auto r = run_kage({"list", "--from", "s3://kage-test/kill"}, s3.env());
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.out, "(unfinished upload "), r.out);
  r = run_kage({"prune", "--from", "s3://kage-test/kill", "--keep-last", "10", "--grace", "0s"},
               s3.env());
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.out, "(unfinished upload "), r.out);
  BOOST_TEST(open_uploads() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// Defect 11: a master answering CLUSTERDOWN (a cluster created a moment ago, a failover) failed
// the restore; backup already waited.
BOOST_AUTO_TEST_SUITE(restore_waits_for_the_cluster)

BOOST_AUTO_TEST_CASE(a_master_briefly_reporting_clusterdown) {
  redis_server source{redis_options{}};
  test_client src(source.address());
  src.load(every_type_commands("r:", 100));
  const auto before = src.snapshot();
  temp_dir store("store");
  auto r = run_kage({"backup", "--node", source.address(), "--to", store.path(), "--quiet"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));

  redis_cluster target(3, 0, cluster_node());
  // The owner of slot 0 forgets it: it alone says the cluster is down, the others still see it
  // serving its slots.
  redis_server& down = *target.masters().front();
  const std::string seed = target.masters().back()->address();
  down.cli({"CLUSTER", "DELSLOTS", "0"});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (info_field(down.cli({"CLUSTER", "INFO"}), "cluster_state") != "fail") {
    BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < deadline), "cluster_state stays ok");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  background_process restore(
      {kage_binary(), "restore", "--node", seed, "--from", store.path(), "--json"});
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  BOOST_TEST_REQUIRE(restore.running(), "the restore ended while a master refused:\n"
                                            << restore.out() << restore.err());
  down.cli({"CLUSTER", "ADDSLOTS", "0"});
  r = restore.wait(std::chrono::seconds(120));
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.err, "CLUSTERDOWN"), r.err);  // it did wait
  BOOST_TEST(json_result(r).at("restored").as_int64() == static_cast<std::int64_t>(before.size()));
  const auto after = test_client(seed).snapshot();
  BOOST_TEST(after.size() == before.size());
  BOOST_TEST((after == before));
}

BOOST_AUTO_TEST_SUITE_END()

// Defect 2: --read-timeout bounded only the gap between reads; a peer trickling one byte a
// second held a handshake or a reply forever.
BOOST_AUTO_TEST_SUITE(whole_reply_deadline)

BOOST_AUTO_TEST_CASE(a_trickling_node_fails_within_the_read_timeout) {
  for (const std::string mode : {"trickle", "trickle-all"}) {
    fake_redis node(mode);
    temp_dir store("store");
    const auto start = std::chrono::steady_clock::now();
    auto r = run_kage({"backup", "--node", node.address(), "--to", store.path(), "--read-timeout",
                       "3000", "--connect-timeout", "3000"},
                      {}, std::chrono::seconds(90));
    const auto took = std::chrono::steady_clock::now() - start;
    BOOST_TEST(!r.timed_out, mode);
    BOOST_TEST(r.exit_code == exit_redis, mode << "\n" << describe(r));
    BOOST_TEST(contains(r.err, node.address() + " did not answer in time"), mode << "\n" << r.err);
    // 3 s for the reply, a few more for the watchdog's period and a loaded machine; a reply
    // read to its end at a byte a second takes 40 s and more.
    BOOST_TEST((took < std::chrono::seconds(15)), mode);
    BOOST_TEST(leftovers_of_failure(store.path()).empty(), mode);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// Defect 10: messages. Server text with terminal escape sequences was printed raw.
BOOST_AUTO_TEST_SUITE(messages)

BOOST_AUTO_TEST_CASE(terminal_escapes_in_server_errors_are_shown_not_obeyed) {
  fake_redis node("escape");
  temp_dir store("store");
  auto r = run_kage({"backup", "--node", node.address(), "--to", store.path()});
  BOOST_TEST(r.exit_code == exit_redis, describe(r));
  BOOST_TEST(!contains(r.err, "\x1b"), r.err);
  BOOST_TEST(contains(r.err, "ERR \\x1b[2J\\x1b[31mscreen cleared\\x1b[0m"), r.err);
  // With --log-format json the final error is a JSON line too (escaped by JSON).
  r = run_kage({"backup", "--node", node.address(), "--to", store.path(), "--log-format", "json"});
  BOOST_TEST(r.exit_code == exit_redis, describe(r));
  BOOST_TEST(!contains(r.err, "kage: error:"), r.err);
  BOOST_TEST(contains(r.err, "\"level\":\"error\""), r.err);
  BOOST_TEST(!contains(r.err, "\x1b"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
