#pragma once
// One table row per setting drives everything: YAML keys, environment names, flags, parsing,
// validation, help and `kage config`, so the five views cannot drift apart.
#include <array>
#include <climits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "kage/commands.hpp"
#include "kage/settings.hpp"

namespace kage::cli::detail {

using member =
    std::variant<std::string settings::*, std::optional<std::string> settings::*,
                 std::vector<std::string> settings::*, bool settings::*, int settings::*>;

struct flag_spec {
  std::string_view name;  // "--node"; empty: no flag
  unsigned commands = 0;  // the commands that accept it
};

// A setting's kind follows from its member's type: string (or one of `choices`), optional string,
// list, bool, int (1..max).
struct setting_spec {
  std::string_view key{};  // YAML path; empty: per invocation only (--id, --json), not in files
  member target{};
  std::array<std::string_view, 2> env{};  // environment names, in increasing precedence
  std::array<flag_spec, 2> flags{};
  std::string_view metavar{};  // value placeholder in help and messages ("HOST:PORT")
  std::string_view help{};
  unsigned applies = 0;        // the commands it matters to; help lists flagless settings by it
  int max = INT_MAX;           // integers run from 1 to max
  std::string_view unit{};     // integers: "seconds" gives "a positive integer number of seconds"
  std::string_view choices{};  // "primary|prefer-replica"
  bool secret = false;         // shown as <redacted>, never accepted from argv
  std::optional<std::string> (*check)(std::string_view) = nullptr;  // list items: why invalid
  std::string_view default_text{};  // help's default when the built-in value does not say it
};

const std::vector<setting_spec>& setting_table();
const setting_spec* find_key(std::string_view key);
const setting_spec& spec_for(std::string_view key);  // a key the table has
// A YAML map that only holds settings: every proper prefix of a key ("redis", "store.s3").
bool is_section(std::string_view path);
// The flags ("--node", ...) the commands in `bit` accept.
std::vector<std::string> flags_for(unsigned bit);

}  // namespace kage::cli::detail
