#include <kage/base/backoff.hpp>

#include <algorithm>

namespace kage {

std::chrono::milliseconds backoff::ceiling(const backoff_policy& policy, int attempt) noexcept {
  const long long cap = std::max<long long>(0, policy.cap.count());
  const long long base = std::max<long long>(0, policy.base.count());
  const int shift = std::clamp(attempt, 0, 20);
  // base * 2^shift, without overflowing when base is large
  if (base > (cap >> shift)) return std::chrono::milliseconds(cap);
  return std::chrono::milliseconds(base << shift);
}

std::chrono::milliseconds backoff::delay(int attempt) {
  const auto most = ceiling(policy_, attempt).count();
  return std::chrono::milliseconds(std::uniform_int_distribution<long long>(0, most)(rng_));
}

}  // namespace kage
