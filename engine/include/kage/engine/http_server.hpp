#pragma once
// A small HTTP/1.1 server for kage run's /metrics, /healthz and /readyz. Each connection gets
// one answer and is closed; the handler runs on the io thread and must not block.
#include <kage/base/log.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <string>

namespace kage::engine {

struct http_reply {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// target: the request target ("/metrics?x=1" arrives as is).
using http_handler = std::function<http_reply(std::string_view target)>;

// Binds HOST:PORT (an address or a name; IPv6 as [::1]:9121). Throws failure(usage) naming
// the address when it cannot bind.
boost::asio::ip::tcp::acceptor bind_http(boost::asio::any_io_executor ex,
                                         const std::string& host_port);

// Accepts until cancelled (terminal cancellation) or the acceptor is closed.
boost::asio::awaitable<void> async_serve_http(std::shared_ptr<boost::asio::ip::tcp::acceptor> a,
                                              http_handler handler, logger log);

}  // namespace kage::engine
