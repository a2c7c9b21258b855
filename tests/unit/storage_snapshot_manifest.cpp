// Snapshot manifests (kind "snapshot": RDB provenance, nodes.conf per node, nodes.json) and the
// status record: round trips, strictness, and logical manifests left exactly as they were.
#include <kage/storage/manifest.hpp>
#include <kage/storage/sha256.hpp>
#include <kage/storage/status.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

namespace ks = kage::storage;

namespace {

ks::manifest snapshot_manifest() {
  ks::manifest m;
  m.kind = "snapshot";
  m.id = "20261122T021155.123Z";
  m.kage_version = "0.1.0";
  m.started_at = "2026-11-22T02:11:55.123Z";
  m.finished_at = "2026-11-22T02:12:07.456Z";
  m.redis_version = "7.0.15";
  const std::string master(40, 'a'), replica(40, 'b');
  m.topology.push_back({master, "10.0.0.1:6379", "master", "", {{0, 16383}}});
  m.topology.push_back({replica, "10.0.0.2:6379", "replica", master, {}});
  ks::shard_object o;
  o.name = "shard-00.rdb";
  o.master_id = master;
  o.master_address = "10.0.0.1:6379";
  o.read_from = "10.0.0.2:6379";
  o.read_role = "replica";
  o.slots = {{0, 16383}};
  o.bytes = o.uncompressed_bytes = 123456;
  o.sha256 = ks::sha256_hex("rdb");
  o.node_id = replica;
  o.redis_version = "7.0.15";
  o.rdb_version = 10;
  o.transfer = "diskless";
  o.started_at = "2026-11-22T02:11:56.000Z";
  o.finished_at = "2026-11-22T02:12:07.000Z";
  m.objects.push_back(o);
  m.total_bytes = o.bytes;
  m.node_configs.push_back({master, "10.0.0.1:6379", "master", "", "nodes/" + master + ".conf", 300,
                            ks::sha256_hex("a"), "self", "10.0.0.1:6379"});
  m.node_configs.push_back({replica, "10.0.0.2:6379", "replica", master,
                            "nodes/" + replica + ".conf", 301, ks::sha256_hex("b"), "peer",
                            "10.0.0.1:6379"});
  m.cluster_view = {"nodes.json", 900, ks::sha256_hex("c")};
  return m;
}

std::string edited(const std::function<void(boost::json::object&)>& edit) {
  boost::json::value doc = boost::json::parse(ks::to_json(snapshot_manifest()));
  edit(doc.as_object());
  std::string message;
  auto r = ks::parse_manifest(boost::json::serialize(doc), &message);
  BOOST_TEST(!r);
  return message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(storage_snapshot_manifest)

BOOST_AUTO_TEST_CASE(round_trip) {
  const auto m = snapshot_manifest();
  const std::string json = ks::to_json(m);
  std::string message;
  auto parsed = ks::parse_manifest(json, &message);
  BOOST_TEST_REQUIRE(bool(parsed), message);
  BOOST_TEST(ks::to_json(*parsed) == json);
  const auto& o = parsed->objects.at(0);
  BOOST_TEST(o.node_id == std::string(40, 'b'));
  BOOST_TEST(o.rdb_version == 10u);
  BOOST_TEST(o.transfer == "diskless");
  BOOST_TEST(o.started_at == "2026-11-22T02:11:56.000Z");
  BOOST_TEST(parsed->node_configs.size() == 2u);
  BOOST_TEST(parsed->node_configs[1].source == "peer");
  BOOST_TEST(parsed->node_configs[1].master_id == std::string(40, 'a'));
  BOOST_TEST(parsed->cluster_view.name == "nodes.json");
  BOOST_TEST(parsed->cluster_view.bytes == 900u);
}

BOOST_AUTO_TEST_CASE(logical_manifests_carry_no_snapshot_fields) {
  auto m = snapshot_manifest();
  m.kind = "logical";
  const std::string json = ks::to_json(m);
  for (const char* field : {"node_id", "rdb_version", "transfer", "node_configs", "cluster_view"})
    BOOST_TEST(json.find(field) == std::string::npos, field);
  auto parsed = ks::parse_manifest(json, nullptr);
  BOOST_TEST_REQUIRE(bool(parsed));
  BOOST_TEST(parsed->node_configs.empty());
  BOOST_TEST(parsed->objects.at(0).node_id.empty());
}

BOOST_AUTO_TEST_CASE(snapshot_fields_are_required_and_checked) {
  BOOST_TEST(edited([](auto& d) { d["objects"].as_array()[0].as_object().erase("rdb_version"); }) ==
             "manifest.json: field 'objects[0].rdb_version' is missing");
  BOOST_TEST(edited([](auto& d) { d.erase("node_configs"); }) ==
             "manifest.json: field 'node_configs' is missing");
  BOOST_TEST(edited([](auto& d) { d.erase("cluster_view"); }) ==
             "manifest.json: field 'cluster_view' is missing");
  BOOST_TEST(edited([](auto& d) {
               d["node_configs"].as_array()[0].as_object()["name"] = "../../etc/passwd";
             }).find("'node_configs[0].name'") != std::string::npos);
  BOOST_TEST(edited([](auto& d) {
               d["node_configs"].as_array()[1].as_object()["node_id"] = "../x";
             }).find("'node_configs[1].node_id'") != std::string::npos);
  BOOST_TEST(edited([](auto& d) {
               d["objects"].as_array()[0].as_object()["transfer"] = "carrier pigeon";
             }).find("'objects[0].transfer'") != std::string::npos);
  BOOST_TEST(edited([](auto& d) {
               d["cluster_view"].as_object()["sha256"] = "x";
             }).find("'cluster_view.sha256'") != std::string::npos);
  BOOST_TEST(edited([](auto& d) {
               d["objects"].as_array()[0].as_object()["started_at"] = "yesterday";
             }).find("'objects[0].started_at'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(status_round_trip_and_checks) {
  ks::backup_status st;
  st.id = "20261122T021155.123Z";
  st.phase = "Failed";
  st.pod = "redis-backup-0";
  st.started_at = "2026-11-22T02:11:55.123Z";
  st.completed_at = "2026-11-22T02:11:58.000Z";
  st.backup_size = 42;
  st.backup_path = "/backups/20261122T021155.123Z";
  st.error = "master 10.0.0.1:6379 closed the connection";
  const std::string json = ks::to_json(st);
  for (const char* key : {"\"phase\": \"Failed\"", "\"pod\"", "\"startedAt\"", "\"completedAt\"",
                          "\"backupSize\": 42", "\"backupPath\"", "\"format\": \"rdb\"",
                          "\"checksumSHA256\"", "\"error\""})
    BOOST_TEST(json.find(key) != std::string::npos, key);
  std::string message;
  auto parsed = ks::parse_status(json, &message);
  BOOST_TEST_REQUIRE(bool(parsed), message);
  BOOST_TEST(ks::to_json(*parsed) == json);

  boost::json::value doc = boost::json::parse(json);
  doc.as_object()["phase"] = "Done";
  BOOST_TEST(!ks::parse_status(boost::json::serialize(doc), &message));
  BOOST_TEST(message == "status.json: field 'phase' must be Pending, Running, Completed or Failed");
  BOOST_TEST(!ks::parse_status("[]", &message));
}

BOOST_AUTO_TEST_SUITE_END()
