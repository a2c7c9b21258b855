#include "kage/flag_parser.hpp"

#include <string_view>
#include <variant>

#include "kage/suggestions.hpp"
#include "kage/text.hpp"

namespace kage::cli::detail {
namespace {

// Why a real flag is refused here, with the flag this command uses instead where there is one.
std::string wrong_command_message(std::string_view flag, const command_info& cmd) {
  std::string head =
      "option " + quoted(flag) + " does not apply to 'kage " + std::string(cmd.name) + "'";
  if (flag == "--to" && (cmd.bit & k_reads_store))
    return head + ": --to names where 'kage backup' writes; 'kage " + std::string(cmd.name) +
           "' reads from --from LOCATION";
  if (flag == "--from" && (cmd.bit & (k_backup | k_snapshot)))
    return head + ": --from names where a backup is read from; 'kage " + std::string(cmd.name) +
           "' writes to --to LOCATION";
  if ((flag == "--to" || flag == "--from") && cmd.bit == k_config)
    return head +
           ": 'kage config' shows store.locations as set by the config file or "
           "BACKUP_DIR";
  std::string users;
  for (const auto& c : command_table())
    for (const auto& spec : setting_table())
      for (const auto& f : spec.flags)
        if (f.name == flag && (f.commands & c.bit & k_jobs))
          users += std::string(users.empty() ? "" : ", ") + "kage " + std::string(c.name);
  return head + (users.empty() ? "" : " (it is for " + users + ")") + "; run 'kage " +
         std::string(cmd.name) + " --help'";
}

}  // namespace

std::vector<flag_use> parse_flags(int argc, const char* const* argv, const command_info& cmd) {
  std::vector<flag_use> uses;
  std::string cmd_name(cmd.name);
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      throw usage_error("unexpected argument " + quoted(arg) + " for 'kage " + cmd_name +
                        "': settings are given as options, such as --node HOST:PORT; run 'kage " +
                        cmd_name + " --help'");
    }
    auto eq = arg.find('=');
    std::string name(arg.substr(0, eq));
    std::optional<std::string> value;
    if (eq != std::string_view::npos) value = std::string(arg.substr(eq + 1));

    if (name == "--password")
      throw usage_error(
          "kage takes no --password option: a command line is visible to every user of the "
          "machine and lands in shell history; set REDISCLI_AUTH, use --password-file FILE, "
          "or put redis.password in the config file");

    const setting_spec* found = nullptr;
    bool allowed = false;
    for (const auto& spec : setting_table())
      for (const auto& f : spec.flags)
        if (!f.name.empty() && f.name == name && !allowed) {  // this command's row wins
          found = &spec;
          allowed = f.commands & cmd.bit;
        }
    if (!found) {
      auto candidates = flags_for(cmd.bit);
      candidates.emplace_back("--help");
      throw usage_error("unknown option " + quoted(name) + " for 'kage " + cmd_name + "'" +
                        did_you_mean(closest(name, candidates)) + "; run 'kage " + cmd_name +
                        " --help'");
    }
    if (!allowed) throw usage_error(wrong_command_message(name, cmd));

    bool is_switch = std::holds_alternative<bool settings::*>(found->target);
    if (!is_switch && !value) {
      // A following "--x" is the next option, not a value: the value was forgotten.
      if (i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--")) value = argv[++i];
    }
    if (!is_switch && (!value || value->empty()))
      throw usage_error("option " + quoted(name) + " needs a value (" + name + " " +
                        std::string(found->metavar) + ")");
    uses.push_back({found, name, value});
  }
  return uses;
}

}  // namespace kage::cli::detail
