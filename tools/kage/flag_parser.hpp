#pragma once
// The command line after the subcommand: each option matched to its setting row, checked
// against the command, with its value.
#include <optional>
#include <string>
#include <vector>

#include "kage/setting_table.hpp"

namespace kage::cli::detail {

struct flag_use {
  const setting_spec* spec;
  std::string flag;
  std::optional<std::string> value;  // nullopt: a switch given without "=value"
};

std::vector<flag_use> parse_flags(int argc, const char* const* argv, const command_info& cmd);

}  // namespace kage::cli::detail
