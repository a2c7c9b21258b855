#include <kage/engine/heal_plan.hpp>

#include <boost/json.hpp>

namespace kage::engine {

namespace json = boost::json;

namespace {

std::string text(const json::object* o, std::string_view key) {
  if (!o) return {};
  const auto* v = o->if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

const json::object* object(const json::object* o, std::string_view key) {
  if (!o) return nullptr;
  const auto* v = o->if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

}  // namespace

std::optional<heal_pod> heal_pod_from(const json::value& item) {
  const auto* pod = item.if_object();
  if (!pod) return std::nullopt;
  const auto* meta = object(pod, "metadata");
  const auto* spec = object(pod, "spec");
  const auto* status = object(pod, "status");
  heal_pod p;
  p.name = text(meta, "name");
  p.ip = text(status, "podIP");
  const auto* deletion = meta ? meta->if_contains("deletionTimestamp") : nullptr;
  p.deleting = deletion && !deletion->is_null();
  p.host = text(spec, "nodeName");
  p.zone = text(object(meta, "labels"), "topology.kubernetes.io/zone");
  if (const auto* conditions = status ? status->if_contains("conditions") : nullptr;
      conditions && conditions->is_array()) {
    for (const auto& c : conditions->get_array()) {
      const auto* co = c.if_object();
      if (text(co, "type") == "Ready") p.ready = text(co, "status") == "True";
    }
  }
  return p;
}

std::vector<heal_pod> heal_pods_from(const std::vector<json::value>& items) {
  std::vector<heal_pod> out;
  for (const auto& item : items) {
    if (auto p = heal_pod_from(item)) out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace kage::engine
