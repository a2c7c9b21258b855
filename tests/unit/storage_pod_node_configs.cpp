// manifest.json's optional pod_node_configs (storage/FORMAT.md, section 8): written only when
// there are some, round-tripped, absent in older manifests, strictly checked when present.
#include <kage/storage/manifest.hpp>
#include <kage/storage/sha256.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

namespace ks = kage::storage;

namespace {

ks::manifest with_pods() {
  ks::manifest m;
  m.id = "20261122T021155.123Z";
  m.kage_version = "0.1.0";
  m.started_at = "2026-11-22T02:11:55.123Z";
  m.finished_at = "2026-11-22T02:12:07.456Z";
  m.redis_version = "7.2.4";
  ks::pod_node_config read;
  read.pod = "redis-0";
  read.path = "/bitnami/redis/data/nodes.conf";
  read.node_id = std::string(40, 'a');
  read.name = "pods/redis-0.nodes.conf";
  read.bytes = 812;
  read.sha256 = ks::sha256_hex("x");
  ks::pod_node_config missing;
  missing.pod = "redis-1";
  missing.path = read.path;
  missing.error = "cat exited with code 1 (cat: nodes.conf: No such file or directory)";
  m.pod_node_configs = {read, missing};
  return m;
}

std::string parse_error(const std::string& json) {
  std::string message;
  auto r = ks::parse_manifest(json, &message);
  BOOST_TEST(!r);
  return message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(storage_pod_node_configs)

BOOST_AUTO_TEST_CASE(round_trip_and_absent_when_empty) {
  const auto m = with_pods();
  const std::string json = ks::to_json(m);
  std::string message;
  auto parsed = ks::parse_manifest(json, &message);
  BOOST_REQUIRE_MESSAGE(parsed, message);
  BOOST_REQUIRE(parsed->pod_node_configs.size() == 2u);
  const auto& a = parsed->pod_node_configs[0];
  BOOST_TEST(a.pod == "redis-0");
  BOOST_TEST(a.node_id == std::string(40, 'a'));
  BOOST_TEST(a.name == "pods/redis-0.nodes.conf");
  BOOST_TEST(a.bytes == 812u);
  BOOST_TEST(a.error == "");
  BOOST_TEST(parsed->pod_node_configs[1].error == m.pod_node_configs[1].error);
  BOOST_TEST(ks::to_json(*parsed) == json);

  // Without pods the manifest is what it was before (older kage reads it, and it reads older).
  ks::manifest plain = m;
  plain.pod_node_configs.clear();
  const std::string old = ks::to_json(plain);
  BOOST_TEST(old.find("pod_node_configs") == std::string::npos);
  auto back = ks::parse_manifest(old, &message);
  BOOST_REQUIRE_MESSAGE(back, message);
  BOOST_TEST(back->pod_node_configs.empty());
}

BOOST_AUTO_TEST_CASE(entries_are_checked) {
  auto edited = [](auto edit) {
    boost::json::value doc = boost::json::parse(ks::to_json(with_pods()));
    edit(doc.as_object()["pod_node_configs"].as_array());
    return boost::json::serialize(doc);
  };
  BOOST_TEST(
      parse_error(edited([](boost::json::array& a) { a[0].as_object()["name"] = "../escape"; })) ==
      "manifest.json: field 'pod_node_configs[0].name' must be "
      "\"pods/<pod>.nodes.conf\"");
  BOOST_TEST(parse_error(edited([](boost::json::array& a) {
               a[0].as_object()["sha256"] = "xyz";
             })).find("pod_node_configs[0].sha256") != std::string::npos);
  BOOST_TEST(parse_error(edited([](boost::json::array& a) {
               a[1].as_object()["name"] = "pods/redis-1.nodes.conf";
             })).find("must be empty when") != std::string::npos);
  BOOST_TEST(parse_error(edited([](boost::json::array& a) {
               a[0].as_object().erase("node_id");
             })) == "manifest.json: field 'pod_node_configs[0].node_id' is missing");
  BOOST_TEST(parse_error(edited([](boost::json::array& a) {
               a[0].as_object()["pod"] = "a/b";
             })).find("pod_node_configs[0].pod") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
