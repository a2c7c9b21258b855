// k8s/deploy/role.yaml grants exactly what kage doctor asks for (k8s::permissions_for of every
// feature): nothing missing, nothing more, so the two cannot drift apart.
#include <boost/test/unit_test.hpp>

#include "fixture_process.hpp"

#include <kage/k8s/permissions.hpp>

#include <boost/json.hpp>

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <tuple>

namespace {

using grant = std::tuple<std::string, std::string, std::string>;  // group, resource, verb

std::set<grant> role_grants() {
  std::set<grant> out;
  for (const auto& doc :
       YAML::LoadAllFromFile(kage::test::source_dir() + "/k8s/deploy/role.yaml")) {
    if (doc["kind"].as<std::string>() != "Role") continue;
    for (const auto& rule : doc["rules"]) {
      BOOST_TEST_REQUIRE(!rule["resourceNames"], "a rule limited by resourceNames");
      for (const auto& g : rule["apiGroups"])
        for (const auto& r : rule["resources"])
          for (const auto& v : rule["verbs"]) {
            const auto verb = v.as<std::string>();
            BOOST_TEST_REQUIRE(verb != "*", "a wildcard verb grants more than kage needs");
            out.emplace(g.as<std::string>(), r.as<std::string>(), verb);
          }
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(role_yaml_grants_exactly_the_doctors_permissions) {
  std::set<grant> wanted;
  for (const auto& p : kage::k8s::permissions_for(kage::k8s::all_features()))
    wanted.emplace(std::string(p.group), p.resource_name(), std::string(p.verb));
  const auto granted = role_grants();
  for (const auto& g : wanted)
    BOOST_TEST(granted.count(g) == 1u, "role.yaml lacks " << std::get<2>(g) << " " << std::get<1>(g)
                                                          << " in group '" << std::get<0>(g)
                                                          << "'");
  for (const auto& g : granted)
    BOOST_TEST(wanted.count(g) == 1u, "role.yaml grants " << std::get<2>(g) << " " << std::get<1>(g)
                                                          << " in group '" << std::get<0>(g)
                                                          << "', which no kage feature needs");
  BOOST_TEST(wanted.size() == 12u);
}

BOOST_AUTO_TEST_CASE(each_feature_asks_only_for_its_own) {
  using kage::k8s::feature;
  auto names = [](feature f) {
    std::set<std::string> out;
    for (const auto& p : kage::k8s::permissions_for({f})) out.insert(p.describe());
    return out;
  };
  BOOST_TEST((names(feature::pods_nodes_conf) ==
              std::set<std::string>{"list pods", "create pods/exec", "get pods/exec"}));
  const auto heal = names(feature::heal);
  BOOST_TEST(heal.count("watch pods") == 1u);
  BOOST_TEST(heal.count("update leases (coordination.k8s.io)") == 1u);
  BOOST_TEST(heal.count("create pods/exec") == 0u);
  const auto controller = names(feature::controller);
  BOOST_TEST(controller.count("patch redisbackups/status (redis.io)") == 1u);
  BOOST_TEST(controller.count("list pods") == 1u);  // the pods of a RedisBackup's cluster
  BOOST_TEST(controller.count("watch pods") == 0u);
  // A permission two features share is asked once (create events, list pods).
  BOOST_TEST(kage::k8s::permissions_for({feature::heal, feature::controller}).size() ==
             heal.size() + controller.size() - 2);

  feature f{};
  BOOST_TEST(kage::k8s::parse_feature("controller", f));
  BOOST_TEST((f == feature::controller));
  BOOST_TEST(!kage::k8s::parse_feature("backup", f));

  const auto review = kage::k8s::make_access_review(
      kage::k8s::permissions_for({feature::pods_nodes_conf})[1], "prod");
  const auto& ra = review.at("spec").at("resourceAttributes");
  BOOST_TEST(ra.at("verb").as_string() == "create");
  BOOST_TEST(ra.at("resource").as_string() == "pods");
  BOOST_TEST(ra.at("subresource").as_string() == "exec");
  BOOST_TEST(ra.at("namespace").as_string() == "prod");
  BOOST_TEST(review.at("kind").as_string() == "SelfSubjectAccessReview");
}

// kage doctor reads the API server's answer with read_access_review (fuzz_k8s_objects too).
BOOST_AUTO_TEST_CASE(an_access_review_allows_only_with_status_allowed_true) {
  using kage::k8s::read_access_review;
  const auto yes = read_access_review(boost::json::parse(
      R"({"kind":"SelfSubjectAccessReview","status":{"allowed":true,"reason":"RBAC: role kage"}})"));
  BOOST_TEST(yes.allowed);
  BOOST_TEST(yes.reason == "RBAC: role kage");
  const auto no = read_access_review(boost::json::parse(
      R"({"status":{"allowed":false,"denied":true,"evaluationError":"no policy"}})"));
  BOOST_TEST(!no.allowed);
  BOOST_TEST(no.reason.empty());
  BOOST_TEST(no.evaluation_error == "no policy");
  for (const char* odd : {R"({"status":{"allowed":"true"}})", R"({"status":[true]})", "{}", "[]",
                          "true", R"({"status":{"allowed":1,"reason":7}})"}) {
    const auto a = read_access_review(boost::json::parse(odd));
    BOOST_TEST(!a.allowed, odd);
    BOOST_TEST(a.reason.empty(), odd);
  }
}
