// The existing deployments switch to kage without changing their environment: every cycle a
// backup of the PATTERN keys to BACKUP_DIR and to the S3 bucket, then a restore of the keys
// missing from the cluster. A copy that fails (S3 down, local disk full) does not fail the other.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_moto.hpp"
#include "fixture_redis.hpp"

#include <sys/mount.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

using namespace kage::test;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

template <class F>
bool eventually(F f, std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return f();
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The complete backups `kage list` sees in one location: id -> keys.
std::map<std::string, std::int64_t> complete_backups(
    const std::string& location, const std::map<std::string, std::string>& env) {
  auto r = run_kage({"list", "--from", location, "--json"}, env);
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  std::map<std::string, std::int64_t> out;
  const json::value list = json::parse(r.out);
  for (const auto& b : list.as_array()) {
    const auto& o = b.as_object();
    if (o.at("complete").as_bool())
      out[std::string(o.at("id").as_string())] = o.at("keys").to_number<std::int64_t>();
  }
  return out;
}

// Keys of the cluster starting with prefix.
std::size_t keys_with_prefix(test_client& c, const std::string& prefix) {
  std::size_t n = 0;
  for (const auto& [key, state] : c.snapshot()) n += key.starts_with(prefix) ? 1 : 0;
  return n;
}

// A cluster with keys of every type that match PATTERN ("keep:*,also:*") and keys that do not.
struct legacy_setup {
  moto_server s3;
  redis_cluster cluster{3, 0, cluster_options()};
  temp_dir dir{"legacy"};
  std::size_t matching = 0;

  static redis_options cluster_options() {
    redis_options o;
    o.cluster = true;
    return o;
  }

  legacy_setup() {
    test_client c(cluster.seed());
    c.load(every_type_commands("keep:", 2));
    c.load({{"SET", "also:one", "1"}, {"SET", "keep:deleted", "v", "PX", "600000"}});
    c.load(every_type_commands("other:", 2));
    matching = keys_with_prefix(c, "keep:") + keys_with_prefix(c, "also:");
  }

  // Exactly the existing deployments' variables (S3 credentials as their secret gives them).
  std::map<std::string, std::string> env(const std::string& endpoint,
                                         const std::string& backup_dir) {
    auto e = s3.env();
    e["SCHEDULE_TIME"] = "2";
    e["PATTERN"] = "keep:*,also:*";
    e["BACKUP_DIR"] = backup_dir;
    e["S3_ENDPOINT_URL"] = endpoint;
    e["S3_BUCKET_NAME"] = "kage-test";
    e["REDIS_NODE"] = cluster.seed();
    e["NODECONF_FILE_PATH"] = dir.file("nodes.conf");
    e["KUBECONFIG"] = dir.file("kubeconfig");
    return e;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_existing_deployments_cycle_with_their_variables_only) {
  legacy_setup u;
  const std::string backups = u.dir.file("backups");
  background_process run({kage_binary(), "run"}, u.env(u.s3.endpoint(), backups));
  BOOST_TEST_REQUIRE(run.wait_for_output("restore-missing from", std::chrono::seconds(90)),
                     run.err());
  // Said at start-up, in one line: each behaviour and the setting that turns it off.
  BOOST_TEST(contains(run.err(), "existing deployments' variables are in use"), run.err());
  BOOST_TEST(contains(run.err(), "keep:*,also:* (PATTERN"), run.err());
  BOOST_TEST(contains(run.err(), "RESTORE_MISSING=false turns it off"), run.err());
  BOOST_TEST(contains(run.err(), backups + " and s3://kage-test"), run.err());

  // A matching key deleted between cycles is back after the next ones, with its TTL.
  test_client c(u.cluster.seed());
  BOOST_TEST_REQUIRE(c.exec({"DEL", "keep:deleted"}).value == "1");
  BOOST_TEST_REQUIRE(c.exec({"DEL", "other:str:0"}).value == "1");  // not a PATTERN key
  const std::size_t restores = count_of(run.err(), "restore-missing from");
  BOOST_TEST_REQUIRE(
      eventually([&] { return count_of(run.err(), "restore-missing from") >= restores + 2; },
                 std::chrono::seconds(90)),
      run.err());
  BOOST_TEST(c.exec({"EXISTS", "keep:deleted"}).value == "1");
  const auto pttl = std::stoll(c.exec({"PTTL", "keep:deleted"}).value);
  BOOST_TEST(pttl > 0);
  BOOST_TEST(pttl <= 600000);
  BOOST_TEST(c.exec({"EXISTS", "other:str:0"}).value == "0");  // never backed up
  run.kill(SIGTERM);
  auto r = run.wait(std::chrono::seconds(60));
  BOOST_TEST(r.exit_code == 0, describe(r));

  // Complete backups in both places, holding only the PATTERN keys.
  const auto env = u.s3.env();
  const auto local = complete_backups(backups, env);
  const auto remote = complete_backups("s3://kage-test", env);
  BOOST_TEST(local.size() >= 2u);
  BOOST_TEST(remote.size() >= 2u);
  for (const auto& [id, keys] : local) {
    BOOST_TEST(remote.count(id) == 1u, id);
    BOOST_TEST(keys <= static_cast<std::int64_t>(u.matching));
    BOOST_TEST(keys >= static_cast<std::int64_t>(u.matching) - 1);  // keep:deleted, once
  }
  BOOST_TEST(local.begin()->second == static_cast<std::int64_t>(u.matching));
  auto shown = run_kage({"show", "--from", backups, "--id", local.begin()->first, "--json"}, env);
  BOOST_TEST_REQUIRE(shown.exit_code == 0, describe(shown));
  const json::value patterns = json::parse(shown.out).as_object().at("patterns");
  BOOST_TEST(patterns == json::value(json::array{"keep:*", "also:*"}), shown.out);
}

BOOST_AUTO_TEST_CASE(s3_unreachable_for_a_cycle_then_back) {
  legacy_setup u;
  s3_fault_proxy proxy(u.s3, "delay-parts:0");  // passes everything through
  const std::string backups = u.dir.file("backups");
  const int port = free_port();
  auto env = u.env(proxy.endpoint(), backups);
  env["KAGE_LISTEN"] = "127.0.0.1:" + std::to_string(port);
  background_process run({kage_binary(), "run"}, env);
  BOOST_TEST_REQUIRE(run.wait_for_output("copies complete in", std::chrono::seconds(90)),
                     run.err());

  proxy.stop();
  BOOST_TEST_REQUIRE(run.wait_for_output("copy FAILED in s3://kage-test", std::chrono::seconds(90)),
                     run.err());
  // The local copy of that backup completed; the failure is counted for the S3 location.
  BOOST_TEST(contains(run.err(), "; complete in " + backups), run.err());
  const std::string metrics =
      run_process({"python3", "-c",
                   "import urllib.request; print(urllib.request.urlopen("
                   "'http://127.0.0.1:" +
                       std::to_string(port) + "/metrics').read().decode())"},
                  {}, std::chrono::seconds(20))
          .out;
  BOOST_TEST(contains(metrics, "kage_location_failures_total{location=\"s3://kage-test\"} "),
             metrics);
  BOOST_TEST(!contains(metrics, "kage_location_failures_total{location=\"s3://kage-test\"} 0"),
             metrics);

  proxy.restart();
  const std::size_t before = count_of(run.err(), "copies complete in");
  BOOST_TEST_REQUIRE(eventually([&] { return count_of(run.err(), "copies complete in") > before; },
                                std::chrono::seconds(90)),
                     run.err());
  run.kill(SIGTERM);
  auto r = run.wait(std::chrono::seconds(60));
  BOOST_TEST(r.exit_code == 0, describe(r));
  // The next cycle uploaded again: the newest backup is complete in both places.
  const auto local = complete_backups(backups, u.s3.env());
  const auto remote = complete_backups("s3://kage-test", u.s3.env());
  BOOST_TEST_REQUIRE(!local.empty());
  BOOST_TEST(remote.count(local.rbegin()->first) == 1u);
  BOOST_TEST(remote.size() < local.size());  // the cycle without S3 is in BACKUP_DIR only
}

BOOST_AUTO_TEST_CASE(local_store_full_the_s3_copy_completes) {
  legacy_setup u;
  test_client c(u.cluster.seed());
  c.load(random_keys("keep:big", 300, 10000));  // ~3 MB, incompressible: more than the disk
  temp_dir mount_point("tiny");
  BOOST_TEST_REQUIRE(::mount("tmpfs", mount_point.path().c_str(), "tmpfs", 0, "size=1m") == 0,
                     "mount tmpfs (the test suite runs as root): " << std::strerror(errno));
  struct unmount {
    std::string path;
    ~unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } guard{mount_point.path()};
  const std::string backups = mount_point.path() + "/backups";
  background_process run({kage_binary(), "run"}, u.env(u.s3.endpoint(), backups));
  BOOST_TEST_REQUIRE(run.wait_for_output("copy FAILED in " + backups, std::chrono::seconds(90)),
                     run.err());
  BOOST_TEST_REQUIRE(run.wait_for_output("restore-missing from", std::chrono::seconds(60)),
                     run.err());
  run.kill(SIGTERM);
  auto r = run.wait(std::chrono::seconds(60));
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.err, "No space left on device"), r.err);
  const auto remote = complete_backups("s3://kage-test", u.s3.env());
  BOOST_TEST_REQUIRE(!remote.empty());
  BOOST_TEST(remote.begin()->second == static_cast<std::int64_t>(u.matching + 300));
  BOOST_TEST(complete_backups(backups, u.s3.env()).empty());
}

BOOST_AUTO_TEST_CASE(restore_falls_back_to_s3_when_the_local_copy_is_gone) {
  legacy_setup u;
  const std::string backups = u.dir.file("backups");
  auto env = u.s3.env();
  env["BACKUP_DIR"] = backups;
  env["S3_BUCKET_NAME"] = "kage-test";
  env["PATTERN"] = "keep:*,also:*";
  auto b = run_kage({"backup", "--node", u.cluster.seed(), "--json"}, env);
  BOOST_TEST_REQUIRE(b.exit_code == 0, describe(b));
  const std::string id(json_result(b).at("id").as_string());
  BOOST_TEST(json_result(b).at("copies").as_array().size() == 2u);

  test_client c(u.cluster.seed());
  const auto before = c.snapshot();
  // One shard object missing locally: the restore reads it from S3 after the local read fails.
  fs::remove(fs::path(backups) / id / "shard-01.resp.zst");
  c.exec({"DEL", "keep:deleted"});
  auto r = run_kage({"restore", "--node", u.cluster.seed()}, env);
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.err, "restoring from the next location"), r.err);
  BOOST_TEST(c.exec({"EXISTS", "keep:deleted"}).value == "1");

  // The whole local copy gone: read from S3 from the start.
  fs::remove_all(fs::path(backups) / id);
  c.exec({"DEL", "keep:deleted"});
  r = run_kage({"restore", "--node", u.cluster.seed(), "--json"}, env);
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("restored").to_number<std::int64_t>() == 1);
  BOOST_TEST(c.snapshot() == before);
  auto list = run_kage({"list", "--json"}, env);
  BOOST_TEST_REQUIRE(list.exit_code == 0, describe(list));
  BOOST_TEST(contains(list.out, "\"locations\":[\"s3://kage-test\"]"), list.out);
}
