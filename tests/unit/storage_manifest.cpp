// manifest.json: round trip, stable output, strict parsing with field-naming errors, backup ids.
#include <kage/storage/manifest.hpp>
#include <kage/storage/sha256.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <string>

namespace ks = kage::storage;

namespace kage::storage {
// Boost.Test prints both sides of a failed comparison; found by ADL.
inline std::ostream& operator<<(std::ostream& os, manifest_errc e) {
  return os << make_error_code(e).message();
}
}  // namespace kage::storage

namespace {

ks::manifest sample_manifest() {
  ks::manifest m;
  m.id = "20261122T021155.123Z";
  m.kage_version = "0.1.0";
  m.started_at = "2026-11-22T02:11:55.123Z";
  m.finished_at = "2026-11-22T02:12:07.456Z";
  m.redis_version = "7.2.4";
  m.cluster = true;
  m.patterns = {"*", "user:\"quoted\"\\"};
  const std::string ids[3] = {std::string(40, 'a'), std::string(40, 'b'), std::string(40, 'c')};
  const ks::slot_range ranges[3] = {{0, 5460}, {5461, 10922}, {10923, 16383}};
  for (int i = 0; i < 3; ++i) {
    ks::topology_node master;
    master.id = ids[i];
    master.address = "10.0.0." + std::to_string(i + 1) + ":6379";
    master.role = "master";
    master.slots = {ranges[i]};
    m.topology.push_back(master);
    ks::topology_node replica;
    replica.id = std::string(40, static_cast<char>('d' + i));
    replica.address = "10.0.1." + std::to_string(i + 1) + ":6379";
    replica.role = "replica";
    replica.master_id = ids[i];
    m.topology.push_back(replica);

    ks::shard_object o;
    o.name = "shard-0" + std::to_string(i) + ".resp.zst";
    o.master_id = ids[i];
    o.master_address = master.address;
    o.read_from = replica.address;
    o.read_role = "replica";
    o.slots = {ranges[i]};
    o.bytes = 1000u + static_cast<unsigned>(i);
    o.uncompressed_bytes = 5000;
    o.keys = 42;
    o.vanished = static_cast<std::uint64_t>(i);
    o.functions = i == 0;
    o.sha256 = ks::sha256_hex(o.name);
    m.objects.push_back(o);
  }
  m.objects[1].slots = {{5461, 6000}, {6001, 10922}};
  m.objects[2].bytes = std::uint64_t{1} << 62;  // beyond 32 bits: exact in JSON
  m.total_keys = 126;
  m.total_bytes = 3003;
  m.total_vanished = 3;
  return m;
}

void check_equal(const ks::manifest& a, const ks::manifest& b) {
  BOOST_TEST(a.format == b.format);
  BOOST_TEST(a.kind == b.kind);
  BOOST_TEST(a.id == b.id);
  BOOST_TEST(a.kage_version == b.kage_version);
  BOOST_TEST(a.started_at == b.started_at);
  BOOST_TEST(a.finished_at == b.finished_at);
  BOOST_TEST(a.redis_version == b.redis_version);
  BOOST_TEST(a.cluster == b.cluster);
  BOOST_TEST(a.patterns == b.patterns, boost::test_tools::per_element());
  BOOST_REQUIRE(a.topology.size() == b.topology.size());
  for (std::size_t i = 0; i < a.topology.size(); ++i) {
    BOOST_TEST(a.topology[i].id == b.topology[i].id);
    BOOST_TEST(a.topology[i].address == b.topology[i].address);
    BOOST_TEST(a.topology[i].role == b.topology[i].role);
    BOOST_TEST(a.topology[i].master_id == b.topology[i].master_id);
    BOOST_REQUIRE(a.topology[i].slots.size() == b.topology[i].slots.size());
    for (std::size_t j = 0; j < a.topology[i].slots.size(); ++j) {
      BOOST_TEST(a.topology[i].slots[j].first == b.topology[i].slots[j].first);
      BOOST_TEST(a.topology[i].slots[j].last == b.topology[i].slots[j].last);
    }
  }
  BOOST_REQUIRE(a.objects.size() == b.objects.size());
  for (std::size_t i = 0; i < a.objects.size(); ++i) {
    const auto& x = a.objects[i];
    const auto& y = b.objects[i];
    BOOST_TEST(x.name == y.name);
    BOOST_TEST(x.master_id == y.master_id);
    BOOST_TEST(x.master_address == y.master_address);
    BOOST_TEST(x.read_from == y.read_from);
    BOOST_TEST(x.read_role == y.read_role);
    BOOST_REQUIRE(x.slots.size() == y.slots.size());
    for (std::size_t j = 0; j < x.slots.size(); ++j) {
      BOOST_TEST(x.slots[j].first == y.slots[j].first);
      BOOST_TEST(x.slots[j].last == y.slots[j].last);
    }
    BOOST_TEST(x.bytes == y.bytes);
    BOOST_TEST(x.uncompressed_bytes == y.uncompressed_bytes);
    BOOST_TEST(x.keys == y.keys);
    BOOST_TEST(x.vanished == y.vanished);
    BOOST_TEST(x.functions == y.functions);
    BOOST_TEST(x.sha256 == y.sha256);
  }
  BOOST_TEST(a.total_keys == b.total_keys);
  BOOST_TEST(a.total_bytes == b.total_bytes);
  BOOST_TEST(a.total_vanished == b.total_vanished);
}

struct parse_failure {
  boost::system::error_code code;
  std::string message;
};

// Applies edit to the sample manifest's JSON and parses the result; it must fail.
template <class Edit>
parse_failure parse_edited(Edit edit) {
  boost::json::value doc = boost::json::parse(ks::to_json(sample_manifest()));
  edit(doc.as_object());
  parse_failure out;
  auto r = ks::parse_manifest(boost::json::serialize(doc), &out.message);
  BOOST_REQUIRE(!r);
  out.code = r.error();
  return out;
}

boost::json::object& object_at(boost::json::object& doc, std::size_t i) {
  return doc["objects"].as_array()[i].as_object();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(storage_manifest)

BOOST_AUTO_TEST_CASE(round_trip) {
  const ks::manifest m = sample_manifest();
  const std::string json = ks::to_json(m);
  std::string message;
  auto parsed = ks::parse_manifest(json, &message);
  BOOST_REQUIRE_MESSAGE(parsed, message);
  check_equal(*parsed, m);
  BOOST_TEST(ks::to_json(*parsed) == json);
}

BOOST_AUTO_TEST_CASE(pretty_and_stable) {
  ks::manifest m = sample_manifest();
  m.topology.resize(1);
  m.objects.resize(1);
  m.patterns = {"*"};
  const std::string json = ks::to_json(m);
  const std::string expected = R"({
  "format": 1,
  "kind": "logical",
  "id": "20261122T021155.123Z",
  "kage_version": "0.1.0",
  "started_at": "2026-11-22T02:11:55.123Z",
  "finished_at": "2026-11-22T02:12:07.456Z",
  "redis_version": "7.2.4",
  "cluster": true,
  "patterns": ["*"],
  "topology": [
    {
      "id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "address": "10.0.0.1:6379",
      "role": "master",
      "master_id": "",
      "slots": [
        [0, 5460]
      ]
    }
  ],
  "objects": [
    {
      "name": "shard-00.resp.zst",
      "master_id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "master_address": "10.0.0.1:6379",
      "read_from": "10.0.1.1:6379",
      "read_role": "replica",
      "slots": [
        [0, 5460]
      ],
      "bytes": 1000,
      "uncompressed_bytes": 5000,
      "keys": 42,
      "vanished": 0,
      "functions": true,
      "sha256": ")" + ks::sha256_hex("shard-00.resp.zst") +
                               R"("
    }
  ],
  "total_keys": 126,
  "total_bytes": 3003,
  "total_vanished": 3
}
)";
  BOOST_TEST(json == expected);
  m.patterns.clear();
  m.topology.clear();
  BOOST_TEST(ks::to_json(m).find("\"patterns\": [],\n  \"topology\": [],\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_ignored) {
  boost::json::value doc = boost::json::parse(ks::to_json(sample_manifest()));
  doc.as_object()["added_later"] = boost::json::array{1, 2};
  object_at(doc.as_object(), 0)["compression"] = "zstd";
  auto r = ks::parse_manifest(boost::json::serialize(doc), nullptr);
  BOOST_TEST(bool(r));
}

BOOST_AUTO_TEST_CASE(errors_name_the_field) {
  {
    auto f = parse_edited([](auto& d) { object_at(d, 2).erase("sha256"); });
    BOOST_TEST(f.code == ks::manifest_errc::missing_field);
    BOOST_TEST(f.message == "manifest.json: field 'objects[2].sha256' is missing");
  }
  {
    auto f = parse_edited([](auto& d) { d.erase("id"); });
    BOOST_TEST(f.code == ks::manifest_errc::missing_field);
    BOOST_TEST(f.message == "manifest.json: field 'id' is missing");
  }
  {
    auto f = parse_edited([](auto& d) { d["total_keys"] = "126"; });
    BOOST_TEST(f.code == ks::manifest_errc::wrong_type);
    BOOST_TEST(f.message == "manifest.json: field 'total_keys' must be a non-negative integer");
  }
  {
    auto f = parse_edited([](auto& d) { object_at(d, 1)["keys"] = -1; });
    BOOST_TEST(f.code == ks::manifest_errc::wrong_type);
    BOOST_TEST(f.message ==
               "manifest.json: field 'objects[1].keys' must be a non-negative integer");
  }
  {
    auto f = parse_edited([](auto& d) { object_at(d, 0)["bytes"] = 1.5; });
    BOOST_TEST(f.message ==
               "manifest.json: field 'objects[0].bytes' must be a non-negative integer");
  }
  {
    auto f = parse_edited([](auto& d) { d["cluster"] = 1; });
    BOOST_TEST(f.message == "manifest.json: field 'cluster' must be true or false");
  }
  {
    auto f = parse_edited([](auto& d) { d["patterns"] = boost::json::array{"*", 3}; });
    BOOST_TEST(f.message == "manifest.json: field 'patterns[1]' must be a string");
  }
  {
    auto f = parse_edited([](auto& d) { d["topology"].as_array()[3].as_object().erase("role"); });
    BOOST_TEST(f.message == "manifest.json: field 'topology[3].role' is missing");
  }
  {
    auto f = parse_edited([](auto& d) { d["topology"].as_array()[1] = "x"; });
    BOOST_TEST(f.message == "manifest.json: field 'topology[1]' must be an object");
  }
  {
    auto f = parse_edited([](auto& d) { d["objects"] = boost::json::object{}; });
    BOOST_TEST(f.message == "manifest.json: field 'objects' must be an array");
  }
}

BOOST_AUTO_TEST_CASE(values_are_checked) {
  {
    auto f = parse_edited([](auto& d) { object_at(d, 1)["sha256"] = std::string(64, 'A'); });
    BOOST_TEST(f.code == ks::manifest_errc::bad_value);
    BOOST_TEST(f.message ==
               "manifest.json: field 'objects[1].sha256' must be 64 lowercase hex digits");
  }
  {
    auto f = parse_edited([](auto& d) {
      object_at(d, 1)["slots"].as_array()[1] = boost::json::array{6001, 16384};
    });
    BOOST_TEST(f.code == ks::manifest_errc::bad_value);
    BOOST_TEST(f.message.find("'objects[1].slots[1]'") != std::string::npos);
  }
  {
    auto f = parse_edited([](auto& d) {
      object_at(d, 0)["slots"].as_array()[0] = boost::json::array{10, 5};
    });
    BOOST_TEST(f.code == ks::manifest_errc::bad_value);
  }
  {
    auto f = parse_edited([](auto& d) { object_at(d, 0)["slots"].as_array()[0] = 5; });
    BOOST_TEST(f.code == ks::manifest_errc::wrong_type);
  }
  {
    auto f = parse_edited([](auto& d) { object_at(d, 0)["name"] = "../etc/passwd"; });
    BOOST_TEST(f.code == ks::manifest_errc::bad_value);
    BOOST_TEST(f.message.find("'objects[0].name'") != std::string::npos);
  }
  {
    auto f = parse_edited([](auto& d) { d["id"] = "../20261122T021155.123Z"; });
    BOOST_TEST(f.code == ks::manifest_errc::bad_value);
    BOOST_TEST(f.message.find("'id'") != std::string::npos);
  }
  {
    auto f = parse_edited([](auto& d) { d["kind"] = "physical"; });
    BOOST_TEST(f.code == ks::manifest_errc::bad_value);
  }
  {
    auto f = parse_edited([](auto& d) { d["started_at"] = "2026-11-22 02:11:55"; });
    BOOST_TEST(f.code == ks::manifest_errc::bad_value);
    BOOST_TEST(f.message.find("'started_at'") != std::string::npos);
  }
  {
    auto f =
        parse_edited([](auto& d) { d["topology"].as_array()[0].as_object()["role"] = "slave"; });
    BOOST_TEST(f.message ==
               "manifest.json: field 'topology[0].role' must be \"master\" or \"replica\"");
  }
}

BOOST_AUTO_TEST_CASE(format_and_json_errors) {
  {
    // A newer format is reported as such, even if its other fields changed.
    auto f = parse_edited([](auto& d) {
      d["format"] = 2;
      d.erase("objects");
    });
    BOOST_TEST(f.code == ks::manifest_errc::unsupported_format);
    BOOST_TEST(f.message.find("format 2") != std::string::npos);
    BOOST_TEST(f.message.find("newer kage") != std::string::npos);
  }
  std::string message;
  auto r = ks::parse_manifest("{\"format\": 1,", &message);
  BOOST_TEST(r.error() == ks::manifest_errc::bad_json);
  BOOST_TEST(message.starts_with("manifest.json: not valid JSON"));
  r = ks::parse_manifest("[1, 2]", &message);
  BOOST_TEST(r.error() == ks::manifest_errc::bad_json);
  BOOST_TEST(message == "manifest.json: not a JSON object");
  r = ks::parse_manifest("", nullptr);  // no message wanted: still an error
  BOOST_TEST(r.error() == ks::manifest_errc::bad_json);
}

BOOST_AUTO_TEST_CASE(backup_ids_and_times) {
  BOOST_TEST(ks::make_backup_id(0) == "19700101T000000.000Z");
  BOOST_TEST(ks::rfc3339_ms(0) == "1970-01-01T00:00:00.000Z");
  BOOST_TEST(ks::make_backup_id(1795313515123) == "20261122T021155.123Z");
  BOOST_TEST(ks::rfc3339_ms(1795313515123) == "2026-11-22T02:11:55.123Z");
  BOOST_TEST(ks::make_backup_id(951782400999) == "20000229T000000.999Z");  // leap day
  BOOST_TEST(ks::valid_backup_id(ks::make_backup_id(1795313515123)));
  // Ids sort like the times they name.
  BOOST_TEST(ks::make_backup_id(1795313515123) < ks::make_backup_id(1795313515124));
}

BOOST_AUTO_TEST_CASE(backup_id_validity) {
  BOOST_TEST(ks::valid_backup_id("20261122T021155.123Z"));
  BOOST_TEST(ks::valid_backup_id("19700101T000000.000Z"));
  for (const char* bad : {"",
                          "20261122T021155.123",
                          "20261122T021155.123Z/",
                          "/20261122T021155.123Z",
                          "../20261122T021155.12",
                          "20261122T021155.123Z/..",
                          "..",
                          ".",
                          "2026112XT021155.123Z",
                          "20261122t021155.123z",
                          "20261122T021155,123Z",
                          "20261322T021155.123Z",
                          "20261100T021155.123Z",
                          "20261122T241155.123Z",
                          "20261122T026055.123Z",
                          "20261122T021160.123Z",
                          "20261122T021155.123Z ",
                          " 20261122T021155.123Z",
                          "2026-11-22T02:11:55.123Z",
                          "20261122T021155.1234Z"}) {
    BOOST_TEST(!ks::valid_backup_id(bad), "accepted '" << bad << "'");
  }
  BOOST_TEST(!ks::valid_backup_id(std::string("20261122T021155.12\0Z", 20)));
}

BOOST_AUTO_TEST_CASE(sha256_known_answers) {
  BOOST_TEST(ks::sha256_hex("") ==
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(ks::sha256_hex("abc") ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ks::sha256 h;
  h.update("a");
  h.update("");
  h.update("bc");
  BOOST_TEST(h.hex_digest() == ks::sha256_hex("abc"));
  ks::sha256 moved = std::move(h);  // movable; the moved-from object is not used again
  (void)moved;
}

BOOST_AUTO_TEST_SUITE_END()
