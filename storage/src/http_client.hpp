#pragma once
// HTTP/1.1 over TCP or TLS (Beast), with a small pool of kept-alive connections to one endpoint.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace kage::storage {

namespace asio = boost::asio;
namespace http = boost::beast::http;

struct http_endpoint {
  bool tls = false;
  std::string host;
  std::string port;
};

struct http_outcome {
  boost::system::error_code ec;  // transport failure (then response is empty)
  http::response<http::string_body> response;
};

class http_client {
 public:
  http_client(asio::any_io_executor ex, http_endpoint endpoint,
              std::shared_ptr<asio::ssl::context> tls, std::chrono::milliseconds timeout,
              std::size_t body_limit);
  ~http_client();
  // Sends one request on a pooled connection and reads the whole response.
  asio::awaitable<http_outcome> async_send(const http::request<http::string_body>& request);
  const http_endpoint& endpoint() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace kage::storage
