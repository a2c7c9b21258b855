#pragma once
// Exponential backoff with full jitter: retry n waits a uniform time in [0, min(cap, base*2^n)],
// so clients that failed together do not retry together. Sans-IO: the caller waits.
#include <chrono>
#include <cstdint>
#include <random>

namespace kage {

struct backoff_policy {
  std::chrono::milliseconds base{100};
  std::chrono::milliseconds cap{20000};
};

class backoff {
 public:
  explicit backoff(backoff_policy policy, std::uint64_t seed = std::random_device{}())
      : policy_(policy), rng_(seed) {}

  // The longest wait before retry number `attempt` (1 after the first failure).
  static std::chrono::milliseconds ceiling(const backoff_policy& policy, int attempt) noexcept;
  // A wait drawn uniformly from [0, ceiling(attempt)].
  std::chrono::milliseconds delay(int attempt);

  const backoff_policy& policy() const noexcept { return policy_; }

 private:
  backoff_policy policy_;
  std::mt19937_64 rng_;
};

}  // namespace kage
