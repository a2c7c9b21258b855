#pragma once
// Archive format v1 data objects (storage/FORMAT.md). Sans-IO: bytes in, bytes or records out.
//
// A data object is a zstd stream whose decompressed content is a sequence of RESP arrays that a
// Redis server accepts as commands, so `zstd -dc shard-00.resp.zst | redis-cli --pipe` restores
// a shard with standard tools alone:
//   ECHO "kage-archive 1 <header-json>"           header, always first
//   FUNCTION RESTORE <payload>                     optional, Redis Functions of that master
//   RESTORE <key> <expire-at-unix-ms|0> <payload> ABSTTL     one per key
//   ECHO "kage-archive-end <records>"              trailer, always last; absent = truncated
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kage::storage {

enum class archive_errc {
  needs_more = 1,       // not an error: feed more bytes
  bad_compression,      // zstd reported corrupt input
  bad_framing,          // decompressed bytes are not the RESP commands FORMAT.md describes
  bad_header,           // first command is not a kage-archive v1 header
  unsupported_version,  // header names a format version this kage does not read
  record_too_large,     // a record exceeds the configured cap
  missing_trailer,      // input ended before the trailer: the object is truncated
  trailer_mismatch,     // trailer's record count differs from the records read
  data_after_trailer,   // bytes after the trailer
};
const boost::system::error_category& archive_category() noexcept;
boost::system::error_code make_error_code(archive_errc e) noexcept;

struct archive_record {
  enum class kind { key, functions };
  kind type = kind::key;
  std::string_view key;           // empty for functions
  std::int64_t expire_at_ms = 0;  // absolute unix ms; 0 = no expiry
  std::string_view payload;       // DUMP / FUNCTION DUMP payload
};

class archive_writer {
 public:
  // header_json: small JSON object stored in the header (shard index, source node...).
  archive_writer(int zstd_level, std::string_view header_json);
  ~archive_writer();
  archive_writer(archive_writer&&) noexcept;
  archive_writer& operator=(archive_writer&&) noexcept;

  // Each call appends compressed bytes (possibly none) to out. Caller drains out to a store.
  void add_functions(std::string_view payload, std::string& out);
  void add_key(std::string_view key, std::int64_t expire_at_ms, std::string_view payload,
               std::string& out);
  void finish(std::string& out);  // trailer + end of zstd frame; no add_* after this

  std::uint64_t records() const noexcept;  // keys + functions records
  std::uint64_t uncompressed_bytes() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

class archive_reader {
 public:
  // max_record_bytes caps one record's encoded size (the whole RESP command); a larger one is
  // record_too_large, detected from its declared lengths before it is buffered.
  explicit archive_reader(std::size_t max_record_bytes = std::size_t{1} << 30);
  ~archive_reader();
  archive_reader(archive_reader&&) noexcept;
  archive_reader& operator=(archive_reader&&) noexcept;

  // Hands compressed bytes to the reader (copied into a bounded internal buffer: call next()
  // until needs_more before feeding again).
  void feed(std::string_view compressed);
  // Call once the object's bytes are exhausted; next() then reports missing_trailer instead of
  // needs_more if the trailer was not seen.
  void end_of_input();

  // Next record, or nullopt once the trailer has been read and validated. The views stay valid
  // until the next call to next() or feed(). Errors: archive_errc (needs_more = feed more).
  boost::system::result<std::optional<archive_record>> next();

  std::string_view header_json() const noexcept;  // valid once the first record was returned
  std::uint64_t records() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kage::storage

template <>
struct boost::system::is_error_code_enum<kage::storage::archive_errc> : std::true_type {};
