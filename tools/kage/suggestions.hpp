#pragma once
// "did you mean ...?" for mistyped commands, flags, settings and choices.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kage::cli::detail {

// The candidate a typo most likely meant: within two edits, else the only one it abbreviates.
std::optional<std::string> closest(std::string_view wrong, const std::vector<std::string>& options);

// " (did you mean 'x'?)", or "" when there is no suggestion.
std::string did_you_mean(const std::optional<std::string>& s);

}  // namespace kage::cli::detail
