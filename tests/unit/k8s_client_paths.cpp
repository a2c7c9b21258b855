// The client's pure pieces: REST paths, Event objects, object keys.
#include <kage/k8s/client.hpp>
#include <kage/k8s/reflector.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

namespace k8s = kage::k8s;
namespace json = boost::json;

BOOST_AUTO_TEST_SUITE(k8s_client_paths)

BOOST_AUTO_TEST_CASE(resource_paths) {
  BOOST_TEST(k8s::resource_path(k8s::pods_resource, "prod") == "/api/v1/namespaces/prod/pods");
  BOOST_TEST(k8s::resource_path(k8s::pods_resource, "") == "/api/v1/pods");
  BOOST_TEST(k8s::resource_path(k8s::pods_resource, "prod", "redis-0", "status") ==
             "/api/v1/namespaces/prod/pods/redis-0/status");
  BOOST_TEST(k8s::resource_path(k8s::leases_resource, "kube-system", "kage") ==
             "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kage");
  const k8s::resource namespaces{"", "v1", "namespaces", false};
  BOOST_TEST(k8s::resource_path(namespaces, "ignored", "default") == "/api/v1/namespaces/default");
  // Names are percent-encoded: a stray '/' or '?' cannot change the request.
  BOOST_TEST(k8s::resource_path(k8s::pods_resource, "a/b", "c?d") ==
             "/api/v1/namespaces/a%2Fb/pods/c%3Fd");
}

BOOST_AUTO_TEST_CASE(event_object) {
  k8s::event_info e;
  e.involved.namespace_ = "prod";
  e.involved.name = "redis-0";
  e.involved.uid = "u-1";
  e.type = "Warning";
  e.reason = "FailoverStarted";
  e.message = "master redis-0 is down";
  const json::value v = k8s::make_event(e);
  BOOST_TEST(v.at("metadata").at("generateName").as_string() == "redis-0.");
  BOOST_TEST(v.at("metadata").at("namespace").as_string() == "prod");
  BOOST_TEST(v.at("involvedObject").at("kind").as_string() == "Pod");
  BOOST_TEST(v.at("involvedObject").at("uid").as_string() == "u-1");
  BOOST_TEST(v.at("type").as_string() == "Warning");
  BOOST_TEST(v.at("source").at("component").as_string() == "kage");
  BOOST_TEST(v.at("firstTimestamp").as_string().size() == 20u);  // 2024-05-01T10:00:00Z
}

BOOST_AUTO_TEST_CASE(object_keys) {
  BOOST_TEST(k8s::object_key(json::parse(R"({"metadata":{"name":"a","namespace":"n"}})")) == "n/a");
  BOOST_TEST(k8s::object_key(json::parse(R"({"metadata":{"name":"a"}})")) == "a");
  BOOST_TEST(k8s::object_key(json::parse(R"({"metadata":{}})")).empty());
  BOOST_TEST(k8s::object_key(json::parse(R"([1])")).empty());
  BOOST_TEST(k8s::object_resource_version(
                 json::parse(R"({"metadata":{"resourceVersion":"12"}})")) == "12");
}

BOOST_AUTO_TEST_SUITE_END()
