// CLUSTER NODES text and nodes.conf files (one format): the line parser, each slot field, the
// "myself" id a stored nodes.conf names, and the nodes.conf kage writes for each node of the
// view, which must parse again (same nodes, handshakes left out) and name that node as myself.
#include <kage/engine/pod_files.hpp>
#include <kage/proto/cluster_config.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kp = kage::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)kage::engine::nodes_conf_node_id(in);
  auto view = kp::parse_cluster_nodes_lines(in);
  if (!view) return 0;
  std::size_t kept = 0;
  for (const auto& line : *view) {
    (void)line.host();
    (void)line.port();
    (void)line.text();
    for (const auto& s : line.slots) {
      if (auto f = kp::parse_slot_field(s)) {
        if (f->range.first < 0 || f->range.last > 16383 || f->range.first > f->range.last)
          __builtin_trap();
      }
    }
    kept += line.has_flag("handshake") ? 0 : 1;
  }
  std::size_t made = 0;
  for (const auto& line : *view) {
    if (++made > 4) break;  // the first few nodes: each is a pass over the whole view
    auto conf = kp::make_nodes_conf(*view, line.id, 7, 3);
    if (!conf) {
      if (!line.has_flag("handshake")) __builtin_trap();
      continue;
    }
    if (line.has_flag("handshake")) {
      // Another, non-handshake line with the same id may have been found.
      if (kage::engine::nodes_conf_node_id(*conf) != line.id) __builtin_trap();
      continue;
    }
    if (kage::engine::nodes_conf_node_id(*conf) != line.id) __builtin_trap();
    const auto vars = conf->rfind("vars ");
    if (vars == std::string::npos) __builtin_trap();
    auto again = kp::parse_cluster_nodes_lines(std::string_view(*conf).substr(0, vars));
    if (!again || again->size() != kept) __builtin_trap();
  }
  return 0;
}
