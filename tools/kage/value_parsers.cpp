#include "kage/value_parsers.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include "kage/suggestions.hpp"
#include "kage/text.hpp"

namespace kage::cli::detail {

[[noreturn]] void bad_value(const std::string& where, std::string_view expected,
                            std::string_view got) {
  throw usage_error(where + ": expected " + std::string(expected) + ", got " + quoted(got));
}

std::optional<std::string> node_problem(std::string_view node) {
  std::string_view host, port;
  if (node.starts_with('[')) {
    auto close = node.find(']');
    if (close == std::string_view::npos) return "no ']' after the IPv6 address";
    host = node.substr(1, close - 1);
    auto rest = node.substr(close + 1);
    if (!rest.starts_with(':')) return "no ':PORT' after the address";
    port = rest.substr(1);
  } else {
    if (node.find("://") != std::string_view::npos) return "give HOST:PORT, not a URL";
    auto colon = node.rfind(':');
    if (colon == std::string_view::npos) return "no ':PORT'";
    host = node.substr(0, colon);
    port = node.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return "write IPv6 addresses in brackets, as in [::1]:7000";
  }
  if (host.empty()) return "no host before the ':'";
  int number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || number < 1 ||
      number > 65535)
    return "the port must be a number from 1 to 65535";
  return std::nullopt;
}

int parse_count(const setting_spec& spec, std::string_view text, const std::string& where) {
  std::string expected = "a positive integer";
  if (!spec.unit.empty()) expected += " number of " + std::string(spec.unit);
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  bool numeric = !text.empty() && end == text.data() + text.size() &&
                 (ec == std::errc{} || ec == std::errc::result_out_of_range);
  if (!numeric || (ec == std::errc{} && value < 1)) bad_value(where, expected, text);
  if (ec == std::errc::result_out_of_range || value > spec.max)
    bad_value(where, expected + " no greater than " + std::to_string(spec.max), text);
  return static_cast<int>(value);
}

bool parse_bool(std::string_view text, const std::string& where) {
  auto t = lower(text);
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  bad_value(where, "true or false", text);
}

std::string parse_choice(const setting_spec& spec, std::string_view text,
                         const std::string& where) {
  std::vector<std::string> options;
  for (auto rest = spec.choices;;) {
    auto bar = rest.find('|');
    options.emplace_back(rest.substr(0, bar));
    if (bar == std::string_view::npos) break;
    rest.remove_prefix(bar + 1);
  }
  auto t = lower(trim(text));
  if (std::find(options.begin(), options.end(), t) != options.end()) return t;
  std::string expected = "one of";
  for (std::size_t i = 0; i < options.size(); ++i) expected += (i ? ", " : " ") + options[i];
  throw usage_error(where + ": expected " + expected + ", got " + quoted(text) +
                    did_you_mean(closest(t, options)));
}

}  // namespace kage::cli::detail
