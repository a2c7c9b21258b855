#pragma once
// A place backups live: a local directory today, S3 next. Objects are named by keys with '/'
// separators ("<backup-id>/shard-00.resp.zst"). Every operation either succeeds or throws
// kage::failure(exit_code::store, message naming the object and what to check).
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kage::storage {

namespace asio = boost::asio;

// What a store failure carries (kage::failure::error()) when callers decide by it.
enum class store_errc {
  not_found = 1,  // async_open of a key that does not exist
};
const boost::system::error_category& store_category() noexcept;
boost::system::error_code make_error_code(store_errc e) noexcept;

// Written through a temporary name; only async_commit makes it visible under its key.
// Destroying a writer that was not committed removes what it wrote (best effort).
class object_writer {
 public:
  virtual ~object_writer() = default;
  virtual asio::awaitable<void> async_write(std::string_view bytes) = 0;
  virtual asio::awaitable<void> async_commit() = 0;
  virtual asio::awaitable<void> async_abort() = 0;
  virtual std::uint64_t bytes_written() const noexcept = 0;
};

class object_reader {
 public:
  virtual ~object_reader() = default;
  // Reads up to buf.size() bytes; returns 0 at the end of the object.
  virtual asio::awaitable<std::size_t> async_read(std::span<char> buf) = 0;
  virtual std::uint64_t size() const noexcept = 0;
};

struct object_info {
  std::string key;
  std::uint64_t size = 0;
};

// What a writer that died left behind, invisible to async_list: a temporary file (local) or a
// multipart upload never completed nor aborted (S3).
struct leftover {
  std::string key;              // the temporary file under the root, or the upload's object key
  std::string upload_id;        // S3 only
  std::uint64_t size = 0;       // bytes (local; 0 when the store does not say)
  std::int64_t started_ms = 0;  // unix ms: last modified (local) or initiated (S3)
};

class store {
 public:
  virtual ~store() = default;
  // Human-readable location, e.g. "/var/backups/redis" or "s3://bucket/prefix".
  virtual std::string location() const = 0;
  virtual asio::awaitable<std::unique_ptr<object_writer>> async_create(std::string key) = 0;
  // Stores a small object only when no object has that key yet: true when this call created it,
  // false when one was there. Of concurrent callers exactly one gets true (the local store links
  // the file into place, S3 is sent If-None-Match: *).
  virtual asio::awaitable<bool> async_create_new(std::string key, std::string bytes) = 0;
  // Throws failure(store, store_errc::not_found) naming the key when it does not exist.
  virtual asio::awaitable<std::unique_ptr<object_reader>> async_open(std::string key) = 0;
  // Every object whose key starts with prefix, sorted by key. Temporary files are not listed.
  virtual asio::awaitable<std::vector<object_info>> async_list(std::string prefix) = 0;
  virtual asio::awaitable<void> async_remove(std::vector<std::string> keys) = 0;
  // Every leftover of an interrupted writer under the store's root, and their removal (an
  // upload is aborted). Removing one that is already gone is not an error.
  virtual asio::awaitable<std::vector<leftover>> async_list_leftovers() = 0;
  virtual asio::awaitable<void> async_remove_leftovers(std::vector<leftover> items) = 0;
};

// "/path", "file:///path" -> local store (directory created on first write).
// Anything else (s3://...) -> failure(usage) until the S3 store exists.
std::unique_ptr<store> open_store(std::string_view location);

// Reads a whole (small) object, e.g. a manifest; refuses objects over max_bytes.
asio::awaitable<std::string> async_read_all(store& s, std::string key,
                                            std::size_t max_bytes = 64u << 20);

}  // namespace kage::storage

template <>
struct boost::system::is_error_code_enum<kage::storage::store_errc> : std::true_type {};
