#include "archive_stream.hpp"

#include <boost/asio.hpp>

namespace kage::engine {

archive_stream::archive_stream(storage::object_reader& reader, std::uint64_t& progress_bytes)
    : reader_(reader), progress_bytes_(progress_bytes), buf_(256 * 1024) {}

std::size_t archive_stream::read_into_buffer(std::size_t n) {
  sha_.update(std::string_view(buf_.data(), n));
  bytes_ += n;
  progress_bytes_ += n;
  return n;
}

asio::awaitable<boost::system::result<std::optional<storage::archive_record>>>
archive_stream::async_next() {
  for (;;) {
    auto rec = archive_.next();
    if (rec || rec.error() != storage::archive_errc::needs_more) co_return rec;
    if (input_done_) co_return make_error_code(storage::archive_errc::missing_trailer);
    const std::size_t n = read_into_buffer(co_await reader_.async_read(buf_));
    if (n == 0) {
      archive_.end_of_input();
      input_done_ = true;
      continue;
    }
    archive_.feed(std::string_view(buf_.data(), n));
  }
}

asio::awaitable<std::uint64_t> archive_stream::async_read_rest() {
  std::uint64_t rest = 0;
  for (;;) {
    const std::size_t n = read_into_buffer(co_await reader_.async_read(buf_));
    if (n == 0) break;
    rest += n;
  }
  co_return rest;
}

}  // namespace kage::engine
