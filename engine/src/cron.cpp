#include <kage/engine/cron.hpp>

#include <charconv>
#include <chrono>
#include <vector>

namespace kage::engine {
namespace {

bool number(std::string_view s, int& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc{} && p == s.data() + s.size() && !s.empty();
}

// Sets bits [lo, hi] of one field from its text; false on a syntax or range error.
template <std::size_t N>
bool parse_field(std::string_view text, int lo, int hi, std::bitset<N>& bits) {
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    std::string_view item =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    int step = 1;
    if (const auto slash = item.find('/'); slash != std::string_view::npos) {
      if (!number(item.substr(slash + 1), step) || step <= 0) return false;
      item = item.substr(0, slash);
    }
    int a = lo, b = hi;
    if (item != "*") {
      const auto dash = item.find('-');
      if (dash == std::string_view::npos) {
        if (!number(item, a)) return false;
        b = step > 1 ? hi : a;  // "5/10" means 5, 15, 25...
      } else if (!number(item.substr(0, dash), a) || !number(item.substr(dash + 1), b)) {
        return false;
      }
    }
    if (a < lo || b > hi || a > b) return false;
    // Stop before v + step could overflow ("5/2147483647").
    for (int v = a;; v += step) {
      bits.set(static_cast<std::size_t>(v));
      if (b - v < step) break;
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return true;
}

}  // namespace

std::optional<cron_schedule> cron_schedule::parse(std::string_view text, std::string* error) {
  std::vector<std::string_view> f;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    const auto start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) f.push_back(text.substr(start, i - start));
  }
  auto bad = [&](const std::string& why) {
    if (error) *error = why;
    return std::nullopt;
  };
  if (f.size() != 5) {
    return bad("a cron schedule has 5 fields (minute hour day-of-month month day-of-week), got " +
               std::to_string(f.size()) + " in '" + std::string(text) + "'");
  }
  cron_schedule c;
  std::bitset<8> weekdays;
  if (!parse_field(f[0], 0, 59, c.minutes_))
    return bad("bad minute field '" + std::string(f[0]) + "' (0-59)");
  if (!parse_field(f[1], 0, 23, c.hours_))
    return bad("bad hour field '" + std::string(f[1]) + "' (0-23)");
  if (!parse_field(f[2], 1, 31, c.days_))
    return bad("bad day-of-month field '" + std::string(f[2]) + "' (1-31)");
  if (!parse_field(f[3], 1, 12, c.months_))
    return bad("bad month field '" + std::string(f[3]) + "' (1-12)");
  if (!parse_field(f[4], 0, 7, weekdays))
    return bad("bad day-of-week field '" + std::string(f[4]) + "' (0-7)");
  for (int d = 0; d < 7; ++d)
    c.weekdays_[static_cast<std::size_t>(d)] = weekdays[static_cast<std::size_t>(d)];
  if (weekdays[7]) c.weekdays_.set(0);
  c.any_day_ = f[2] == "*";
  c.any_weekday_ = f[4] == "*";
  return c;
}

std::int64_t cron_schedule::next_after(std::int64_t unix_seconds) const {
  using namespace std::chrono;
  std::int64_t t = (unix_seconds / 60 + 1) * 60;
  // At most a few years of minutes; every valid expression matches within 4 years (Feb 29).
  for (int guard = 0; guard < 4 * 366 * 24 * 60; ++guard, t += 60) {
    const sys_seconds tp{seconds{t}};
    const auto day = floor<days>(tp);
    const year_month_day ymd{day};
    if (!months_[static_cast<unsigned>(ymd.month())]) {
      // Skip to the first minute of the next month.
      const auto next = year_month_day{ymd.year() / ymd.month() / 1} + months{1};
      t = duration_cast<seconds>(sys_days{next}.time_since_epoch()).count() - 60;
      continue;
    }
    const bool dom = days_[static_cast<unsigned>(ymd.day())];
    const bool dow = weekdays_[weekday{day}.c_encoding()];
    const bool day_ok = any_day_ && any_weekday_ ? true
                        : any_day_               ? dow
                        : any_weekday_           ? dom
                                                 : (dom || dow);
    if (!day_ok) {
      t = duration_cast<seconds>((day + days{1}).time_since_epoch()).count() - 60;
      continue;
    }
    const hh_mm_ss hms{tp - day};
    if (!hours_[static_cast<std::size_t>(hms.hours().count())]) {
      t = t - hms.minutes().count() * 60 + 3600 - 60;
      continue;
    }
    if (minutes_[static_cast<std::size_t>(hms.minutes().count())]) return t;
  }
  return -1;  // unreachable for expressions parse() accepts (e.g. "0 0 31 2 *" never matches)
}

}  // namespace kage::engine
