#pragma once
// Five-field cron expressions ("minute hour day-of-month month day-of-week", UTC), sans-IO:
// *, lists (1,5), ranges (1-5), steps (*/15, 0-30/10); day-of-week 0-7 (0 and 7 are Sunday).
// As in cron, when both day fields are restricted a day matches if either does.
#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kage::engine {

class cron_schedule {
 public:
  // nullopt with *error set to a sentence naming the bad field.
  static std::optional<cron_schedule> parse(std::string_view text, std::string* error);
  // The first matching minute strictly after unix_seconds (UTC), in unix seconds.
  std::int64_t next_after(std::int64_t unix_seconds) const;

 private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1-31
  std::bitset<13> months_;   // 1-12
  std::bitset<7> weekdays_;  // 0-6, Sunday = 0
  bool any_day_ = true;
  bool any_weekday_ = true;
};

}  // namespace kage::engine
