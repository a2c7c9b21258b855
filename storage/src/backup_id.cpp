#include <kage/storage/backup_id.hpp>

#include <chrono>
#include <cstdio>
#include <string>

namespace kage::storage {

namespace {

bool digits(std::string_view s, std::size_t at, std::size_t n) noexcept {
  for (std::size_t i = at; i < at + n; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

int number(std::string_view s, std::size_t at, std::size_t n) noexcept {
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

struct civil_time {
  int year;
  unsigned month, day;
  long hours, minutes, seconds, millis;
};

civil_time to_civil(std::int64_t unix_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{unix_ms}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> t{tp - day};
  return {int(ymd.year()),     unsigned(ymd.month()), unsigned(ymd.day()),   t.hours().count(),
          t.minutes().count(), t.seconds().count(),   t.subseconds().count()};
}

}  // namespace

std::string make_backup_id(std::int64_t unix_ms) {
  std::string id = rfc3339_ms(unix_ms);  // the same time without its separators
  std::erase_if(id, [](char c) { return c == '-' || c == ':'; });
  return id;
}

std::string rfc3339_ms(std::int64_t unix_ms) {
  const civil_time t = to_civil(unix_ms);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ", t.year, t.month, t.day,
                t.hours, t.minutes, t.seconds, t.millis);
  return buf;
}

// "20261122T021155.123Z" exactly: only digits where digits go, so an id is always a safe single
// path component (no '/', no "..", no hidden names).
bool valid_backup_id(std::string_view id) noexcept {
  if (id.size() != 20 || id[8] != 'T' || id[15] != '.' || id[19] != 'Z') return false;
  if (!digits(id, 0, 8) || !digits(id, 9, 6) || !digits(id, 16, 3)) return false;
  const int month = number(id, 4, 2), day = number(id, 6, 2);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && number(id, 9, 2) <= 23 &&
         number(id, 11, 2) <= 59 && number(id, 13, 2) <= 59;
}

std::optional<std::int64_t> backup_id_time(std::string_view id) noexcept {
  if (!valid_backup_id(id)) return std::nullopt;
  // "YYYYMMDDTHHMMSS.mmmZ"
  using namespace std::chrono;
  const year_month_day ymd{year{number(id, 0, 4)}, month{static_cast<unsigned>(number(id, 4, 2))},
                           day{static_cast<unsigned>(number(id, 6, 2))}};
  if (!ymd.ok()) return std::nullopt;
  const auto t = sys_days{ymd} + hours{number(id, 9, 2)} + minutes{number(id, 11, 2)} +
                 seconds{number(id, 13, 2)} + milliseconds{number(id, 16, 3)};
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

// "2026-11-22T02:11:55.123Z"
bool valid_rfc3339_ms(std::string_view s) noexcept {
  if (s.size() != 24) return false;
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' ||
      s[23] != 'Z')
    return false;
  if (!digits(s, 0, 4) || !digits(s, 5, 2) || !digits(s, 8, 2) || !digits(s, 11, 2) ||
      !digits(s, 14, 2) || !digits(s, 17, 2) || !digits(s, 20, 3))
    return false;
  const int month = number(s, 5, 2), day = number(s, 8, 2);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && number(s, 11, 2) <= 23 &&
         number(s, 14, 2) <= 59 && number(s, 17, 2) <= 59;
}

std::optional<std::int64_t> rfc3339_ms_time(std::string_view s) {
  if (!valid_rfc3339_ms(s)) return std::nullopt;
  std::string id(s);  // the id form is the same time without its separators
  std::erase_if(id, [](char c) { return c == '-' || c == ':'; });
  return backup_id_time(id);
}

}  // namespace kage::storage
