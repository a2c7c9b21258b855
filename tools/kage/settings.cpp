// load_settings: defaults < config file < environment < flags, after the subcommand is known
// and help and version have had their chance.
#include "kage/settings.hpp"

#include <string_view>

#include "kage/config_loader.hpp"
#include "kage/flag_parser.hpp"
#include "kage/suggestions.hpp"
#include "kage/text.hpp"

namespace kage::cli {

using namespace detail;

std::vector<std::string> store_locations(const settings& s) {
  std::vector<std::string> out = s.locations;
  bool in_s3 = false;
  for (const auto& l : out) in_s3 = in_s3 || l.starts_with("s3://");
  if (!s.s3_bucket.empty() && !in_s3) out.push_back("s3://" + s.s3_bucket);
  return out;
}

settings load_settings(int argc, const char* const* argv,
                       const std::map<std::string, std::string>& env) {
  settings result;
  if (argc < 2) {
    result.command = "help";
    return result;
  }
  std::string_view first = argv[1];
  const command_info* cmd = find_command(first);

  // Help and version short-circuit everything else, so a broken config cannot hide them.
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      result.command = "help";
      if (cmd && cmd->bit) result.help_topic = cmd->name;
      if (first == "help" && i > 2) result.help_topic = argv[2];
      return result;
    }
  }
  if (first == "help") {
    result.command = "help";
    if (argc > 2) {
      std::string_view topic = argv[2];
      const command_info* t = find_command(topic);
      if (!t) {
        std::vector<std::string> names;
        for (const auto& c : command_table()) names.emplace_back(c.name);
        throw usage_error("unknown command " + quoted(topic) + did_you_mean(closest(topic, names)) +
                          "; run 'kage --help' to see the commands");
      }
      if (t->bit) result.help_topic = t->name;
    }
    return result;
  }
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--version") {
      result.command = "version";
      return result;
    }
  }
  if (first == "version") {
    result.command = "version";
    return result;
  }

  if (!cmd) {
    std::vector<std::string> names;
    for (const auto& c : command_table()) names.emplace_back(c.name);
    if (first.starts_with("-")) {
      for (int i = 2; i < argc; ++i)
        if (const auto* later = find_command(argv[i]))
          throw usage_error("the command comes first: 'kage " + std::string(later->name) + " " +
                            std::string(first) + " ...'; run 'kage --help' to see the commands");
      throw usage_error("kage needs a command before " + quoted(first) +
                        ", as in 'kage backup --node HOST:PORT --to LOCATION'; run 'kage --help' "
                        "to see the commands");
    }
    throw usage_error("unknown command " + quoted(first) + did_you_mean(closest(first, names)) +
                      "; run 'kage --help' to see the commands");
  }

  auto uses = parse_flags(argc, argv, *cmd);

  loader l;
  l.s.command = cmd->name;
  // The file is the lowest layer, yet --config sits among the flags: find it first.
  std::string config_file;
  if (auto it = env.find("KAGE_CONFIG"); it != env.end()) config_file = it->second;
  for (const auto& u : uses)
    if (u.flag == "--config") config_file = *u.value;
  if (!config_file.empty()) l.load_file(config_file);

  l.load_env(env);

  layer flags{"the command line", {}};
  for (const auto& u : uses) {
    l.assign(*u.spec, u.value ? std::string_view(*u.value) : std::string_view("true"), u.flag,
             flags);
    l.note(*u.spec, "flag " + u.flag);
  }
  l.check_layer(flags);
  l.s.config_file = config_file;

  l.finish();
  return l.s;
}

}  // namespace kage::cli
