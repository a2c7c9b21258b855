#pragma once
// HTTP/1.1 client over TCP or TLS (Beast) for one origin (scheme, host, port), with a small pool
// of kept-alive connections. Every operation has a deadline (tcp_stream::expires_after).
// Shared by the S3 store and the Kubernetes client; async_open gives the latter a response read
// as it arrives (watch) or a connection upgraded to a WebSocket (exec), on a connection of its own.
#include <kage/base/endpoint.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace boost::asio::ssl {
class context;
}

namespace kage {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

struct http_outcome {
  boost::system::error_code ec;  // transport failure or timeout (then response is empty)
  http_response response;
};

using http_response_header = boost::beast::http::response_header<>;

// One response read as it arrives (a watch), or a connection upgraded by a 101 answer (a
// WebSocket). It owns its connection, which never goes back to the pool. Operations take their
// own deadline (tcp_stream::expires_after); a deadline that passes is asio::error::timed_out.
class http_stream {
 public:
  struct impl;
  explicit http_stream(std::unique_ptr<impl> i);
  ~http_stream();
  http_stream(const http_stream&) = delete;
  http_stream& operator=(const http_stream&) = delete;

  const http_response_header& header() const noexcept;
  int status() const noexcept;

  // The next piece of the body, valid until the next call: an empty view with no error at the
  // end of the body. A body cut short is an error (http::error::partial_message or the socket's).
  boost::asio::awaitable<std::pair<boost::system::error_code, std::string_view>> async_read_some(
      std::chrono::milliseconds timeout);
  // The rest of the body as one string, at most limit bytes (more: http::error::body_limit).
  boost::asio::awaitable<std::pair<boost::system::error_code, std::string>> async_read_body(
      std::size_t limit, std::chrono::milliseconds timeout);

  // After a 101 answer: the raw connection. Bytes the server sent right after its answer are
  // returned first.
  boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>> async_read_raw(
      boost::asio::mutable_buffer into, std::chrono::milliseconds timeout);
  boost::asio::awaitable<boost::system::error_code> async_write_raw(
      boost::asio::const_buffer data, std::chrono::milliseconds timeout);

  // Closes the socket at once (no TLS close_notify): wakes a pending read with an error.
  void close() noexcept;

 private:
  std::unique_ptr<impl> impl_;
};

struct http_client_options {
  // For https origins (make_tls_client_context); null: the system's trust store, verifying.
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::string server_name;                        // SNI and certificate name; empty: the host
  std::chrono::milliseconds timeout{30000};       // connect, handshake, and each write and read
  std::size_t body_limit = std::size_t{8} << 20;  // a larger response body is an error
  std::size_t max_idle = 16;                      // kept-alive connections kept for reuse
};

class http_client {
 public:
  http_client(boost::asio::any_io_executor ex, http_url origin, http_client_options options);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  // Sends one request on a pooled connection (or a new one) and reads the whole response. The
  // caller sets Host (origin().authority()) and keeps request alive until this completes. A
  // kept-alive connection the server closed meanwhile is retried once on a fresh one. A HEAD
  // response's body is not read.
  boost::asio::awaitable<http_outcome> async_send(const http_request& request);

  // Sends one request on a new connection and reads only the response's header; the body (or,
  // after a 101, the upgraded connection) is read through the stream. For a watch or an exec.
  boost::asio::awaitable<std::pair<boost::system::error_code, std::unique_ptr<http_stream>>>
  async_open(const http_request& request);

  const http_url& origin() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace kage
