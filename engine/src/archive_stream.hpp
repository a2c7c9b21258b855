#pragma once
// Private: one logical backup object read as archive records, for the restore and verify
// alike. SHA-256 and the byte count cover every byte read, including any after the trailer.
#include <kage/storage/archive.hpp>
#include <kage/storage/sha256.hpp>
#include <kage/storage/store.hpp>

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace kage::engine {

namespace asio = boost::asio;

class archive_stream {
 public:
  // progress_bytes grows by every byte read (a job's progress counter).
  archive_stream(storage::object_reader& reader, std::uint64_t& progress_bytes);

  // The next record, valid until the next call; nullopt once the trailer has been read and
  // checked. Errors are archive_errc (missing_trailer when the object ends early).
  asio::awaitable<boost::system::result<std::optional<storage::archive_record>>> async_next();
  // Reads what is left of the object, so the checksum covers every byte; returns how many
  // bytes that was (after the trailer, any is damage).
  asio::awaitable<std::uint64_t> async_read_rest();

  std::uint64_t bytes() const noexcept { return bytes_; }
  std::string hex_digest() { return sha_.hex_digest(); }

 private:
  std::size_t read_into_buffer(std::size_t n);

  storage::object_reader& reader_;
  std::uint64_t& progress_bytes_;
  storage::archive_reader archive_;
  storage::sha256 sha_;
  std::vector<char> buf_;
  std::uint64_t bytes_ = 0;
  bool input_done_ = false;
};

}  // namespace kage::engine
