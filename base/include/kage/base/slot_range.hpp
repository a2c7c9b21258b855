#pragma once
// Redis Cluster hash slots: proto's topology and storage's manifests share this one type.
#include <string>
#include <vector>

namespace kage {

inline constexpr int max_slot = 16383;

struct slot_range {
  int first = 0;
  int last = 0;  // inclusive
  bool operator==(const slot_range&) const = default;
};

// "0-5460,10923-12000"
std::string describe_slots(const std::vector<slot_range>& slots);

}  // namespace kage
