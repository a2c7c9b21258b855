#include <kage/engine/http_server.hpp>

#include <kage/base/endpoint.hpp>
#include <kage/base/error.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kage::engine {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

tcp::acceptor bind_http(asio::any_io_executor ex, const std::string& host_port) {
  auto parsed = parse_endpoint(host_port);
  if (!parsed) {
    fail(
        exit_code::usage, parsed.error(),
        "--listen: expected HOST:PORT, got '" + host_port + "' (" + parsed.error().message() + ")");
  }
  boost::system::error_code ec;
  tcp::resolver resolver(ex);
  auto results =
      resolver.resolve(parsed->host, std::to_string(parsed->port), tcp::resolver::passive, ec);
  if (ec || results.empty())
    fail(exit_code::usage, "--listen " + host_port + ": cannot resolve: " + ec.message());
  tcp::endpoint ep = results.begin()->endpoint();
  tcp::acceptor a(ex);
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) return a;
  fail(exit_code::usage, "--listen " + host_port + ": cannot listen: " + ec.message());
}

namespace {

asio::awaitable<void> serve_one(tcp::socket socket, http_handler handler) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer(8192);
  http::request_parser<http::empty_body> parser;
  parser.header_limit(8192);
  stream.expires_after(std::chrono::seconds(10));
  auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::deferred));
  if (ec) co_return;
  const auto& req = parser.get();
  http::response<http::string_body> res;
  res.version(11);
  res.keep_alive(false);
  res.set(http::field::server, "kage");
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET, HEAD");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "only GET and HEAD\n";
  } else {
    http_reply r = handler(std::string_view(req.target().data(), req.target().size()));
    res.result(r.status);
    res.set(http::field::content_type, r.content_type);
    if (req.method() == http::verb::get) res.body() = std::move(r.body);
  }
  res.prepare_payload();
  stream.expires_after(std::chrono::seconds(10));
  co_await http::async_write(stream, res, asio::as_tuple(asio::deferred));
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

// Built outside the coroutine: GCC 12 mishandles lambdas created in coroutine bodies.
std::function<void(std::exception_ptr)> session_done(logger log) {
  return [log](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log.warn("http", std::string("request failed: ") + ex.what());
    }
  };
}

}  // namespace

asio::awaitable<void> async_serve_http(std::shared_ptr<tcp::acceptor> acceptor,
                                       http_handler handler, logger log) {
  const auto done = session_done(log);
  while (acceptor->is_open()) {
    auto [ec, socket] = co_await acceptor->async_accept(asio::as_tuple(asio::deferred));
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
    if (ec) {
      log.warn("http", "accept: " + ec.message());
      continue;
    }
    asio::co_spawn(acceptor->get_executor(), serve_one(std::move(socket), handler), done);
  }
}

}  // namespace kage::engine
