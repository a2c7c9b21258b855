// `kage config`: the effective settings as YAML in the config file's own layout.
#include <type_traits>
#include <variant>

#include <yaml-cpp/yaml.h>

#include "kage/setting_table.hpp"

namespace kage::cli {

using namespace detail;

namespace {

// The tree, with each value followed by where it came from ("# env REDIS_NODE").
void emit(YAML::Emitter& out, const YAML::Node& map, const std::string& prefix, const settings& s) {
  out << YAML::BeginMap;
  for (const auto& pair : map) {
    const std::string name = pair.first.Scalar();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    out << YAML::Key << name << YAML::Value;
    if (pair.second.IsMap()) {
      emit(out, pair.second, key, s);
      continue;
    }
    out << pair.second;
    const auto it = s.origins.find(key);
    out << YAML::Comment(it == s.origins.end() ? "default" : it->second);
  }
  out << YAML::EndMap;
}

// A member two keys share (store.location and store.locations) is shown once, under the first.
bool shown_earlier(const setting_spec& spec) {
  for (const auto& other : setting_table()) {
    if (&other == &spec) return false;
    if (!other.key.empty() && other.target == spec.target) return true;
  }
  return false;
}

}  // namespace

std::string describe_settings(const settings& s) {
  // Built as a tree so sections nest like the config file; yaml-cpp keeps insertion order.
  YAML::Node root(YAML::NodeType::Map);  // a default Node has no storage for copies to share
  for (const auto& spec : setting_table()) {
    if (spec.key.empty() || shown_earlier(spec)) continue;
    std::vector<std::string> parts;
    for (auto rest = spec.key;;) {
      auto dot = rest.find('.');
      parts.emplace_back(rest.substr(0, dot));
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
    // reset() rebinds the handle; plain assignment would overwrite the node it refers to.
    YAML::Node node = root;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) node.reset(node[parts[i]]);
    const auto& leaf = parts.back();
    std::visit(
        [&](auto m) {
          const auto& v = s.*m;
          using type = std::remove_cvref_t<decltype(v)>;
          if constexpr (std::is_same_v<type, std::optional<std::string>>) {
            if (v) node[leaf] = spec.secret ? std::string("<redacted>") : *v;
          } else if constexpr (std::is_same_v<type, std::string>) {
            node[leaf] = spec.secret && !v.empty() ? std::string("<redacted>") : v;
          } else if constexpr (std::is_same_v<type, std::vector<std::string>>) {
            YAML::Node list(YAML::NodeType::Sequence);
            list.SetStyle(YAML::EmitterStyle::Flow);  // "nodes: [a:1, b:2]", like the example
            for (const auto& item : v) list.push_back(item);
            node[leaf] = list;
          } else if constexpr (std::is_same_v<type, int>) {
            if (v > 0)
              node[leaf] = v;
            else
              node[leaf] = YAML::Node(YAML::NodeType::Null);  // 0 = unset (no schedule)
          } else {
            node[leaf] = v;
          }
        },
        spec.target);
  }
  YAML::Emitter out;
  emit(out, root, "", s);
  std::string text =
      "# kage: effective settings (defaults < config file < environment < flags); after each "
      "value, where it came from\n";
  if (!s.config_file.empty()) text += "# config file: " + s.config_file + "\n";
  std::string where;
  for (const auto& l : store_locations(s)) where += (where.empty() ? "" : ", ") + l;
  if (!where.empty()) text += "# backups go to: " + where + "\n";
  return text + out.c_str() + "\n";
}

}  // namespace kage::cli
