#include <kage/k8s/pod_fields.hpp>

#include <boost/json.hpp>

#include <initializer_list>
#include <string_view>

namespace kage::k8s {

namespace json = boost::json;

namespace {

// A new object with only `keys` of `from` (those it has).
json::object pick(const json::object& from, std::initializer_list<std::string_view> keys) {
  json::object out;
  for (const auto key : keys) {
    if (const auto* v = from.if_contains(key)) out.emplace(key, *v);
  }
  return out;
}

const json::object* object_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? v->if_object() : nullptr;
}

json::array pick_each(const json::value* list, std::initializer_list<std::string_view> keys) {
  json::array out;
  if (!list || !list->is_array()) return out;
  for (const auto& item : list->get_array()) {
    if (const auto* o = item.if_object()) out.push_back(pick(*o, keys));
  }
  return out;
}

}  // namespace

void keep_pod_essentials(json::value& pod) {
  auto* o = pod.if_object();
  if (!o) return;
  json::object slim;
  if (const auto* meta = object_at(*o, "metadata")) {
    slim["metadata"] =
        pick(*meta, {"name", "namespace", "uid", "resourceVersion", "labels", "deletionTimestamp"});
  }
  if (const auto* spec = object_at(*o, "spec")) slim["spec"] = pick(*spec, {"nodeName"});
  if (const auto* status = object_at(*o, "status")) {
    json::object st = pick(*status, {"phase", "podIP"});
    json::array ready;
    for (auto& c : pick_each(status->if_contains("conditions"), {"type", "status"})) {
      const auto* type = c.as_object().if_contains("type");
      if (type && type->is_string() && type->get_string() == "Ready") ready.push_back(c);
    }
    st["conditions"] = std::move(ready);
    slim["status"] = std::move(st);
  }
  pod = json::value(std::move(slim));
}

}  // namespace kage::k8s
