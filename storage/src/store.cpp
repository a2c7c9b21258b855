#include <kage/storage/store.hpp>

#include <kage/base/error.hpp>

#include "local_store.hpp"

#include <kage/storage/s3.hpp>

namespace kage::storage {

namespace {

// "<scheme>://" with an RFC 3986 scheme: a URL we do not know, not a directory name.
bool looks_like_url(std::string_view location) noexcept {
  const auto sep = location.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(location[0])) return false;
  for (char c : location.substr(0, sep))
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') return false;
  return true;
}

struct store_error_category final : boost::system::error_category {
  const char* name() const noexcept override { return "kage.store"; }
  std::string message(int ev) const override {
    switch (static_cast<store_errc>(ev)) {
      case store_errc::not_found:
        return "The backup object does not exist.";
    }
    return "Unknown store error.";
  }
};

}  // namespace

const boost::system::error_category& store_category() noexcept {
  static const store_error_category instance;
  return instance;
}

boost::system::error_code make_error_code(store_errc e) noexcept {
  return {static_cast<int>(e), store_category()};
}

std::unique_ptr<store> make_s3_store(std::string_view location, const store_options& options,
                                     asio::any_io_executor ex);

std::unique_ptr<store> open_store(std::string_view location, const store_options& options) {
  if (location.starts_with("s3://") || (location.empty() && !options.s3.bucket.empty())) {
    return make_s3_store(location, options, options.executor);
  }
  return open_store(location);
}

std::unique_ptr<store> open_store(std::string_view location) {
  if (location.empty())
    throw failure(exit_code::usage, "no backup location: pass --to/--from or set BACKUP_DIR");
  if (location.starts_with("s3://"))
    throw failure(exit_code::usage, "S3 location " + std::string(location) +
                                        " needs S3 settings (endpoint, credentials)");
  if (location.starts_with("file://")) {
    const std::string_view path = location.substr(7);
    if (!path.starts_with('/'))
      throw failure(exit_code::usage, "backup location " + std::string(location) +
                                          " is not a local file URL; write file:///absolute/path");
    return make_local_store(std::string(path));
  }
  if (looks_like_url(location))
    throw failure(exit_code::usage, "backup location " + std::string(location) +
                                        " has an unknown scheme; use a directory path, "
                                        "file:///path or s3://bucket/prefix");
  return make_local_store(std::string(location));
}

asio::awaitable<std::string> async_read_all(store& s, std::string key, std::size_t max_bytes) {
  auto reader = co_await s.async_open(key);
  if (reader->size() > max_bytes)
    throw failure(exit_code::integrity, "backup object " + key + " in " + s.location() + " is " +
                                            std::to_string(reader->size()) +
                                            " bytes, more than the " + std::to_string(max_bytes) +
                                            " expected of it; it is not what kage wrote");
  std::string out;
  out.resize(static_cast<std::size_t>(reader->size()));
  std::size_t filled = 0;
  for (;;) {
    // One spare byte so a growing object is noticed instead of silently cut.
    if (filled == out.size()) {
      if (out.size() > max_bytes)
        throw failure(exit_code::integrity, "backup object " + key + " in " + s.location() +
                                                " grew past " + std::to_string(max_bytes) +
                                                " bytes while it was read");
      out.resize(out.size() + std::min<std::size_t>(out.size() + 1, max_bytes + 1 - out.size()));
    }
    const std::size_t n = co_await reader->async_read({out.data() + filled, out.size() - filled});
    if (n == 0) break;
    filled += n;
  }
  out.resize(filled);
  co_return out;
}

}  // namespace kage::storage
