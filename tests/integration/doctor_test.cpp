// `kage doctor` from the command line against a real cluster (with a password), local stores,
// a Sentinel deployment and the fake API server: all pass -> exit 0; each kind of fault -> a
// failing line with a fix, and a non-zero exit; --json parses every time.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "fixture_kube.hpp"
#include "fixture_redis.hpp"
#include "fixture_sentinel.hpp"

#include <filesystem>
#include <sstream>

using namespace kage::test;

namespace {

redis_options with_password() {
  redis_options o;
  o.requirepass = "doctor-secret";
  return o;
}

struct deployment {
  redis_cluster cluster{3, 0, with_password()};
  fake_kube kube;
  std::string kubeconfig = kube.write_kubeconfig("kubeconfig", R"("token": "test-token")");
  temp_dir store;

  deployment() {
    int i = 0;
    for (auto* n : cluster.nodes())
      kube.control("add_pod", R"({"name": "redis-)" + std::to_string(i++) +
                                  R"(", "labels": {"app": "redis"}, "podIP": ")" + n->host() +
                                  R"("})");
  }

  std::vector<std::string> args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a{"doctor",     "--node",       cluster.seed(), "--to",
                               store.path(), "--pods",       "app=redis",    "--namespace",
                               "default",    "--kubeconfig", kubeconfig};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

const std::map<std::string, std::string> good_password{{"REDISCLI_AUTH", "doctor-secret"}};

// The checks of a --json run, after checking the shape every run shares.
boost::json::array checks_of(const process_result& r) {
  auto out = json_result(r);
  BOOST_TEST(out.at("command").as_string() == "doctor");
  const auto& checks = out.at("checks").as_array();
  std::int64_t failed = 0;
  for (const auto& c : checks) {
    const auto& o = c.as_object();
    const std::string status(o.at("status").as_string());
    BOOST_TEST((status == "ok" || status == "fail" || status == "skip"), status);
    if (status == "fail") {
      ++failed;
      BOOST_TEST(!o.at("fix").as_string().empty(), boost::json::serialize(o));
    }
  }
  BOOST_TEST(out.at("failed").as_int64() == failed);
  BOOST_TEST((out.at("result").as_string() == (failed ? "failed" : "ok")));
  BOOST_TEST((r.exit_code == 0) == (failed == 0), describe(r));
  return checks;
}

std::size_t count(const boost::json::array& checks, const std::string& check,
                  const std::string& status) {
  std::size_t n = 0;
  for (const auto& c : checks)
    n += c.at("check").as_string() == check && c.at("status").as_string() == status;
  return n;
}

// The one failing line (text output) of `check`, with its fix.
std::string failing_line(const process_result& r, const std::string& check) {
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("FAIL  " + check)) return line;
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(doctor)

BOOST_AUTO_TEST_CASE(a_sound_deployment_passes_every_check) {
  deployment d;
  auto r = run_kage(d.args({"--json"}), good_password);
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  const auto checks = checks_of(r);
  BOOST_TEST(count(checks, "config", "ok") == 1u);
  BOOST_TEST(count(checks, "redis", "ok") == 3u);  // every node of the cluster
  BOOST_TEST(count(checks, "cluster", "ok") == 1u);
  BOOST_TEST(count(checks, "store", "ok") == 1u);
  BOOST_TEST(count(checks, "kubernetes", "ok") == 1u);
  BOOST_TEST(count(checks, "permission", "ok") == 8u);  // nodes-conf and heal
  BOOST_TEST(count(checks, "pods", "ok") == 1u);
  BOOST_TEST(std::filesystem::is_empty(d.store.path()), "the probe object was left behind");

  auto text = run_kage(d.args({"--feature", "controller"}), good_password);
  BOOST_TEST(text.exit_code == 0, describe(text));
  BOOST_TEST(contains(text.out, "ok    permission patch redisbackups/status (redis.io)"), text.out);
  BOOST_TEST(!contains(text.out, "pods/exec"), text.out);  // only the features asked for
  BOOST_TEST(contains(text.out, "doctor: all "), text.out);

  auto help = run_kage({"doctor", "--help"});
  BOOST_TEST(help.exit_code == 0);
  BOOST_TEST(contains(help.out, "SelfSubjectAccessReview"), help.out);
}

BOOST_AUTO_TEST_CASE(each_fault_is_a_failing_line_with_a_fix) {
  deployment d;

  // A wrong Redis password: every node refuses; the cluster is not read.
  auto wrongpass = run_kage(d.args(), {{"REDISCLI_AUTH", "not-the-password"}});
  BOOST_TEST(wrongpass.exit_code == 1, describe(wrongpass));
  BOOST_TEST(contains(failing_line(wrongpass, "redis"), "fix: check REDISCLI_AUTH"), wrongpass.out);
  BOOST_TEST(contains(wrongpass.out, "skip  cluster"), wrongpass.out);
  BOOST_TEST(checks_of(run_kage(d.args({"--json"}), {{"REDISCLI_AUTH", "x"}})).size() > 0u);

  // A local store that cannot be written: its parent is a regular file.
  write_file(d.store.file("file"), "not a directory");
  auto unwritable = run_kage(d.args({"--to", d.store.file("file") + "/backups"}), good_password);
  BOOST_TEST(unwritable.exit_code == 1, describe(unwritable));
  const auto store_line = failing_line(unwritable, "store " + d.store.file("file") + "/backups");
  BOOST_TEST(contains(store_line, "cannot write a probe object"), unwritable.out);
  BOOST_TEST(contains(store_line, "fix: "), unwritable.out);
  BOOST_TEST(contains(unwritable.out, "ok    store " + d.store.path()), unwritable.out);

  // A permission the Role does not grant.
  d.kube.control("configure",
                 R"({"rbac_deny": [{"verbs": ["create"], "resources": ["pods/exec"]}]})");
  auto denied = run_kage(d.args(), good_password);
  BOOST_TEST(denied.exit_code == 1, describe(denied));
  const auto exec_line = failing_line(denied, "permission create pods/exec");
  BOOST_TEST(contains(exec_line, "denied in namespace default"), denied.out);
  BOOST_TEST(contains(exec_line, "fix: grant it in namespace default: apply k8s/deploy/role.yaml"),
             denied.out);
  BOOST_TEST(contains(denied.out, "ok    permission get pods/exec"), denied.out);
  const auto denied_checks = checks_of(run_kage(d.args({"--json"}), good_password));
  BOOST_TEST(count(denied_checks, "permission", "fail") == 1u);
  d.kube.control("configure", R"({"rbac_deny": []})");

  // An API server that does not answer.
  std::string text = read_file(d.kubeconfig);
  const std::string url = d.kube.server_url();
  text.replace(text.find(url), url.size(), "https://127.0.0.1:" + std::to_string(free_port()));
  const std::string nowhere = d.store.file("nowhere.kubeconfig");
  write_file(nowhere, text);
  auto down = run_kage(d.args({"--kubeconfig", nowhere, "--json"}), good_password);
  BOOST_TEST(down.exit_code == 1, describe(down));
  const auto down_checks = checks_of(down);
  BOOST_TEST(count(down_checks, "kubernetes", "fail") == 1u);
  BOOST_TEST(count(down_checks, "permission", "skip") == 8u);

  // Settings that do not load are the failing config line.
  auto bad = run_kage({"doctor", "--node", "no-port", "--json"});
  BOOST_TEST(bad.exit_code == exit_usage, describe(bad));
  BOOST_TEST(checks_of(bad).at(0).at("check").as_string() == "config");
}

BOOST_AUTO_TEST_CASE(a_sentinel_deployment_is_checked_through_its_sentinels) {
  sentinel_deployment d;
  temp_dir store;
  auto r = run_kage({"doctor", "--sentinel", d.sentinel_list(), "--master-name", "mymaster", "--to",
                     store.path(), "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  const auto checks = checks_of(r);
  BOOST_TEST(count(checks, "sentinel", "ok") == 3u);
  BOOST_TEST(count(checks, "primary", "ok") == 1u);

  auto unknown = run_kage({"doctor", "--sentinel", d.sentinel_list(), "--master-name", "nope"});
  BOOST_TEST(unknown.exit_code == 1, describe(unknown));
  BOOST_TEST(contains(failing_line(unknown, "sentinel"), "fix: pass the name"), unknown.out);
}

BOOST_AUTO_TEST_SUITE_END()
