// A Redis replicated by Sentinel (real redis-sentinel, three sentinels, a primary and two
// replicas on 127.0.0.x) as kage's source and target: discovery, prefer-replica, failovers in
// the middle of a backup and of a restore, and the errors a user meets first.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_redis.hpp"
#include "fixture_sentinel.hpp"

#include <sstream>
#include <thread>

using namespace kage::test;

namespace {

using clock = std::chrono::steady_clock;

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// Calls of `command` and of its subcommands (Redis 7 counts "cmdstat_cluster|shards").
std::int64_t commandstat_calls(redis_server& s, const std::string& command) {
  std::istringstream info(s.cli({"INFO", "commandstats"}));
  std::int64_t calls = 0;
  for (std::string line; std::getline(info, line);) {
    const std::string name = "cmdstat_" + command;
    if (line.rfind(name + ":", 0) != 0 && line.rfind(name + "|", 0) != 0) continue;
    const auto at = line.find("calls=");  // cmdstat_dump:calls=N,usec=...
    if (at != std::string::npos) calls += std::stoll(line.substr(at + 6));
  }
  return calls;
}

// SETs with distinct TTLs of 10 minutes and more.
std::vector<command> keys_with_ttls(int n) {
  std::vector<command> data;
  for (int i = 0; i < n; ++i)
    data.push_back({"SET", "ttl:" + std::to_string(i), "v", "PX", std::to_string(600000 + 7 * i)});
  return data;
}

std::map<std::string, std::int64_t> expire_times(test_client& c, int n) {
  std::map<std::string, std::int64_t> out;
  for (int i = 0; i < n; ++i) {
    const std::string key = "ttl:" + std::to_string(i);
    out[key] = std::stoll(c.exec({"PEXPIRETIME", key}).value);
  }
  return out;
}

// Every replica has what the primary has (WAIT, deadline 10 s).
void wait_replicated(sentinel_deployment& d) {
  const auto n = std::to_string(d.replicas().size());
  const std::string acked = trim(d.primary()->cli({"WAIT", n, "10000"}));
  BOOST_TEST_REQUIRE(acked == n, "replicas acknowledged " << acked << " of " << n);
}

std::vector<std::string> sentinel_flags(const sentinel_deployment& d) {
  std::vector<std::string> args;
  for (const auto& s : d.sentinels()) args.insert(args.end(), {"--sentinel", s});
  return args;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Keys enough that the backup or restore (slowed down with --window 1) lasts well past the
// ~10 s a forced failover takes to reach the old primary's clients.
constexpr int big_keys = 400000;
constexpr int ttl_keys = 300;

void load_big(sentinel_deployment& d) {
  // Not DEBUG POPULATE: it is not replicated. A script's writes are, as effects.
  constexpr int chunk = 50000;
  for (int first = 0; first < big_keys; first += chunk) {
    d.primary()->cli({"EVAL",
                      "for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do "
                      "redis.call('SET', 'big:' .. i, string.rep('v', 64)) end",
                      "0", std::to_string(first), std::to_string(first + chunk - 1)});
  }
  test_client c(d.primary()->address());
  c.load(keys_with_ttls(ttl_keys));
  wait_replicated(d);
}

// The failover tests stall the primary on purpose (DEBUG DIGEST of 400,000 keys took 5-6 s at
// load 13): with the default down-after-milliseconds (5 s) the sentinels took such a stall for
// a dead primary and failed over on their own at a random point (during the set-up, or
// colliding with the SENTINEL FAILOVER the test forces). Only the forced failover may happen.
sentinel_options patient() {
  sentinel_options o;
  o.down_after_ms = 60000;
  return o;
}

// Runs kage in the background and calls `during` once the primary has served `min_calls` of
// `command` (the job is well under way), then waits for kage.
process_result run_with_failover(sentinel_deployment& d, const std::vector<std::string>& args,
                                 const std::string& command, std::int64_t min_calls,
                                 std::string& old_primary) {
  redis_server* p = d.primary();
  const std::string started_on = p->address();
  const std::int64_t before = commandstat_calls(*p, command);
  background_process kage;
  kage.start(concat({kage_binary()}, args));
  const auto until = clock::now() + std::chrono::seconds(120);
  while (commandstat_calls(*p, command) - before < min_calls) {
    BOOST_TEST_REQUIRE(kage.running(), "kage ended before the failover: " << kage.err());
    BOOST_TEST_REQUIRE((clock::now() < until), "kage did not get going within 120 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_TEST_REQUIRE(kage.running(), "kage ended before the failover: " << kage.err());
  old_primary = d.start_failover();
  BOOST_TEST_REQUIRE(old_primary == started_on, "the sentinels failed over on their own (from "
                                                    << started_on
                                                    << ") before the forced failover");
  auto r = kage.wait(std::chrono::seconds(400));
  d.wait_settled();
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sentinel)

BOOST_AUTO_TEST_CASE(backup_via_sentinels_then_restore_into_a_fresh_primary) {
  sentinel_deployment d;
  test_client source(d.primary()->address());
  source.load(every_type_commands("s:", 10));
  source.load(keys_with_ttls(200));
  wait_replicated(d);
  const auto before = source.snapshot();
  const auto before_expiry = expire_times(source, 200);
  const auto cluster_calls = commandstat_calls(*d.primary(), "cluster");

  temp_dir store("store");
  auto r = run_kage(concat({"backup", "--to", store.path(), "--json"}, sentinel_flags(d)));
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("keys").as_int64() == static_cast<std::int64_t>(before.size()));
  const auto m = manifest(store.path(), only_backup(store.path()));
  BOOST_TEST(m.at("cluster").as_bool() == false);
  BOOST_TEST(m.at("objects").as_array().size() == 1u);
  // A Sentinel deployment is not a cluster: kage sends it no CLUSTER command.
  BOOST_TEST(commandstat_calls(*d.primary(), "cluster") == cluster_calls);

  // Into a fresh primary, by address.
  redis_server fresh(redis_options{});
  r = run_kage({"restore", "--node", fresh.address(), "--from", store.path(), "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  test_client restored(fresh.address());
  const auto after = restored.snapshot();
  BOOST_TEST(after.size() == before.size());
  for (const auto& [key, s] : before) {
    auto it = after.find(key);
    BOOST_TEST_REQUIRE((it != after.end()), "missing key " << key);
    BOOST_TEST((it->second == s), "value of " << key);
  }
  BOOST_TEST((expire_times(restored, 200) == before_expiry));

  // Into the deployment itself, through the sentinels (SENTINEL_NODES, SENTINEL_MASTER).
  d.primary()->cli({"FLUSHALL"});
  const auto cluster_calls_before_restore = commandstat_calls(*d.primary(), "cluster");
  r = run_kage({"restore", "--from", store.path(), "--json"},
               {{"SENTINEL_NODES", d.sentinel_list()}, {"SENTINEL_MASTER", "mymaster"}});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(commandstat_calls(*d.primary(), "cluster") == cluster_calls_before_restore);
  BOOST_TEST(json_result(r).at("restored").as_int64() == static_cast<std::int64_t>(before.size()));
  BOOST_TEST((expire_times(source, 200) == before_expiry));
  BOOST_TEST(source.dbsize() == before.size());
}

BOOST_AUTO_TEST_CASE(prefer_replica_reads_a_replica_then_falls_back_to_the_primary) {
  sentinel_deployment d;
  test_client source(d.primary()->address());
  source.load(every_type_commands("r:", 20));
  wait_replicated(d);
  const auto keys = static_cast<std::int64_t>(source.dbsize());
  std::map<std::string, std::int64_t> dumps;
  for (auto* s : d.servers()) dumps[s->address()] = commandstat_calls(*s, "dump");

  temp_dir store("store");
  auto r = run_kage(
      concat({"backup", "--to", store.path(), "--read-from", "prefer-replica"}, sentinel_flags(d)));
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  auto m = manifest(store.path(), only_backup(store.path()));
  const auto& object = m.at("objects").as_array().at(0).as_object();
  BOOST_TEST(object.at("read_role").as_string() == "replica");
  const std::string read_from(object.at("read_from").as_string());
  // The replica's own INFO shows the reads; the primary served none.
  std::int64_t replica_dumps = 0;
  for (auto* s : d.replicas()) {
    if (s->address() == read_from)
      replica_dumps = commandstat_calls(*s, "dump") - dumps[s->address()];
  }
  BOOST_TEST(replica_dumps >= keys);
  BOOST_TEST(commandstat_calls(*d.primary(), "dump") == dumps[d.primary()->address()]);

  // Replicas down: the primary is read.
  for (auto* s : d.replicas()) s->kill(SIGKILL);
  temp_dir store2("store");
  r = run_kage(concat({"backup", "--to", store2.path(), "--read-from", "prefer-replica", "--json"},
                      sentinel_flags(d)));
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("keys").as_int64() == keys);
  m = manifest(store2.path(), only_backup(store2.path()));
  BOOST_TEST(m.at("objects").as_array().at(0).as_object().at("read_role").as_string() == "master");
}

BOOST_AUTO_TEST_CASE(errors_are_clear_and_exit_3) {
  sentinel_options o;
  o.password = "sentinel-secret";
  o.replicas = 1;
  sentinel_deployment d(o);
  temp_dir store("store");
  const auto base = concat({"backup", "--to", store.path()}, sentinel_flags(d));

  // The right sentinel password works (the file form; a trailing newline is ignored).
  temp_dir secrets("secrets");
  write_file(secrets.file("sentinel-password"), "sentinel-secret\n");
  temp_dir good_store("store");
  auto r = run_kage(concat({"backup", "--to", good_store.path(), "--sentinel-password-file",
                            secrets.file("sentinel-password")},
                           sentinel_flags(d)));
  BOOST_TEST(r.exit_code == 0, describe(r));

  // A wrong one.
  r = run_kage(base, {{"SENTINEL_PASSWORD", "wrong"}});
  BOOST_TEST(r.exit_code == exit_redis, describe(r));
  BOOST_TEST(contains(r.err, "refused kage's credentials"), r.err);
  BOOST_TEST(contains(r.err, "SENTINEL_PASSWORD"), r.err);
  BOOST_TEST(!contains(r.err, "wrong"), r.err);  // the password itself is never printed

  // No password where one is needed.
  r = run_kage(base);
  BOOST_TEST(r.exit_code == exit_redis, describe(r));
  BOOST_TEST(contains(r.err, "SENTINEL_PASSWORD"), r.err);

  // An unknown master name.
  r = run_kage(concat(base, {"--master-name", "nosuch"}),
               {{"SENTINEL_PASSWORD", "sentinel-secret"}});
  BOOST_TEST(r.exit_code == exit_redis, describe(r));
  BOOST_TEST(contains(r.err, "no master named 'nosuch'"), r.err);
  BOOST_TEST(contains(r.err, "'mymaster'"), r.err);  // the names they do monitor
  BOOST_TEST(contains(r.err, "--master-name"), r.err);

  // No sentinel reachable: ports nobody listens on.
  const std::string nobody1 = host_port("127.0.0.1", free_port());
  const std::string nobody2 = host_port("127.0.0.2", free_port());
  r = run_kage({"backup", "--to", store.path(), "--sentinel", nobody1, "--sentinel", nobody2});
  BOOST_TEST(r.exit_code == exit_redis, describe(r));
  BOOST_TEST(contains(r.err, "no sentinel answered"), r.err);
  BOOST_TEST(contains(r.err, nobody1), r.err);
  BOOST_TEST(contains(r.err, nobody2), r.err);

  // Nodes and sentinels together is a usage error.
  r = run_kage(concat(base, {"--node", d.primary()->address()}));
  BOOST_TEST(r.exit_code == exit_usage, describe(r));
  BOOST_TEST(leftovers_of_failure(store.path()).empty());
}

BOOST_AUTO_TEST_CASE(failover_in_the_middle_of_a_backup) {
  sentinel_deployment d(patient());
  load_big(d);
  const std::string digest = trim(d.primary()->cli({"DEBUG", "DIGEST"}));
  test_client source(d.primary()->address());
  const auto expiry = expire_times(source, ttl_keys);

  temp_dir store("store");
  std::string old_primary;
  const auto started = clock::now();
  auto r = run_with_failover(
      d,
      concat({"backup", "--to", store.path(), "--window", "1", "--scan-count", "10", "--json"},
             sentinel_flags(d)),
      "dump", 2000, old_primary);
  BOOST_TEST_MESSAGE("backup with a failover took "
                     << std::chrono::duration<double>(clock::now() - started).count() << " s");
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(d.primary()->address() != old_primary);
  // The failover reached the backup (it was under way, not finished), and it was followed.
  BOOST_TEST(contains(r.err, "waiting for"), r.err);
  // Learnt from the sentinels' pub/sub, before the old primary stopped serving reads.
  BOOST_TEST(contains(r.err, "+switch-master from sentinel"), r.err);
  BOOST_TEST(json_result(r).at("keys").as_int64() == big_keys + ttl_keys);
  const auto m = manifest(store.path(), only_backup(store.path()));
  BOOST_TEST(m.at("objects").as_array().at(0).as_object().at("master_address").as_string() ==
             d.primary()->address());

  redis_server fresh(redis_options{});
  r = run_kage({"restore", "--node", fresh.address(), "--from", store.path()});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(trim(fresh.cli({"DEBUG", "DIGEST"})) == digest);
  test_client restored(fresh.address());
  BOOST_TEST((expire_times(restored, ttl_keys) == expiry));
}

BOOST_AUTO_TEST_CASE(failover_in_the_middle_of_a_restore) {
  sentinel_deployment d(patient());
  load_big(d);
  const std::string digest = trim(d.primary()->cli({"DEBUG", "DIGEST"}));
  test_client source(d.primary()->address());
  const auto expiry = expire_times(source, ttl_keys);
  temp_dir store("store");
  auto r = run_kage(concat({"backup", "--to", store.path()}, sentinel_flags(d)));
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  d.primary()->cli({"FLUSHALL"});
  wait_replicated(d);

  std::string old_primary;
  r = run_with_failover(
      d, concat({"restore", "--from", store.path(), "--window", "1", "--json"}, sentinel_flags(d)),
      "restore", 2000, old_primary);
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(d.primary()->address() != old_primary);
  BOOST_TEST(contains(r.err, "restoring every record again"), r.err);
  // Learnt from the sentinels' pub/sub, before the old primary answered READONLY.
  BOOST_TEST(contains(r.err, "+switch-master from sentinel"), r.err);
  // Nothing lost: writes the old primary took after the promotion are written again.
  BOOST_TEST(trim(d.primary()->cli({"DEBUG", "DIGEST"})) == digest);
  BOOST_TEST(trim(d.primary()->cli({"DBSIZE"})) == std::to_string(big_keys + ttl_keys));
  test_client restored(d.primary()->address());
  BOOST_TEST((expire_times(restored, ttl_keys) == expiry));
}

BOOST_AUTO_TEST_SUITE_END()
