#pragma once
// One setting's value from text: counts, switches, choices, host:port. Errors are usage_error
// naming `where` the value came from.
#include <optional>
#include <string>
#include <string_view>

#include "kage/setting_table.hpp"

namespace kage::cli::detail {

[[noreturn]] void bad_value(const std::string& where, std::string_view expected,
                            std::string_view got);

// Why `node` is not a HOST:PORT (or [IPv6]:PORT), or nullopt when it is one.
std::optional<std::string> node_problem(std::string_view node);

// Why `name` is not one of k8s::feature's names, or nullopt when it is one.
std::optional<std::string> feature_problem(std::string_view name);

int parse_count(const setting_spec& spec, std::string_view text, const std::string& where);
bool parse_bool(std::string_view text, const std::string& where);
std::string parse_choice(const setting_spec& spec, std::string_view text, const std::string& where);

}  // namespace kage::cli::detail
