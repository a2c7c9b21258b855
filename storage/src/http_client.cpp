#include "http_client.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <optional>
#include <vector>

namespace kage::storage {

namespace beast = boost::beast;
namespace ssl = asio::ssl;
using boost::system::error_code;

namespace {

struct connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<ssl::stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  beast::tcp_stream& tcp() { return plain ? *plain : secure->next_layer(); }
};

}  // namespace

struct http_client::impl {
  asio::any_io_executor executor;
  http_endpoint endpoint;
  std::shared_ptr<ssl::context> tls;
  std::chrono::milliseconds timeout;
  std::size_t body_limit;
  std::vector<std::unique_ptr<connection>> idle;

  asio::awaitable<std::pair<error_code, std::unique_ptr<connection>>> open() {
    auto c = std::make_unique<connection>();
    asio::ip::tcp::resolver resolver(executor);
    auto [rec, results] = co_await resolver.async_resolve(endpoint.host, endpoint.port,
                                                          asio::as_tuple(asio::deferred));
    if (rec) co_return std::make_pair(rec, nullptr);
    if (endpoint.tls) {
      c->secure.emplace(executor, *tls);
    } else {
      c->plain.emplace(executor);
    }
    error_code cec = asio::error::host_not_found;
    for (const auto& entry : results) {
      c->tcp().expires_after(timeout);
      std::tie(cec) = co_await c->tcp().async_connect(entry.endpoint(), asio::as_tuple(asio::deferred));
      if (!cec) break;
      c->tcp().close();
    }
    if (cec) co_return std::make_pair(cec, nullptr);
    if (endpoint.tls) {
      error_code addr_ec;
      asio::ip::make_address(endpoint.host, addr_ec);
      if (addr_ec) SSL_set_tlsext_host_name(c->secure->native_handle(), endpoint.host.c_str());
      c->secure->set_verify_callback(ssl::host_name_verification(endpoint.host));
      c->tcp().expires_after(timeout);
      auto [hec] = co_await c->secure->async_handshake(ssl::stream_base::client,
                                                       asio::as_tuple(asio::deferred));
      if (hec) co_return std::make_pair(hec, nullptr);
    }
    co_return std::make_pair(error_code{}, std::move(c));
  }

  asio::awaitable<http_outcome> exchange(connection& c,
                                         const http::request<http::string_body>& request) {
    http_outcome out;
    // The deadline grows with the body (1 MiB/s at worst) so large parts are not cut off.
    c.tcp().expires_after(timeout + std::chrono::seconds(request.body().size() >> 20));
    error_code ec;
    if (c.plain) {
      std::tie(ec, std::ignore) =
          co_await http::async_write(*c.plain, request, asio::as_tuple(asio::deferred));
    } else {
      std::tie(ec, std::ignore) =
          co_await http::async_write(*c.secure, request, asio::as_tuple(asio::deferred));
    }
    if (ec) {
      out.ec = ec;
      co_return out;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(body_limit);
    if (request.method() == http::verb::head) parser.skip(true);
    c.tcp().expires_after(timeout);
    if (c.plain) {
      std::tie(ec, std::ignore) =
          co_await http::async_read(*c.plain, c.buffer, parser, asio::as_tuple(asio::deferred));
    } else {
      std::tie(ec, std::ignore) =
          co_await http::async_read(*c.secure, c.buffer, parser, asio::as_tuple(asio::deferred));
    }
    out.ec = ec;
    if (!ec) out.response = parser.release();
    co_return out;
  }
};

http_client::http_client(asio::any_io_executor ex, http_endpoint endpoint,
                         std::shared_ptr<ssl::context> tls, std::chrono::milliseconds timeout,
                         std::size_t body_limit)
    : impl_(std::make_shared<impl>()) {
  impl_->executor = ex;
  impl_->endpoint = std::move(endpoint);
  impl_->tls = std::move(tls);
  impl_->timeout = timeout;
  impl_->body_limit = body_limit;
}

http_client::~http_client() = default;

const http_endpoint& http_client::endpoint() const noexcept { return impl_->endpoint; }

asio::awaitable<http_outcome> http_client::async_send(
    const http::request<http::string_body>& request) {
  auto self = impl_;
  // A kept-alive connection may have been closed by the server meanwhile: one fresh retry.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<connection> c;
    const bool reused = !self->idle.empty();
    if (reused) {
      c = std::move(self->idle.back());
      self->idle.pop_back();
    } else {
      auto [ec, fresh] = co_await self->open();
      if (ec) {
        http_outcome out;
        out.ec = ec;
        co_return out;
      }
      c = std::move(fresh);
    }
    auto out = co_await self->exchange(*c, request);
    if (out.ec && reused) continue;
    if (!out.ec && out.response.keep_alive() && self->idle.size() < 16) {
      self->idle.push_back(std::move(c));
    }
    co_return out;
  }
  http_outcome out;
  out.ec = asio::error::connection_reset;
  co_return out;
}

}  // namespace kage::storage
