#include "json_helpers.hpp"

#include <algorithm>

namespace kage::storage {

namespace {

bool is_scalar(const json::value& v) noexcept {
  return !v.is_object() && !v.is_array();
}

// Boost.JSON has no pretty printer. Objects one member per line; arrays of scalars on one line
// (slot ranges, patterns); other arrays one element per line. Key order is insertion order.
void pretty(const json::value& v, std::string& out, std::size_t indent) {
  const auto pad = [&](std::size_t n) { out.append(n, ' '); };
  if (v.is_object()) {
    const auto& o = v.get_object();
    if (o.empty()) {
      out.append("{}");
      return;
    }
    out.append("{\n");
    std::size_t i = 0;
    for (const auto& member : o) {
      pad(indent + 2);
      out.append(json::serialize(json::string_view(member.key())));
      out.append(": ");
      pretty(member.value(), out, indent + 2);
      out.append(++i < o.size() ? ",\n" : "\n");
    }
    pad(indent);
    out.push_back('}');
  } else if (v.is_array()) {
    const auto& a = v.get_array();
    if (a.empty()) {
      out.append("[]");
      return;
    }
    const bool inline_array = std::all_of(a.begin(), a.end(), is_scalar);
    out.append(inline_array ? "[" : "[\n");
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!inline_array) pad(indent + 2);
      pretty(a[i], out, indent + 2);
      if (i + 1 < a.size()) out.append(inline_array ? ", " : ",\n");
    }
    if (!inline_array) {
      out.push_back('\n');
      pad(indent);
    }
    out.push_back(']');
  } else {
    out.append(json::serialize(v));
  }
}

}  // namespace

std::string pretty(const json::value& v) {
  std::string out;
  pretty(v, out, 0);
  out.push_back('\n');
  return out;
}

json::array strings_to_json(const std::vector<std::string>& v) {
  json::array a;
  a.reserve(v.size());
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

}  // namespace kage::storage
