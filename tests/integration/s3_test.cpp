// Backups in S3 (moto_server with signature checks on), read back by boto3 independently.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_moto.hpp"
#include "fixture_redis.hpp"

#include <filesystem>
#include <fstream>
#include <thread>

using namespace kage::test;
namespace json = boost::json;

namespace {

std::map<std::string, std::string> operator+(std::map<std::string, std::string> a,
                                             const std::map<std::string, std::string>& b) {
  for (const auto& [k, v] : b) a[k] = v;
  return a;
}

// Incompressible values, so objects span several 5 MiB parts.
json::array objects(const moto_server& s3, const std::string& prefix) {
  return json::parse(s3.tool({"objects", prefix})).as_array();
}

std::size_t open_uploads(const moto_server& s3) {
  return json::parse(s3.tool({"uploads"})).as_array().size();
}

std::string newest_id(const process_result& r) {
  return std::string(json_result(r).at("id").as_string());
}

}  // namespace

BOOST_AUTO_TEST_CASE(cluster_backup_to_s3_and_restore_from_it) {
  moto_server s3;
  redis_options node;
  node.cluster = true;
  redis_cluster source(3, 0, node);
  test_client src(source.seed());
  auto data = every_type_commands("s3:", 50);
  auto big = random_keys("rnd:", 20000, 1000);  // ~20 MB: every shard spans 2+ parts
  data.insert(data.end(), big.begin(), big.end());
  src.load(data);
  const auto before = src.snapshot();

  // Endpoint and credentials from the environment only.
  auto r = run_kage({"backup", "--node", source.seed(), "--to", "s3://kage-test/prod", "--json",
                     "--part-size-mb", "5"},
                    s3.env());
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  const std::string id = newest_id(r);

  // boto3 reads the same bytes kage described in its manifest; multipart ETags look right.
  auto objs = objects(s3, "prod/" + id + "/");
  BOOST_TEST_REQUIRE(objs.size() == 5u);  // 3 shards, manifest, claim.json
  auto manifest_text = s3.tool({"objects", "prod/" + id + "/manifest.json"});
  r = run_kage({"show", "--from", "s3://kage-test/prod", "--json"}, s3.env());
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  auto m = json::parse(r.out).as_object();
  for (const auto& o : m.at("objects").as_array()) {
    const std::string key = "prod/" + id + "/" + std::string(o.at("name").as_string());
    bool found = false;
    for (const auto& s : objs) {
      if (s.at("key").as_string() != key) continue;
      found = true;
      BOOST_TEST(s.at("sha256").as_string() == o.at("sha256").as_string(), key);
      BOOST_TEST(s.at("size").as_int64() == o.at("bytes").as_int64(), key);
      const std::string etag(s.at("etag").as_string());
      const auto dash = etag.find('-');
      BOOST_TEST_REQUIRE(dash == 32u, key << " ETag " << etag);  // <md5>-<parts>
      BOOST_TEST(std::stoi(etag.substr(dash + 1)) >= 2, key << " ETag " << etag);
      // The upload carried x-amz-checksum-sha256 (AWS keeps "<sha256 of the parts'>-<parts>";
      // moto a checksum without the suffix).
      BOOST_TEST(!s.at("checksum_sha256").as_string().empty(), key);
    }
    BOOST_TEST(found, key);
  }
  BOOST_TEST(open_uploads(s3) == 0u);

  r = run_kage({"verify", "--from", "s3://kage-test/prod"}, s3.env());
  BOOST_TEST(r.exit_code == 0, describe(r));

  redis_cluster target(3, 0, node);
  r = run_kage({"restore", "--node", target.seed(), "--from", "s3://kage-test/prod", "--json"},
               s3.env());
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("restored").as_int64() == static_cast<std::int64_t>(before.size()));
  test_client dst(target.seed());
  const auto after = dst.snapshot();
  BOOST_TEST(after.size() == before.size());
  for (const auto& [key, state] : before) {
    auto it = after.find(key);
    BOOST_TEST_REQUIRE((it != after.end()), key);
    BOOST_TEST(it->second.digest == state.digest, key);
  }

  // S3_BUCKET_NAME alone names the store.
  r = run_kage({"list", "--json"},
               s3.env() + std::map<std::string, std::string>{{"S3_BUCKET_NAME", "kage-test"}});
  BOOST_TEST(r.exit_code == 0, describe(r));
}

BOOST_AUTO_TEST_CASE(wrong_secret_fails_at_once_and_leaves_nothing) {
  moto_server s3;
  redis_server server(redis_options{});
  test_client c(server.address());
  c.load(random_keys("k", 12000, 1000));
  auto env = s3.env();
  env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret";
  auto r = run_kage(
      {"backup", "--node", server.address(), "--to", "s3://kage-test/wrong", "--part-size-mb", "5"},
      env);
  BOOST_TEST(r.exit_code == 4, describe(r));
  BOOST_TEST(contains(r.err, "SignatureDoesNotMatch"), r.err);
  BOOST_TEST(contains(r.err, "secret access key"), r.err);
  BOOST_TEST(!contains(r.err + r.out, "not-the-secret"));
  BOOST_TEST(objects(s3, "wrong/").size() == 0u);
  BOOST_TEST(open_uploads(s3) == 0u);
}

BOOST_AUTO_TEST_CASE(server_errors_are_retried_or_the_upload_aborted) {
  moto_server s3;
  redis_server server(redis_options{});
  test_client c(server.address());
  c.load(random_keys("k", 16000, 1000));  // ~16 MB: 4 parts of 5 MiB

  {
    s3_fault_proxy proxy(s3, "fail-parts:2");  // two 500s, then fine: retried
    auto env = s3.env();
    env["S3_ENDPOINT_URL"] = proxy.endpoint();
    auto r = run_kage({"backup", "--node", server.address(), "--to", "s3://kage-test/retried",
                       "--part-size-mb", "5", "--json"},
                      env);
    BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
    BOOST_TEST(contains(r.err, "InternalError"), r.err);  // the retries were logged
    r = run_kage({"verify", "--from", "s3://kage-test/retried"}, s3.env());
    BOOST_TEST(r.exit_code == 0, describe(r));
  }
  {
    s3_fault_proxy proxy(s3, "fail-parts-after:1");  // the server keeps failing: abort
    auto env = s3.env();
    env["S3_ENDPOINT_URL"] = proxy.endpoint();
    auto r = run_kage({"backup", "--node", server.address(), "--to", "s3://kage-test/aborted",
                       "--part-size-mb", "5"},
                      env, std::chrono::seconds(240));
    BOOST_TEST(r.exit_code == 4, describe(r));
    BOOST_TEST(contains(r.err, "InternalError"), r.err);
    BOOST_TEST(objects(s3, "aborted/").size() == 0u);
    BOOST_TEST(open_uploads(s3) == 0u);
  }
}

BOOST_AUTO_TEST_CASE(an_s3_endpoint_killed_mid_upload_is_retried) {
  moto_server s3;
  redis_server server(redis_options{});
  test_client c(server.address());
  c.load(random_keys("k", 30000, 1000));  // ~30 MB: 6 parts, each held back 1 s by the proxy
  s3_fault_proxy proxy(s3, "delay-parts:1000");
  auto env = s3.env();
  env["S3_ENDPOINT_URL"] = proxy.endpoint();
  background_process backup(
      {kage_binary(), "backup", "--node", server.address(), "--to", "s3://kage-test/killed",
       "--part-size-mb", "5", "--parts-in-flight", "2"},
      env);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  BOOST_TEST_REQUIRE(backup.running(), "the backup finished before the endpoint was killed");
  proxy.kill_and_restart();  // the parts in flight lose their connections
  auto r = backup.wait(std::chrono::seconds(120));
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.err, "retry"), r.err);
  r = run_kage({"verify", "--from", "s3://kage-test/killed"}, s3.env());
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(open_uploads(s3) == 0u);
}

BOOST_AUTO_TEST_CASE(a_store_that_stores_other_bytes_is_caught) {
  moto_server s3;
  redis_server server(redis_options{});
  test_client c(server.address());
  c.load(random_keys("k", 12000, 1000));       // ~12 MB: 3 parts of 5 MiB
  s3_fault_proxy proxy(s3, "mangle-parts:1");  // every part after the first the proxy sees
  auto env = s3.env();
  env["S3_ENDPOINT_URL"] = proxy.endpoint();
  for (const char* checksum : {"sha256", "md5"}) {
    const std::string prefix = std::string("mangled-") + checksum;
    auto r = run_kage({"backup", "--node", server.address(), "--to", "s3://kage-test/" + prefix,
                       "--part-size-mb", "5", "--s3-checksum", checksum},
                      env);
    BOOST_TEST(r.exit_code == 4, describe(r));
    BOOST_TEST(contains(r.err, "corrupted in transit"), r.err);
    BOOST_TEST(contains(r.err, checksum == std::string("md5") ? "ETag" : "SHA-256"), r.err);
    BOOST_TEST(objects(s3, prefix + "/").size() == 0u);
    BOOST_TEST(open_uploads(s3) == 0u);
  }
}

BOOST_AUTO_TEST_CASE(parts_in_flight_are_bounded_across_masters) {
  moto_server s3;
  redis_cluster source(3, 0, cluster_node());
  test_client c(source.seed());
  c.load(random_keys("k", 24000, 1000));           // ~8 MB per master: 2 parts of 5 MiB each
  for (const int total : {0, 2}) {                 // 0: the default (16)
    s3_fault_proxy proxy(s3, "delay-parts:1000");  // long enough for the masters to overlap
    auto env = s3.env();
    env["S3_ENDPOINT_URL"] = proxy.endpoint();
    std::vector<std::string> args{"backup",
                                  "--node",
                                  source.seed(),
                                  "--to",
                                  "s3://kage-test/total-" + std::to_string(total),
                                  "--part-size-mb",
                                  "5",
                                  "--parts-in-flight",
                                  "4"};
    if (total) {
      args.push_back("--total-parts-in-flight");
      args.push_back(std::to_string(total));
    }
    auto r = run_kage(args, env);
    BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
    // The three masters' parts overlap unless the store-wide bound holds them back.
    if (total)
      BOOST_TEST(proxy.max_parts_in_flight() == total);
    else
      BOOST_TEST(proxy.max_parts_in_flight() >= 3);
    r = run_kage({"verify", "--from", "s3://kage-test/total-" + std::to_string(total)}, s3.env());
    BOOST_TEST(r.exit_code == 0, describe(r));
  }
}

BOOST_AUTO_TEST_CASE(sigterm_mid_upload_aborts_it) {
  moto_server s3;
  redis_server server(redis_options{});
  test_client c(server.address());
  c.load(random_keys("k", 30000, 1000));  // ~30 MB: 6 parts, each held back 1 s by the proxy
  s3_fault_proxy proxy(s3, "delay-parts:1000");
  auto env = s3.env();
  env["S3_ENDPOINT_URL"] = proxy.endpoint();
  background_process backup(
      {kage_binary(), "backup", "--node", server.address(), "--to", "s3://kage-test/term",
       "--part-size-mb", "5", "--parts-in-flight", "2"},
      env);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  BOOST_TEST_REQUIRE(backup.running(), "the backup finished before SIGTERM");
  backup.kill(SIGTERM);
  auto r = backup.wait(std::chrono::seconds(60));
  BOOST_TEST(r.exit_code == 130, describe(r));
  BOOST_TEST(open_uploads(s3) == 0u);
  BOOST_TEST(objects(s3, "term/").size() == 0u);
}

BOOST_AUTO_TEST_CASE(https_with_a_test_ca) {
  auto tls = make_tls_files();
  moto_server s3(tls);
  redis_server server(redis_options{});
  test_client c(server.address());
  c.load(every_type_commands("h:", 5));
  c.load(random_keys("rnd:", 8000, 1000));  // ~8 MB: two parts of 5 MiB
  auto env = s3.env();                      // AWS_CA_BUNDLE points at the test CA
  // Over HTTPS parts go UNSIGNED-PAYLOAD, protected by TLS and the checksum S3 verifies: either
  // x-amz-checksum-sha256 (default) or Content-MD5 with the ETag checked.
  for (const char* checksum : {"sha256", "md5"}) {
    const std::string prefix = std::string("tls-") + checksum;
    auto r = run_kage({"backup", "--node", server.address(), "--to", "s3://kage-test/" + prefix,
                       "--part-size-mb", "5", "--s3-checksum", checksum, "--json"},
                      env);
    BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
    auto objs = objects(s3, prefix + "/");
    BOOST_TEST_REQUIRE(objs.size() == 3u);  // the shard, the manifest and claim.json
    for (const auto& o : objs) {
      const std::string key(o.at("key").as_string()), etag(o.at("etag").as_string());
      const std::string stored(o.at("checksum_sha256").as_string());
      if (!key.ends_with(".resp.zst")) continue;
      BOOST_TEST(etag.ends_with("-2"), key << " ETag " << etag);
      BOOST_TEST((std::string(checksum) == "sha256" ? !stored.empty() : stored.empty()),
                 key << " checksum " << stored);
    }
    r = run_kage({"verify", "--from", "s3://kage-test/" + prefix}, env);
    BOOST_TEST(r.exit_code == 0, describe(r));
  }
  auto r =
      run_kage({"backup", "--node", server.address(), "--to", "s3://kage-test/tls", "--json"}, env);
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  // Without the CA the certificate is refused.
  env.erase("AWS_CA_BUNDLE");
  r = run_kage({"list", "--from", "s3://kage-test/tls"}, env);
  BOOST_TEST(r.exit_code == 4, describe(r));
  BOOST_TEST(contains(r.err, "certificate"), r.err);
}

BOOST_AUTO_TEST_CASE(credentials_from_a_secret_directory_in_every_spelling) {
  moto_server s3;
  redis_server server(redis_options{});
  test_client c(server.address());
  c.load(every_type_commands("d:", 2));
  const std::vector<std::array<std::string, 2>> spellings = {
      {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
      {"aws_access_key_id", "aws_secret_access_key"},
      {"accessKeyId", "secretAccessKey"},
      {"access_key_id", "secret_access_key"}};
  for (const auto& names : spellings) {
    temp_dir dir("creds");
    std::ofstream(dir.file(names[0])) << s3.access_key() << "\n";
    std::ofstream(dir.file(names[1])) << s3.secret_key() << "\n";
    auto r = run_kage({"backup", "--node", server.address(), "--to", "s3://kage-test/dir",
                       "--credentials-dir", dir.path(), "--quiet"},
                      {{"S3_ENDPOINT_URL", s3.endpoint()}});
    BOOST_TEST(r.exit_code == 0, names[0] << "\n" << describe(r));
    r = run_kage({"config", "--credentials-dir", dir.path()},
                 {{"AWS_SECRET_ACCESS_KEY", s3.secret_key()}});
    BOOST_TEST(!contains(r.out, s3.secret_key()), "kage config shows the secret");
  }
}

BOOST_AUTO_TEST_CASE(listing_past_a_thousand_objects_and_retention) {
  moto_server s3;
  // 1,100 interrupted backups (an object, no manifest), from 2020: listing pages past 1,000.
  s3.tool({"put-many", "ret/", "1100"});
  auto r = run_kage({"list", "--from", "s3://kage-test/ret", "--json"}, s3.env());
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  auto list = json::parse(r.out).as_array();
  BOOST_TEST(list.size() == 1100u);
  for (const auto& b : list) BOOST_TEST(!b.at("complete").as_bool());

  redis_server server(redis_options{});
  test_client c(server.address());
  c.load(every_type_commands("p:", 2));
  for (int i = 0; i < 3; ++i) {
    r = run_kage({"backup", "--node", server.address(), "--to", "s3://kage-test/ret", "--quiet"},
                 s3.env());
    BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  }
  r = run_kage({"prune", "--from", "s3://kage-test/ret", "--keep-last", "2", "--dry-run", "--json"},
               s3.env());
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  auto o = json_result(r);
  BOOST_TEST(o.at("kept").as_array().size() == 2u);
  BOOST_TEST(o.at("deleted").as_array().size() == 1u);
  BOOST_TEST(o.at("deleted_incomplete").as_array().size() == 1100u);

  r = run_kage({"prune", "--from", "s3://kage-test/ret", "--keep-last", "2", "--json"}, s3.env());
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  r = run_kage({"list", "--from", "s3://kage-test/ret", "--json"}, s3.env());
  list = json::parse(r.out).as_array();
  BOOST_TEST(list.size() == 2u);
  for (const auto& b : list) BOOST_TEST(b.at("complete").as_bool());

  // A rule that would delete everything still keeps the newest complete backup.
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // both backups older than 1 s
  r = run_kage({"prune", "--from", "s3://kage-test/ret", "--keep-within", "1s", "--json"},
               s3.env());
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  r = run_kage({"list", "--from", "s3://kage-test/ret", "--json"}, s3.env());
  BOOST_TEST(json::parse(r.out).as_array().size() == 1u);
  r = run_kage({"restore", "--node", server.address(), "--from", "s3://kage-test/ret", "--quiet"},
               s3.env());
  BOOST_TEST(r.exit_code == 0, describe(r));
}

BOOST_AUTO_TEST_CASE(prune_on_a_local_store) {
  redis_server server(redis_options{});
  test_client c(server.address());
  c.load(every_type_commands("l:", 2));
  temp_dir store("store");
  for (int i = 0; i < 4; ++i) {
    auto r = run_kage({"backup", "--node", server.address(), "--to", store.path(), "--quiet"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  }
  std::filesystem::create_directories(store.file("20200101T000000.000Z"));
  std::ofstream(store.file("20200101T000000.000Z/shard-00.resp.zst")) << "partial";
  auto r = run_kage({"prune", "--from", store.path(), "--keep-last", "3", "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  auto ids = backup_ids(store.path());
  BOOST_TEST(ids.size() == 3u);
  BOOST_TEST(!std::filesystem::exists(store.file("20200101T000000.000Z")));
}
