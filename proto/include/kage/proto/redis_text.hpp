#pragma once
// Small pieces of Redis semantics kage needs on the client side.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kage::proto {

// Glob matching exactly as SCAN MATCH selects keys: a lone "*" matches every key; otherwise
// Redis' stringmatchlen ('*', '?', '[abc]', '[^a-z]', '\\' escapes; ranges compare signed chars
// as x86 Redis does; an empty key matches only an empty pattern). Binary safe.
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

// CRC-64/Jones as Redis computes it for DUMP payloads and RDB files.
std::uint64_t crc64(std::uint64_t crc, std::string_view bytes) noexcept;

// A DUMP payload ends with a 2-byte little-endian RDB version and a CRC64 of everything before
// the CRC. read_dump_footer reads that footer (cheap: no checksum computed, checksum_ok
// false); inspect_dump_payload also checks the CRC64. nullopt when the payload is too short to
// hold a footer.
struct dump_footer {
  int rdb_version = 0;
  std::uint64_t checksum = 0;  // as stored in the payload
  bool checksum_ok = false;
};
std::optional<dump_footer> read_dump_footer(std::string_view payload) noexcept;
std::optional<dump_footer> inspect_dump_payload(std::string_view payload) noexcept;

// The one check of a DUMP payload (backup as it reads, verify as it reads back): "" when it is
// whole, else why not ("fails its own CRC64 check", ...), to follow "the payload of key 'k' ".
// With max_rdb_version > 0 an RDB version above it (or 0) is refused too.
std::string dump_payload_problem(std::string_view payload, int max_rdb_version = 0);

// Keys are binary: quote them for messages ("user:\x00\xff").
std::string printable(std::string_view bytes, std::size_t max = 200);

}  // namespace kage::proto
