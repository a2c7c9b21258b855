#include <kage/proto/redis_text.hpp>

#include <array>

namespace kage::proto {

bool glob_match(std::string_view p, std::string_view s) noexcept {
  // SCAN/KEYS treat a lone "*" as "every key" (even ""); stringmatchlen itself never matches
  // an empty key against a non-empty pattern.
  if (p == "*") return true;
  if (s.empty()) return p.empty();
  std::size_t pi = 0, si = 0;
  // Backtracking point for the last '*': classic linear-space glob.
  std::size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      const char c = p[pi];
      if (c == '*') {
        while (pi < p.size() && p[pi] == '*') ++pi;
        if (pi == p.size()) return true;
        star_p = pi;
        star_s = si;
        continue;
      }
      if (c == '?') {
        ++pi;
        ++si;
        continue;
      }
      if (c == '[') {
        std::size_t q = pi + 1;
        bool negate = false;
        if (q < p.size() && p[q] == '^') {
          negate = true;
          ++q;
        }
        bool match = false;
        // Redis compares plain (signed on x86) chars in ranges; so do we.
        const signed char ch = static_cast<signed char>(s[si]);
        for (;;) {
          if (q >= p.size()) {  // unterminated class: Redis treats the end as closing it
            --q;
            break;
          }
          if (p[q] == '\\' && q + 2 < p.size() + 1 && q + 1 < p.size()) {
            ++q;
            if (static_cast<signed char>(p[q]) == ch) match = true;
          } else if (p[q] == ']') {
            break;
          } else if (q + 2 < p.size() && p[q + 1] == '-') {
            signed char lo = static_cast<signed char>(p[q]);
            signed char hi = static_cast<signed char>(p[q + 2]);
            if (lo > hi) std::swap(lo, hi);
            if (ch >= lo && ch <= hi) match = true;
            q += 2;
          } else if (static_cast<signed char>(p[q]) == ch) {
            match = true;
          }
          ++q;
        }
        if (negate) match = !match;
        if (match) {
          pi = q + 1;
          ++si;
          continue;
        }
      } else {
        char lit = c;
        std::size_t adv = 1;
        if (c == '\\' && pi + 1 < p.size()) {
          lit = p[pi + 1];
          adv = 2;
        }
        if (lit == s[si]) {
          pi += adv;
          ++si;
          continue;
        }
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

namespace {

constexpr std::array<std::uint64_t, 256> make_crc64_table() {
  std::array<std::uint64_t, 256> t{};
  constexpr std::uint64_t poly = 0x95ac9329ac4bc9b5ULL;  // Jones polynomial, reflected
  for (int i = 0; i < 256; ++i) {
    std::uint64_t crc = static_cast<std::uint64_t>(i);
    for (int b = 0; b < 8; ++b) crc = (crc & 1) ? (crc >> 1) ^ poly : crc >> 1;
    t[i] = crc;
  }
  return t;
}
constexpr auto crc64_table = make_crc64_table();

}  // namespace

std::uint64_t crc64(std::uint64_t crc, std::string_view bytes) noexcept {
  for (unsigned char c : bytes) crc = crc64_table[(crc ^ c) & 0xff] ^ (crc >> 8);
  return crc;
}

std::optional<dump_footer> read_dump_footer(std::string_view payload) noexcept {
  if (payload.size() < 10) return std::nullopt;
  const auto* tail = reinterpret_cast<const unsigned char*>(payload.data() + payload.size() - 10);
  dump_footer f;
  f.rdb_version = tail[0] | (tail[1] << 8);
  for (int i = 7; i >= 0; --i) f.checksum = (f.checksum << 8) | tail[2 + i];
  return f;
}

std::optional<dump_footer> inspect_dump_payload(std::string_view payload) noexcept {
  auto f = read_dump_footer(payload);
  if (f) f->checksum_ok = crc64(0, payload.substr(0, payload.size() - 8)) == f->checksum;
  return f;
}

std::string dump_payload_problem(std::string_view payload, int max_rdb_version) {
  const auto footer = inspect_dump_payload(payload);
  if (!footer)
    return "is " + std::to_string(payload.size()) + " bytes, too short to be a DUMP payload";
  if (!footer->checksum_ok) return "fails its own CRC64 check";
  if (max_rdb_version > 0 && (footer->rdb_version < 1 || footer->rdb_version > max_rdb_version))
    return "names RDB version " + std::to_string(footer->rdb_version) + ", not 1 to " +
           std::to_string(max_rdb_version) + " as the server's Redis version writes";
  return "";
}

std::string printable(std::string_view bytes, std::size_t max) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

}  // namespace kage::proto
