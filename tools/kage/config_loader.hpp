#pragma once
// The layers under the flags: the config file (YAML) and the environment, assigned in order into
// one settings value, then the rules across settings.
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "kage/setting_table.hpp"

namespace kage::cli::detail {

// One source of settings (the file, the environment, the flags). Its first value for a list
// replaces what lower layers gave; later values in the same layer add to it (--node a --node b).
struct layer {
  std::string name;
  std::set<const setting_spec*> touched;
};

struct loader {
  settings s;
  std::string password_file_origin;           // where the password file was named, for read errors
  std::string sentinel_password_file_origin;  // the same for the sentinel password file

  void assign_list(const setting_spec& spec, std::vector<std::string> items,
                   const std::string& where, layer& l);
  // text: a scalar from any source; for lists it is comma-separated.
  void assign(const setting_spec& spec, std::string_view text, const std::string& where, layer& l);
  // Two sources for the password within one layer is a mistake worth stopping for.
  void check_layer(const layer& l) const;

  void load_file(const std::string& path);
  void load_text(const std::string& text, const std::string& path);  // the file's bytes
  void load_map(const YAML::Node& map, const std::string& prefix, const std::string& path,
                std::map<std::string, int>& seen, layer& l);
  void load_value(const setting_spec& spec, const YAML::Node& value, const std::string& where,
                  const std::string& origin, layer& l);
  // Records where a setting's value came from (settings::origins), under its canonical key.
  void note(const setting_spec& spec, std::string origin);
  void load_env(const std::map<std::string, std::string>& env);
  void finish();
};

}  // namespace kage::cli::detail
