// TLS clusters with ACL users, as production deployments run them.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_redis.hpp"

#include <fstream>

using namespace kage::test;

namespace {

// Least privilege for a logical backup; restore needs to write.
const std::string backup_user =
    "user backup on >backup-secret ~* +@read +@connection +info +cluster|shards +cluster|nodes "
    "+function|list +function|dump +readonly";
const std::string restore_user =
    "user restorer on >restore-secret ~* +@read +@connection +info +cluster|shards "
    "+cluster|nodes +restore +function|restore";

redis_options tls_node(const tls_files& tls) {
  redis_options o;
  o.cluster = true;
  o.tls = tls;
  o.requirepass = "admin-secret";
  o.acl_lines = {backup_user, restore_user};
  return o;
}

kage::proto::redis_config client_config(const tls_files& tls) {
  kage::proto::redis_config c;
  c.password = "admin-secret";
  c.tls.enabled = true;
  c.tls.ca_file = tls.ca_cert;
  c.tls.cert_file = tls.client_cert;
  c.tls.key_file = tls.client_key;
  return c;
}

std::vector<std::string> tls_flags(const tls_files& tls) {
  return {"--cacert", tls.ca_cert, "--cert", tls.client_cert, "--key", tls.client_key};
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tls_cluster_with_acl_users_round_trip) {
  auto tls = make_tls_files();
  redis_cluster source(3, 1, tls_node(tls));
  test_client src(source.seed(), client_config(tls));
  src.load(every_type_commands("tls:", 30));
  const auto before = src.snapshot();

  temp_dir store("store");
  auto r = run_kage(std::vector<std::string>{"backup", "--node", source.seed(), "--to",
                                             store.path(), "--user", "backup", "--json"} +
                        tls_flags(tls),
                    {{"REDISCLI_AUTH", "backup-secret"}});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("keys").as_int64() == static_cast<std::int64_t>(before.size()));

  // The same from the environment names existing deployments use.
  temp_dir store2("store");
  r = run_kage({"backup", "--user", "backup", "--quiet"}, {{"REDISCLI_AUTH", "backup-secret"},
                                                           {"REDIS_NODE", source.seed()},
                                                           {"BACKUP_DIR", store2.path()},
                                                           {"CACERT", tls.ca_cert},
                                                           {"TLS_CRT", tls.client_cert},
                                                           {"TLS_KEY", tls.client_key}});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));

  auto target_tls = make_tls_files();
  redis_cluster target(3, 0, tls_node(target_tls));
  r = run_kage(std::vector<std::string>{"restore", "--node", target.seed(), "--from", store.path(),
                                        "--user", "restorer", "--json"} +
                   tls_flags(target_tls),
               {{"REDISCLI_AUTH", "restore-secret"}});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(json_result(r).at("restored").as_int64() == static_cast<std::int64_t>(before.size()));
  test_client dst(target.seed(), client_config(target_tls));
  const auto after = dst.snapshot();
  BOOST_TEST(after.size() == before.size());
  for (const auto& [key, state] : before) {
    auto it = after.find(key);
    BOOST_TEST_REQUIRE((it != after.end()), key);
    BOOST_TEST(it->second.digest == state.digest, key);
  }
}

BOOST_AUTO_TEST_CASE(certificate_checks_and_their_opt_out) {
  auto tls = make_tls_files();
  redis_options o;
  o.tls = tls;
  redis_server server(o);
  temp_dir store("store");

  auto other = make_tls_files();  // a CA that did not sign the server's certificate
  auto r = run_kage(
      {"backup", "--node", server.address(), "--to", store.path(), "--cacert", other.ca_cert});
  BOOST_TEST(r.exit_code == 3, describe(r));
  BOOST_TEST(contains(r.err, "certificate verify failed"), r.err);
  BOOST_TEST(contains(r.err, "--insecure"), r.err);

  // Verification is on by default; only the explicit flag turns it off.
  r = run_kage({"backup", "--node", server.address(), "--to", store.path(), "--cacert",
                other.ca_cert, "--insecure", "--quiet"});
  BOOST_TEST(r.exit_code == 0, describe(r));

  // The server's name must match: 127.0.0.1 is in its certificate, "kage.invalid" is not.
  r = run_kage({"backup", "--node", server.address(), "--to", store.path(), "--cacert", tls.ca_cert,
                "--sni", "kage.invalid"});
  BOOST_TEST(r.exit_code == 3, describe(r));

  // Plain TCP to a TLS port.
  r = run_kage({"backup", "--node", server.address(), "--to", store.path(), "--read-timeout",
                "2000", "--connect-timeout", "2000"});
  BOOST_TEST(r.exit_code == 3, describe(r));
  BOOST_TEST(contains(r.err, "TLS"), r.err);

  // A CA file that does not exist is a usage error naming the file.
  r = run_kage({"backup", "--node", server.address(), "--to", store.path(), "--cacert",
                "/nonexistent/ca.pem"});
  BOOST_TEST(r.exit_code == 2, describe(r));
  BOOST_TEST(contains(r.err, "/nonexistent/ca.pem"), r.err);
}

BOOST_AUTO_TEST_CASE(config_file_drives_a_backup_and_secrets_stay_hidden) {
  auto tls = make_tls_files();
  redis_options o;
  o.tls = tls;
  o.acl_lines = {backup_user};
  redis_server server(o);
  temp_dir dir("conf");
  const std::string config = dir.file("kage.yaml");
  std::ofstream(config) << "# kage config\n"
                        << "redis:\n"
                        << "  nodes: [\"" << server.address() << "\"]\n"
                        << "  user: backup\n"
                        << "  password: backup-secret\n"
                        << "  ca_file: " << tls.ca_cert << "\n"
                        << "store:\n"
                        << "  location: " << dir.file("backups") << "\n";
  auto r = run_kage({"backup", "--config", config, "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  BOOST_TEST(backup_ids(dir.file("backups")).size() == 1u);

  r = run_kage({"config", "--config", config});
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.out, "<redacted>"), r.out);
  BOOST_TEST(!contains(r.out, "backup-secret"), r.out);

  std::ofstream(config, std::ios::app) << "  colour: blue\n";
  r = run_kage({"backup", "--config", config});
  BOOST_TEST(r.exit_code == 2, describe(r));
  BOOST_TEST(contains(r.err, config + ":9:"), r.err);
  BOOST_TEST(contains(r.err, "store.colour"), r.err);
}
