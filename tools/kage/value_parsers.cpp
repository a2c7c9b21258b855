#include "kage/value_parsers.hpp"

#include <kage/base/endpoint.hpp>
#include <kage/k8s/permissions.hpp>

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
  auto ep = parse_endpoint(node);
  if (ep) return std::nullopt;
  return ep.error().message();
}

std::optional<std::string> feature_problem(std::string_view name) {
  k8s::feature f{};
  if (k8s::parse_feature(name, f)) return std::nullopt;
  std::string known;
  for (const auto x : k8s::all_features())
    known += (known.empty() ? "" : ", ") + std::string(k8s::to_string(x));
  return "not a Kubernetes feature of kage; those are " + known;
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
