// k8s/deploy checked offline: kustomize renders it, every object is there, and the config file
// in the ConfigMap is one kage accepts. (`kubectl create --dry-run=client` needs an API
// server for discovery, so it is not used.)
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "fixture_process.hpp"

#include <filesystem>

using namespace kage::test;

BOOST_AUTO_TEST_CASE(deploy_manifests_render_and_carry_a_valid_config) {
  if (run_process({"sh", "-c", "command -v kubectl"}).exit_code != 0) {
    BOOST_TEST_MESSAGE("SKIPPED: kubectl is not installed");
    return;
  }
  auto r = run_process({"kubectl", "kustomize", source_dir() + "/k8s/deploy"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  for (const std::string kind :
       {"kind: ServiceAccount", "kind: Role", "kind: RoleBinding", "kind: ConfigMap",
        "kind: Secret", "kind: StatefulSet", "kind: CronJob", "kind: CustomResourceDefinition",
        "name: redisbackups.redis.io", "namespace: redis", "path: /readyz", "path: /healthz",
        "runAsUser: 65532"})
    BOOST_TEST(r.out.find(kind) != std::string::npos, kind);

  // The ConfigMap's kage.yaml, extracted with PyYAML (moto's dependency), loads in kage.
  temp_dir dir;
  const std::string script =
      "import sys, yaml\n"
      "for d in yaml.safe_load_all(open(sys.argv[1])):\n"
      "    if d and d['kind'] == 'ConfigMap':\n"
      "        open(sys.argv[2], 'w').write(d['data']['kage.yaml'])\n";
  write_file(dir.file("all.yaml"), r.out);
  auto x = run_process({"python3", "-c", script, dir.file("all.yaml"), dir.file("kage.yaml")});
  BOOST_TEST_REQUIRE(x.exit_code == 0, describe(x));
  auto c = run_kage({"config", "--config", dir.file("kage.yaml")});
  BOOST_TEST(c.exit_code == 0, describe(c));
  BOOST_TEST(c.out.find("every_seconds: 3600") != std::string::npos, c.out);
}
