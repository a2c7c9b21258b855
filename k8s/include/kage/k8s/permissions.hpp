#pragma once
// What kage asks of the Kubernetes API, per feature: the one list `kage doctor` checks with
// SelfSubjectAccessReview and k8s/deploy/role.yaml grants (a test keeps the two equal).
#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace kage::k8s {

// The features that talk to the API server.
enum class feature {
  pods_nodes_conf,  // backup/snapshot --pods: list the pods, read each nodes.conf by exec
  heal,             // kage heal / the healer: watch the pods, one leader (Lease), Events
  controller,       // the RedisBackup controller: watch RedisBackups, patch their status, Events
};
std::string_view to_string(feature f) noexcept;  // "nodes-conf", "heal", "controller"
bool parse_feature(std::string_view name, feature& out) noexcept;
const std::vector<feature>& all_features();

struct permission {
  std::string_view group;  // "" for the core group
  std::string_view resource;
  std::string_view subresource;  // "" or "exec", "status"
  std::string_view verb;
  std::string_view why;  // what kage does with it, for the doctor's line and role.yaml's comment

  // "pods/exec" or "pods"
  std::string resource_name() const;
  // "create pods/exec" or "get leases.coordination.k8s.io"
  std::string describe() const;
};

// Every permission the given features need, each once, in a stable order.
std::vector<permission> permissions_for(const std::vector<feature>& features);

// A SelfSubjectAccessReview (authorization.k8s.io/v1) asking for p in namespace ns.
boost::json::value make_access_review(const permission& p, std::string_view ns);

// The API server's answer to that review (the object it returns): allowed only when
// status.allowed is true; anything else (no status, a string "true") is not allowed.
struct access_review_answer {
  bool allowed = false;
  std::string reason;            // status.reason, "" when absent
  std::string evaluation_error;  // status.evaluationError, "" when absent
};
access_review_answer read_access_review(const boost::json::value& review);

}  // namespace kage::k8s
