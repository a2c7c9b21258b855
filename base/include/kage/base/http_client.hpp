#pragma once
// HTTP/1.1 client over TCP or TLS (Beast) for one origin (scheme, host, port), with a small pool
// of kept-alive connections. Every operation has a deadline (tcp_stream::expires_after).
// Shared by the S3 store and, later, the Kubernetes client (which adds streamed responses and
// a WebSocket upgrade on a connection taken from this pool).
#include <kage/base/endpoint.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

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

  const http_url& origin() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace kage
