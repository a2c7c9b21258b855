// Status parsing, the api_errc mapping (reason first, then code), failures carrying the
// server's message, and the RBAC explanation for 401/403.
#include "k8s_test_util.hpp"

#include <kage/k8s/status.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace k8s = kage::k8s;
using k8s::api_errc;
using k8s_test::errc_name;

BOOST_AUTO_TEST_SUITE(k8s_status)

BOOST_AUTO_TEST_CASE(full_status) {
  const auto s = k8s::parse_status(R"({
    "kind": "Status", "apiVersion": "v1", "metadata": {},
    "status": "Failure",
    "message": "Pod \"redis-0\" is invalid: spec.containers[0].image: Required value",
    "reason": "Invalid",
    "details": {
      "name": "redis-0", "group": "", "kind": "pods", "uid": "u-1", "retryAfterSeconds": 3,
      "causes": [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"},
        {"reason": "FieldValueInvalid"}
      ]
    },
    "code": 422
  })");
  BOOST_REQUIRE(s);
  BOOST_TEST(!s->success());
  BOOST_TEST(s->status == "Failure");
  BOOST_TEST(s->message == "Pod \"redis-0\" is invalid: spec.containers[0].image: Required value");
  BOOST_TEST(s->reason == "Invalid");
  BOOST_TEST(s->code == 422);
  BOOST_TEST(s->details.name == "redis-0");
  BOOST_TEST(s->details.group == "");
  BOOST_TEST(s->details.kind == "pods");
  BOOST_TEST(s->details.uid == "u-1");
  BOOST_TEST(s->details.retry_after_seconds == 3);
  BOOST_REQUIRE_EQUAL(s->details.causes.size(), 2u);
  BOOST_TEST(s->details.causes[0].reason == "FieldValueRequired");
  BOOST_TEST(s->details.causes[0].message == "Required value");
  BOOST_TEST(s->details.causes[0].field == "spec.containers[0].image");
  BOOST_TEST(s->details.causes[1].reason == "FieldValueInvalid");
  BOOST_TEST(s->details.causes[1].message == "");
  BOOST_TEST((s->error() == api_errc::invalid));
}

BOOST_AUTO_TEST_CASE(success_and_minimal) {
  auto ok =
      k8s::parse_status(R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success"})");
  BOOST_REQUIRE(ok);
  BOOST_TEST(ok->success());
  BOOST_TEST(!ok->error());
  // kind may be absent (exec's error stream); nulls count as absent.
  auto bare = k8s::parse_status(R"({"message":null,"code":404,"details":null})");
  BOOST_REQUIRE(bare);
  BOOST_TEST((bare->error() == api_errc::not_found));
  BOOST_TEST(bare->message == "");
  auto empty = k8s::parse_status("{}");
  BOOST_REQUIRE(empty);
  BOOST_TEST((empty->error() == api_errc::unknown));
}

BOOST_AUTO_TEST_CASE(reason_decides_before_code) {
  struct case_t {
    std::string reason;
    int code;
    api_errc expected;
  };
  const std::vector<case_t> cases = {
      {"NotFound", 404, api_errc::not_found},
      {"AlreadyExists", 409, api_errc::already_exists},
      {"Conflict", 409, api_errc::conflict},
      {"Gone", 410, api_errc::gone},
      {"Expired", 410, api_errc::expired},
      {"Unauthorized", 401, api_errc::unauthorized},
      {"Forbidden", 403, api_errc::forbidden},
      {"TooManyRequests", 429, api_errc::too_many_requests},
      {"InternalError", 500, api_errc::internal_error},
      {"ServerTimeout", 500, api_errc::server_timeout},
      {"Timeout", 504, api_errc::timeout},
      {"BadRequest", 400, api_errc::bad_request},
      {"MethodNotAllowed", 405, api_errc::method_not_allowed},
      {"NotAcceptable", 406, api_errc::not_acceptable},
      {"RequestEntityTooLarge", 413, api_errc::request_entity_too_large},
      {"UnsupportedMediaType", 415, api_errc::unsupported_media_type},
      {"Invalid", 422, api_errc::invalid},
      {"ServiceUnavailable", 503, api_errc::service_unavailable},
      // No or an unknown reason: the HTTP code.
      {"", 404, api_errc::not_found},
      {"", 409, api_errc::conflict},
      {"", 410, api_errc::gone},
      {"", 401, api_errc::unauthorized},
      {"", 403, api_errc::forbidden},
      {"", 429, api_errc::too_many_requests},
      {"", 500, api_errc::internal_error},
      {"", 504, api_errc::timeout},
      {"SomethingNew", 503, api_errc::service_unavailable},
      {"SomethingNew", 418, api_errc::unknown},
      {"", 0, api_errc::unknown},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.reason << " " << c.code) {
      k8s::status s;
      s.status = "Failure";
      s.reason = c.reason;
      s.code = c.code;
      BOOST_TEST((s.error() == c.expected));
      BOOST_TEST((s.error().category() == k8s::api_category()));
    }
  }
}

BOOST_AUTO_TEST_CASE(expired_means_relist) {
  BOOST_TEST(k8s::is_expired(api_errc::gone));
  BOOST_TEST(k8s::is_expired(api_errc::expired));
  BOOST_TEST(!k8s::is_expired(api_errc::not_found));
  BOOST_TEST(!k8s::is_expired(k8s::errc::too_large));
  BOOST_TEST(!k8s::is_expired({}));
}

BOOST_AUTO_TEST_CASE(malformed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "malformed_json"},
      {"{", "malformed_json"},
      {"not json", "malformed_json"},
      {"[]", "malformed_status"},
      {"\"Failure\"", "malformed_status"},
      {R"({"kind":"Pod"})", "malformed_status"},
      {R"({"kind":5})", "malformed_status"},
      {R"({"status":1})", "malformed_status"},
      {R"({"message":[]})", "malformed_status"},
      {R"({"reason":{}})", "malformed_status"},
      {R"({"code":"404"})", "malformed_status"},
      {R"({"code":4.5})", "malformed_status"},
      {R"({"code":18446744073709551615})", "malformed_status"},
      {R"({"details":[]})", "malformed_status"},
      {R"({"details":{"name":1}})", "malformed_status"},
      {R"({"details":{"retryAfterSeconds":"3"}})", "malformed_status"},
      {R"({"details":{"causes":{}}})", "malformed_status"},
      {R"({"details":{"causes":["x"]}})", "malformed_status"},
      {R"({"details":{"causes":[{"field":2}]}})", "malformed_status"},
  };
  for (const auto& [input, error] : cases) {
    BOOST_TEST_CONTEXT("input " << input) {
      auto s = k8s::parse_status(input);
      BOOST_REQUIRE(!s);
      BOOST_TEST(errc_name(s.error()) == error);
    }
  }
}

BOOST_AUTO_TEST_CASE(http_status_without_body) {
  BOOST_TEST((k8s::api_errc_for_http_status(401) == api_errc::unauthorized));
  BOOST_TEST((k8s::api_errc_for_http_status(403) == api_errc::forbidden));
  BOOST_TEST((k8s::api_errc_for_http_status(410) == api_errc::gone));
  BOOST_TEST((k8s::api_errc_for_http_status(503) == api_errc::service_unavailable));
  BOOST_TEST((k8s::api_errc_for_http_status(200) == api_errc::unknown));
}

BOOST_AUTO_TEST_CASE(failure_keeps_the_servers_words) {
  auto s = k8s::parse_status(
      R"({"kind":"Status","status":"Failure","message":"pods \"redis-9\" not found","reason":"NotFound","details":{"name":"redis-9","kind":"pods"},"code":404})");
  BOOST_REQUIRE(s);
  const kage::failure f = k8s::to_failure(*s, "reading pod redis-9");
  BOOST_TEST(std::string(f.what()) ==
             "reading pod redis-9: pods \"redis-9\" not found (NotFound, HTTP 404)");
  BOOST_TEST((f.error() == api_errc::not_found));
  BOOST_TEST((f.code() == kage::exit_code::failure));
  // No message: the category's sentence stands in.
  k8s::status bare;
  bare.code = 503;
  const kage::failure g = k8s::to_failure(bare, "listing pods");
  BOOST_TEST(std::string(g.what()) ==
             "listing pods: The Kubernetes API server is unavailable (ServiceUnavailable). "
             "(no reason given, HTTP 503)");
}

BOOST_AUTO_TEST_CASE(every_api_errc_has_a_sentence) {
  for (int v = 1; v <= static_cast<int>(api_errc::timeout); ++v) {
    const std::string m = k8s::make_error_code(static_cast<api_errc>(v)).message();
    BOOST_TEST_CONTEXT("api_errc " << v) {
      BOOST_TEST(m != "Unknown Kubernetes API error.");
      BOOST_TEST(m.back() == '.');
    }
  }
  for (int v = 1; v <= static_cast<int>(k8s::errc::not_in_cluster); ++v) {
    const std::string m = k8s::make_error_code(static_cast<k8s::errc>(v)).message();
    BOOST_TEST_CONTEXT("errc " << v) {
      BOOST_TEST(m != "Unknown Kubernetes client error.");
      BOOST_TEST(m.back() == '.');
    }
  }
}

BOOST_AUTO_TEST_CASE(forbidden_names_the_role_rule) {
  const std::string text = k8s::explain_refusal(403, {.verb = "create",
                                                      .group = "",
                                                      .resource = "pods",
                                                      .subresource = "exec",
                                                      .namespace_ = "redis"});
  BOOST_TEST(text ==
             "The Kubernetes API server refused to let kage create pods/exec in namespace "
             "\"redis\" (403 Forbidden). kage's ServiceAccount needs a Role in namespace "
             "\"redis\" with the rule {apiGroups: [\"\"], resources: [\"pods/exec\"], verbs: "
             "[\"create\"]}, bound to it by a RoleBinding.");
}

BOOST_AUTO_TEST_CASE(forbidden_with_a_group) {
  const std::string text = k8s::explain_refusal(403, {.verb = "update",
                                                      .group = "coordination.k8s.io",
                                                      .resource = "leases",
                                                      .subresource = "",
                                                      .namespace_ = "db"});
  BOOST_TEST(text.find("update leases.coordination.k8s.io in namespace \"db\"") !=
             std::string::npos);
  BOOST_TEST(text.find("{apiGroups: [\"coordination.k8s.io\"], resources: [\"leases\"], verbs: "
                       "[\"update\"]}") != std::string::npos);
  BOOST_TEST(text.find("a Role in namespace \"db\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(forbidden_cluster_scoped_needs_a_cluster_role) {
  const std::string text = k8s::explain_refusal(
      403, {.verb = "list", .group = "", .resource = "nodes", .subresource = "", .namespace_ = ""});
  BOOST_TEST(text ==
             "The Kubernetes API server refused to let kage list nodes cluster-wide (403 "
             "Forbidden). kage's ServiceAccount needs a ClusterRole with the rule {apiGroups: "
             "[\"\"], resources: [\"nodes\"], verbs: [\"list\"]}, bound to it by a "
             "ClusterRoleBinding.");
}

BOOST_AUTO_TEST_CASE(unauthorized_is_about_credentials) {
  const std::string text = k8s::explain_refusal(
      401,
      {.verb = "watch", .group = "", .resource = "pods", .subresource = "", .namespace_ = "redis"});
  BOOST_TEST(text.find("did not accept kage's credentials when asked to watch pods in "
                       "namespace \"redis\" (401 Unauthorized)") != std::string::npos);
  BOOST_TEST(text.find("apiGroups") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
