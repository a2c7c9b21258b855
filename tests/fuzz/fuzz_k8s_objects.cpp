// JSON objects kage reads from the Kubernetes API outside the client's codecs: Pods (one, or a
// List's items) as the healer reads them, a SelfSubjectAccessReview answer, a Status. A Pod
// trimmed by k8s::keep_pod_essentials (what the healer's cache keeps) must read exactly as
// the whole Pod does.
#include <kage/engine/heal_plan.hpp>
#include <kage/k8s/permissions.hpp>
#include <kage/k8s/pod_fields.hpp>
#include <kage/k8s/status.hpp>

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace json = boost::json;
namespace ke = kage::engine;

namespace {

bool same(const ke::heal_pod& a, const ke::heal_pod& b) {
  return a.name == b.name && a.ip == b.ip && a.ready == b.ready && a.deleting == b.deleting &&
         a.host == b.host && a.zone == b.zone;
}

void check_pod(const json::value& item) {
  const auto whole = ke::heal_pod_from(item);
  json::value slim = item;
  kage::k8s::keep_pod_essentials(slim);
  const auto kept = ke::heal_pod_from(slim);
  if (whole.has_value() != kept.has_value()) __builtin_trap();
  if (whole && !same(*whole, *kept)) __builtin_trap();
  // Trimming twice changes nothing more.
  json::value twice = slim;
  kage::k8s::keep_pod_essentials(twice);
  if (twice != slim) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)kage::k8s::parse_status(in);
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 64;
  json::value v = json::parse(in, ec, {}, options);
  if (ec) return 0;
  (void)kage::k8s::parse_status(v);
  (void)kage::k8s::read_access_review(v);
  check_pod(v);
  std::vector<json::value> items;
  if (const auto* o = v.if_object()) {
    if (const auto* list = o->if_contains("items"); list && list->is_array()) {
      for (const auto& item : list->get_array()) {
        check_pod(item);
        items.push_back(item);
      }
    }
  }
  const auto pods = ke::heal_pods_from(items);
  std::size_t objects = 0;
  for (const auto& item : items) objects += item.is_object() ? 1 : 0;
  if (pods.size() != objects) __builtin_trap();
  return 0;
}
