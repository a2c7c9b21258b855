// A cron expression from KAGE_CRON, schedule.cron or --cron, and its next times. The first 8
// bytes pick the start time (within years 1970-2400, as a clock gives).
#include <kage/engine/cron.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint64_t seed = 0;
  const std::size_t n = std::min<std::size_t>(size, 8);
  std::memcpy(&seed, data, n);
  const std::string_view in(reinterpret_cast<const char*>(data) + n, size - n);
  std::string error;
  auto c = kage::engine::cron_schedule::parse(in, &error);
  if (!c) {
    if (error.empty()) __builtin_trap();
    return 0;
  }
  std::int64_t t = static_cast<std::int64_t>(seed % (std::uint64_t{430} * 366 * 86400));
  for (int i = 0; i < 3; ++i) {
    const std::int64_t next = c->next_after(t);
    if (next == -1) break;
    if (next <= t || next % 60 != 0) __builtin_trap();
    t = next;
  }
  return 0;
}
