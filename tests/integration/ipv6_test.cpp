// IPv6 everywhere: a Redis Cluster on ::1 (--node [::1]:PORT, CLUSTER NODES/SHARDS and MOVED
// with unbracketed IPv6), S3 at http://[::1]:PORT, kage run's --listen [::1]:PORT.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_moto.hpp"
#include "fixture_redis.hpp"

#include <thread>

using namespace kage::test;
namespace json = boost::json;

namespace {

redis_options on_ipv6(bool cluster) {
  redis_options o;
  o.host = "::1";
  o.cluster = cluster;
  return o;
}

void expect_same(const std::map<std::string, key_state>& before,
                 const std::map<std::string, key_state>& after) {
  BOOST_TEST(before.size() == after.size());
  std::size_t differing = 0;
  for (const auto& [key, state] : before) {
    auto it = after.find(key);
    if (it == after.end() || !(it->second == state)) ++differing;
  }
  BOOST_TEST(differing == 0u);
}

// GET http://[::1]:port/path through Python's standard library; the status, 0 if none.
int http_status(int port, const std::string& path) {
  const std::string script =
      "import sys, urllib.request, urllib.error\n"
      "try:\n"
      "    s = urllib.request.urlopen('http://[::1]:" +
      std::to_string(port) + path +
      "', timeout=5).status\n"
      "except urllib.error.HTTPError as e:\n"
      "    s = e.code\n"
      "except Exception:\n"
      "    s = 0\n"
      "sys.stdout.write(str(s))\n";
  auto r = run_process({"python3", "-c", script}, {}, std::chrono::seconds(20));
  try {
    return std::stoi(r.out);
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(cluster_on_ipv6_loopback_backup_verify_restore) {
  redis_cluster cluster(3, 1, on_ipv6(true));
  BOOST_TEST_REQUIRE(cluster.seed().starts_with("[::1]:"), cluster.seed());
  // The cluster bus formed on ::1: every node lists the others at ::1.
  const std::string nodes = cluster.nodes()[0]->cli({"CLUSTER", "NODES"});
  BOOST_TEST(nodes.find("127.0.0.1") == std::string::npos, nodes);
  BOOST_TEST(nodes.find(" ::1:") != std::string::npos, nodes);

  test_client client(cluster.seed());
  client.load(every_type_commands("v6:", 20));
  const auto before = client.snapshot();
  BOOST_TEST_REQUIRE(before.size() > 200u);

  temp_dir store("store");
  auto r = run_kage({"backup", "--node", cluster.seed(), "--to", store.path(), "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("keys").as_int64() == static_cast<std::int64_t>(before.size()));
  const std::string id = only_backup(store.path());
  // The manifest names the masters as kage reads them back: [::1]:PORT.
  const auto objects = manifest(store.path(), id).at("objects").as_array();
  BOOST_TEST(objects.size() == 3u);
  for (const auto& o : objects) {
    const std::string master(o.at("master_address").as_string());
    BOOST_TEST(master.starts_with("[::1]:"), master);
  }

  r = run_kage({"verify", "--from", store.path()});
  BOOST_TEST(r.exit_code == 0, describe(r));

  for (const auto& master : client.masters()) {
    BOOST_TEST(master.starts_with("[::1]:"), master);
    client.exec_on(master, {"FLUSHALL"});
  }
  BOOST_TEST_REQUIRE(client.dbsize() == 0u);
  // Any node is a seed, a replica too.
  const std::string replica = cluster.replicas_of(*cluster.masters()[0]).at(0)->address();
  r = run_kage({"restore", "--node", replica, "--from", store.path(), "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("restored").as_int64() == static_cast<std::int64_t>(before.size()));
  expect_same(before, client.snapshot());
}

BOOST_AUTO_TEST_CASE(s3_endpoint_on_ipv6_loopback) {
  moto_server s3(std::nullopt, "::1");
  BOOST_TEST_REQUIRE(s3.endpoint().starts_with("http://[::1]:"), s3.endpoint());
  redis_server server(on_ipv6(false));
  test_client client(server.address());
  client.load(every_type_commands("s3v6:", 10));
  const auto before = client.snapshot();

  auto r = run_kage({"backup", "--node", server.address(), "--to", "s3://kage-test/v6", "--json"},
                    s3.env());
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  const std::string id(json_result(r).at("id").as_string());
  // boto3 sees the objects kage wrote through http://[::1]:PORT.
  const auto objects = json::parse(s3.tool({"objects", "v6/" + id + "/"})).as_array();
  BOOST_TEST(objects.size() == 3u);  // one shard, manifest, claim.json

  r = run_kage({"verify", "--from", "s3://kage-test/v6"}, s3.env());
  BOOST_TEST(r.exit_code == 0, describe(r));
  client.exec({"FLUSHALL"});
  r = run_kage({"restore", "--node", server.address(), "--from", "s3://kage-test/v6", "--json"},
               s3.env());
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  expect_same(before, client.snapshot());
}

BOOST_AUTO_TEST_CASE(run_listens_on_ipv6) {
  redis_server server(on_ipv6(false));
  temp_dir dir;
  const auto config = dir.file("empty.yaml");
  write_file(config, "");
  const int port = free_port();
  std::map<std::string, std::string> env{{"SCHEDULE_TIME", "3600"},
                                         {"REDIS_NODE", server.address()},
                                         {"BACKUP_DIR", dir.file("store")}};
  background_process run(
      {kage_binary(), "run", "--config", config, "--listen", "[::1]:" + std::to_string(port)}, env);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < deadline && run.running()) {
    status = http_status(port, "/healthz");
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  BOOST_TEST(status == 200, run.err());
  run.kill(SIGTERM);
  auto r = run.wait(std::chrono::seconds(60));
  BOOST_TEST(r.exit_code == 0, describe(r));
}

BOOST_AUTO_TEST_CASE(ipv6_mistakes_are_usage_errors) {
  auto r = run_kage({"backup", "--node", "::1:7000", "--to", "/nonexistent"});
  BOOST_TEST(r.exit_code == 2, describe(r));
  BOOST_TEST(contains(r.err, "[::1]:7000"), r.err);  // says how to write it

  r = run_kage({"list", "--from", "s3://kage-test"}, {{"S3_ENDPOINT_URL", "http://::1:9000"},
                                                      {"AWS_ACCESS_KEY_ID", "a"},
                                                      {"AWS_SECRET_ACCESS_KEY", "b"}});
  BOOST_TEST(r.exit_code == 2, describe(r));
  BOOST_TEST(contains(r.err, "http://::1:9000"), r.err);
}
