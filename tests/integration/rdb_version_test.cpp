// A backup whose DUMP payloads come from a newer Redis than the target: one clear error naming
// both RDB versions, exit code 6.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_redis.hpp"

#include <kage/proto/redis_text.hpp>
#include <kage/storage/archive.hpp>
#include <kage/storage/manifest.hpp>
#include <kage/storage/sha256.hpp>

#include <fstream>
#include <sstream>

using namespace kage::test;
namespace ks = kage::storage;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The payload as a Redis with RDB version `version` would have written it: new version bytes,
// CRC64 recomputed, so only the version is "wrong" for an older server.
std::string with_rdb_version(std::string payload, int version) {
  const std::size_t v = payload.size() - 10;
  payload[v] = static_cast<char>(version & 0xff);
  payload[v + 1] = static_cast<char>(version >> 8);
  std::uint64_t crc =
      kage::proto::crc64(0, std::string_view(payload).substr(0, payload.size() - 8));
  for (int i = 0; i < 8; ++i) payload[payload.size() - 8 + i] = static_cast<char>(crc >> (8 * i));
  return payload;
}

}  // namespace

BOOST_AUTO_TEST_CASE(newer_rdb_version_is_named_in_one_clear_error) {
  redis_server source(redis_options{});
  test_client c(source.address());
  c.load({{"SET", "a", "1"}, {"HSET", "h", "f", "v"}});
  temp_dir store("store");
  auto r = run_kage({"backup", "--node", source.address(), "--to", store.path(), "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  const std::string id(json_result(r).at("id").as_string());

  // Rewrite the shard with version-12 payloads (Redis 7.4) and re-seal the manifest.
  const std::string object = store.file(id + "/shard-00.resp.zst");
  ks::archive_reader in;
  in.feed(read(object));
  in.end_of_input();
  ks::archive_writer out_archive(1, "{\"shard\":0}");
  std::string out;
  for (;;) {
    auto rec = in.next();
    BOOST_TEST_REQUIRE(rec.has_value(), rec.error().message());
    if (!*rec) break;
    const auto& record = **rec;
    BOOST_TEST_REQUIRE(kage::proto::inspect_dump_payload(record.payload)->rdb_version == 10);
    out_archive.add_key(record.key, record.expire_at_ms,
                        with_rdb_version(std::string(record.payload), 12), out);
  }
  out_archive.finish(out);
  write(object, out);
  std::string error;
  auto m = ks::parse_manifest(read(store.file(id + "/manifest.json")), &error);
  BOOST_TEST_REQUIRE(m.has_value(), error);
  m->objects[0].bytes = out.size();
  m->objects[0].sha256 = ks::sha256_hex(out);
  write(store.file(id + "/manifest.json"), ks::to_json(*m));

  // The backup itself is sound...
  r = run_kage({"verify", "--from", store.path()});
  BOOST_TEST(r.exit_code == 0, describe(r));
  // ...but Redis 7.0 reads RDB versions up to 10.
  redis_server target(redis_options{});
  r = run_kage({"restore", "--node", target.address(), "--from", store.path()});
  BOOST_TEST(r.exit_code == 6, describe(r));
  BOOST_TEST(r.err.find("RDB version 12") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("up to 10") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("7.0.15") != std::string::npos, r.err);
}
