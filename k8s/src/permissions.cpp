#include <kage/k8s/permissions.hpp>

#include <boost/json.hpp>

#include <algorithm>

namespace kage::k8s {

namespace {

struct row {
  feature f;
  permission p;
};

// The order here is the doctor's order. Exec over WebSocket is an HTTP GET: API servers before
// Kubernetes 1.35 authorize it as "get" on pods/exec, 1.35 and later (feature gate
// AuthorizePodWebsocketUpgradeCreatePermission) also as "create", so both are needed.
const std::vector<row>& table() {
  static const std::vector<row> rows = {
      {feature::pods_nodes_conf, {"", "pods", "", "list", "find the Redis pods (--pods)"}},
      {feature::pods_nodes_conf,
       {"", "pods", "exec", "create", "read each pod's nodes.conf by exec"}},
      {feature::pods_nodes_conf,
       {"", "pods", "exec", "get", "read each pod's nodes.conf by exec (WebSocket, before 1.35)"}},
      {feature::heal, {"", "pods", "", "list", "find the Redis pods (--pods)"}},
      {feature::heal, {"", "pods", "", "watch", "follow the Redis pods as they change"}},
      {feature::heal, {"coordination.k8s.io", "leases", "", "get", "see who leads (Lease)"}},
      {feature::heal, {"coordination.k8s.io", "leases", "", "create", "take the lead (Lease)"}},
      {feature::heal, {"coordination.k8s.io", "leases", "", "update", "renew the lead (Lease)"}},
      {feature::heal, {"", "events", "", "create", "record each action as an Event"}},
      {feature::controller, {"redis.io", "redisbackups", "", "get", "read a RedisBackup"}},
      {feature::controller, {"redis.io", "redisbackups", "", "list", "find the RedisBackups"}},
      {feature::controller,
       {"redis.io", "redisbackups", "", "watch", "follow the RedisBackups as they change"}},
      {feature::controller,
       {"redis.io", "redisbackups", "status", "patch", "report a RedisBackup's progress"}},
      {feature::controller, {"", "events", "", "create", "record each job as an Event"}},
      {feature::controller,
       {"", "pods", "", "list", "find the pods of a RedisBackup's cluster (clusterName label)"}},
  };
  return rows;
}

bool same(const permission& a, const permission& b) {
  return a.group == b.group && a.resource == b.resource && a.subresource == b.subresource &&
         a.verb == b.verb;
}

}  // namespace

std::string_view to_string(feature f) noexcept {
  switch (f) {
    case feature::pods_nodes_conf:
      return "nodes-conf";
    case feature::heal:
      return "heal";
    case feature::controller:
      return "controller";
  }
  return "?";
}

bool parse_feature(std::string_view name, feature& out) noexcept {
  for (const feature f : all_features()) {
    if (to_string(f) == name) {
      out = f;
      return true;
    }
  }
  return false;
}

const std::vector<feature>& all_features() {
  static const std::vector<feature> all = {feature::pods_nodes_conf, feature::heal,
                                           feature::controller};
  return all;
}

std::string permission::resource_name() const {
  std::string r(resource);
  if (!subresource.empty()) r += "/" + std::string(subresource);
  return r;
}

std::string permission::describe() const {
  std::string r = std::string(verb) + " " + resource_name();
  if (!group.empty()) r += " (" + std::string(group) + ")";
  return r;
}

std::vector<permission> permissions_for(const std::vector<feature>& features) {
  std::vector<permission> out;
  for (const auto& r : table()) {
    if (std::find(features.begin(), features.end(), r.f) == features.end()) continue;
    const bool seen =
        std::any_of(out.begin(), out.end(), [&](const permission& p) { return same(p, r.p); });
    if (!seen) out.push_back(r.p);
  }
  return out;
}

boost::json::value make_access_review(const permission& p, std::string_view ns) {
  boost::json::object attributes{
      {"namespace", ns}, {"verb", p.verb}, {"group", p.group}, {"resource", p.resource}};
  if (!p.subresource.empty()) attributes["subresource"] = p.subresource;
  return boost::json::object{
      {"apiVersion", "authorization.k8s.io/v1"},
      {"kind", "SelfSubjectAccessReview"},
      {"spec", boost::json::object{{"resourceAttributes", std::move(attributes)}}}};
}

access_review_answer read_access_review(const boost::json::value& review) {
  access_review_answer out;
  const auto* o = review.if_object();
  const auto* status = o ? o->if_contains("status") : nullptr;
  if (!status || !status->is_object()) return out;
  const auto& st = status->get_object();
  const auto text = [&st](std::string_view key) {
    const auto* v = st.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  const auto* allowed = st.if_contains("allowed");
  out.allowed = allowed && allowed->is_bool() && allowed->get_bool();
  out.reason = text("reason");
  out.evaluation_error = text("evaluationError");
  return out;
}

}  // namespace kage::k8s
