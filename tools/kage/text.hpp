#pragma once
// Small text helpers shared by the settings parser, its messages and help.
#include <string>
#include <string_view>
#include <vector>

namespace kage::cli::detail {

std::string lower(std::string_view s);
std::string_view trim(std::string_view s);
std::vector<std::string> split_commas(std::string_view s);  // trimmed, empty items dropped
std::string quoted(std::string_view s);                     // 'like this'

}  // namespace kage::cli::detail
