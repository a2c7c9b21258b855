#include <kage/base/slot_range.hpp>

namespace kage {

std::string describe_slots(const std::vector<slot_range>& slots) {
  std::string s;
  for (const auto& r : slots) {
    if (!s.empty()) s += ",";
    s += std::to_string(r.first) + "-" + std::to_string(r.last);
  }
  return s;
}

}  // namespace kage
