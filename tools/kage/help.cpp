// `kage help` and `kage COMMAND --help`, written from the command and setting tables.
#include <algorithm>
#include <climits>
#include <sstream>
#include <type_traits>
#include <variant>

#include "kage/setting_table.hpp"
#include "kage/text.hpp"

namespace kage::cli {

using namespace detail;

std::vector<std::string> option_names(const std::string& command) {
  const command_info* cmd = find_command(command);
  return flags_for(cmd && cmd->bit ? cmd->bit : k_all);
}

namespace {

constexpr std::string_view k_precedence =
    "Where settings come from, each overriding the one before:\n"
    "  built-in defaults < config file (--config FILE or KAGE_CONFIG) < environment < flags.\n"
    "  A list given by flags (--node, --pattern; repeat them for more) replaces the list from\n"
    "  the config file or environment. 'kage config' prints the result.\n";

constexpr std::string_view k_password =
    "Password: never on the command line, where every user of the machine can read it. Set\n"
    "  REDISCLI_AUTH, or use --password-file FILE (REDIS_PASSWORD_FILE), or put redis.password\n"
    "  or redis.password_file in the config file. --user (REDIS_USER) names the ACL user.\n";

constexpr std::string_view k_exit_codes =
    "Exit codes:\n"
    "  0    success\n"
    "  1    failure not covered below\n"
    "  2    usage or configuration error (bad option or value, unknown setting, unreadable\n"
    "       config file)\n"
    "  3    Redis unreachable, authentication refused, or cluster unusable\n"
    "  4    backup store unreadable or unwritable\n"
    "  5    backup corrupt or truncated\n"
    "  6    incompatible: no such backup, or the target cannot load the backup's RDB version\n"
    "  130  interrupted (SIGINT or SIGTERM)\n";

std::string default_of(const setting_spec& spec) {
  if (!spec.default_text.empty()) return std::string(spec.default_text);
  const settings defaults;
  return std::visit(
      [&](auto m) -> std::string {
        const auto& v = defaults.*m;
        using type = std::remove_cvref_t<decltype(v)>;
        if constexpr (std::is_same_v<type, int>) return std::to_string(v);
        if constexpr (std::is_same_v<type, std::string>) return v;
        return "";
      },
      spec.target);
}

// "[env X; config a.b; default D]": the three other places the same setting lives.
std::string sources_of(const setting_spec& spec, bool key_shown) {
  std::vector<std::string> parts;
  for (auto e : spec.env)
    if (!e.empty()) parts.push_back("env " + std::string(e));
  if (!spec.key.empty() && !key_shown) parts.push_back("config " + std::string(spec.key));
  if (!spec.choices.empty()) {
    std::string c(spec.choices);
    parts.push_back("one of " + c);
  } else if (std::holds_alternative<int settings::*>(spec.target) && spec.max != INT_MAX) {
    parts.push_back("1 to " + std::to_string(spec.max));
  }
  if (auto d = default_of(spec); !d.empty()) parts.push_back("default " + d);
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out.empty() ? "" : "[" + out + "]";
}

// Words of text from the current column (`at`) on, wrapped under `indent` within `width`.
void wrap(std::ostringstream& out, std::string_view text, std::size_t at, std::size_t indent) {
  constexpr std::size_t width = 92;
  bool first = true;
  while (!(text = trim(text)).empty()) {
    auto space = text.find(' ');
    auto word = text.substr(0, space);
    if (!first && at + 1 + word.size() > width) {
      out << "\n" << std::string(indent, ' ');
      at = indent;
    } else if (!first) {
      out << ' ';
      ++at;
    }
    out << word;
    at += word.size();
    first = false;
    text.remove_prefix(word.size());
  }
  out << "\n";
}

// One option: its name and value in a column, what it does, then its other sources.
void option_line(std::ostringstream& out, const std::string& left, const setting_spec& spec,
                 bool left_is_key) {
  constexpr std::size_t column = 28;
  std::string line = "  " + left;
  if (line.size() + 2 <= column)
    line += std::string(column - line.size(), ' ');
  else
    line += "\n" + std::string(column, ' ');
  out << line;
  wrap(out, spec.help, column, column);
  if (auto src = sources_of(spec, left_is_key); !src.empty()) {
    out << std::string(column, ' ');
    wrap(out, src, column, column + 1);
  }
}

std::string overview() {
  std::ostringstream out;
  out << "kage - back up and restore Redis Clusters\n\n"
      << "Usage: kage COMMAND [OPTIONS]\n\n"
      << "Commands:\n";
  for (const auto& c : command_table()) {
    std::string name(c.name);
    out << "  " << name << std::string(10 - name.size(), ' ') << c.summary << "\n";
  }
  out << "\nExamples:\n"
      << "  kage backup --node 127.0.0.1:7000 --to /var/backups/redis [--pattern 'user:*']\n"
      << "  kage restore --node 127.0.0.1:7100 --from /var/backups/redis [--id ID] [--replace]\n"
      << "  kage verify --from /var/backups/redis [--id ID]\n"
      << "  kage list --from /var/backups/redis\n"
      << "  kage show --from /var/backups/redis [--id ID]\n"
      << "  kage snapshot --node 127.0.0.1:7000 --to /var/backups/redis [--target prefer-replica]\n"
      << "  kage fetch --from /var/backups/redis --node-id ID --to /data\n"
      << "  kage config\n\n"
      << k_precedence << "\n"
      << k_password << "\n"
      << k_exit_codes << "\n"
      << "Run 'kage COMMAND --help' for a command's options, their environment variables and\n"
      << "defaults.\n";
  return out.str();
}

}  // namespace

std::string help_text(const std::string& command) {
  const command_info* cmd = find_command(command);
  if (!cmd || !cmd->bit) return overview();

  std::ostringstream out;
  out << "kage " << cmd->name << " - " << cmd->summary << "\n\n"
      << "Usage: " << cmd->usage << "\n\n"
      << cmd->details << "\n"
      << "Examples:\n"
      << cmd->examples << "\n"
      << "Options:\n";
  for (const auto& spec : setting_table())
    for (const auto& f : spec.flags)
      if (!f.name.empty() && (f.commands & cmd->bit)) {
        std::string left(f.name);
        if (!spec.metavar.empty()) left += " " + std::string(spec.metavar);
        option_line(out, left, spec, false);
      }
  out << "  --help, -h                show this help\n";

  bool any_flagless = false;
  for (const auto& spec : setting_table()) {
    // Settings this command uses but takes no flag for (e.g. kage run's S3 part size).
    const unsigned bit = cmd->bit;
    if (!(spec.applies & bit) ||
        std::any_of(spec.flags.begin(), spec.flags.end(),
                    [bit](const flag_spec& f) { return !f.name.empty() && (f.commands & bit); }))
      continue;
    if (!any_flagless) out << "\nSettings without a flag here (environment or config file):\n";
    any_flagless = true;
    option_line(out, std::string(spec.key), spec, true);
  }

  out << "\n" << k_precedence << "\n";
  if (cmd->bit & k_redis) out << k_password << "\n";
  out << k_exit_codes;
  return out.str();
}

}  // namespace kage::cli
