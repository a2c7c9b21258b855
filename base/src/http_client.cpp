#include <kage/base/http_client.hpp>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <array>
#include <cstring>
#include <optional>
#include <vector>

namespace kage {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using boost::system::error_code;

namespace {

struct connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<ssl::stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  beast::tcp_stream& tcp() { return plain ? *plain : secure->next_layer(); }
};

using io_result = std::tuple<error_code, std::size_t>;

// Awaits op(stream) on whichever stream the connection has; op returns a deferred operation
// completing with (error_code, size_t).
template <class Op>
asio::awaitable<io_result> on_stream(connection& c, Op op) {
  if (c.plain) co_return co_await op(*c.plain);
  co_return co_await op(*c.secure);
}

}  // namespace

struct http_stream::impl {
  std::unique_ptr<connection> conn;
  http::response_parser<http::buffer_body> parser;
  std::array<char, 64 * 1024> chunk{};
};

http_stream::http_stream(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
http_stream::~http_stream() = default;

const http_response_header& http_stream::header() const noexcept {
  return impl_->parser.get().base();
}

int http_stream::status() const noexcept {
  return static_cast<int>(impl_->parser.get().result_int());
}

asio::awaitable<std::pair<error_code, std::string_view>> http_stream::async_read_some(
    std::chrono::milliseconds timeout) {
  impl& s = *impl_;
  while (!s.parser.is_done()) {
    s.parser.get().body().data = s.chunk.data();
    s.parser.get().body().size = s.chunk.size();
    s.parser.get().body().more = true;
    s.conn->tcp().expires_after(timeout);
    auto [ec, ignored] = co_await on_stream(*s.conn, [&](auto& stream) {
      return http::async_read_some(stream, s.conn->buffer, s.parser,
                                   asio::as_tuple(asio::deferred));
    });
    (void)ignored;
    if (ec == http::error::need_buffer) ec = {};
    const std::size_t n = s.chunk.size() - s.parser.get().body().size;
    if (ec) co_return std::make_pair(ec, std::string_view{});
    if (n > 0) co_return std::make_pair(error_code{}, std::string_view(s.chunk.data(), n));
  }
  co_return std::make_pair(error_code{}, std::string_view{});
}

asio::awaitable<std::pair<error_code, std::string>> http_stream::async_read_body(
    std::size_t limit, std::chrono::milliseconds timeout) {
  std::string body;
  for (;;) {
    auto [ec, piece] = co_await async_read_some(timeout);
    if (ec) co_return std::make_pair(ec, std::move(body));
    if (piece.empty()) break;
    if (body.size() + piece.size() > limit)
      co_return std::make_pair(error_code(http::error::body_limit), std::move(body));
    body.append(piece);
  }
  co_return std::make_pair(error_code{}, std::move(body));
}

asio::awaitable<std::pair<error_code, std::size_t>> http_stream::async_read_raw(
    asio::mutable_buffer into, std::chrono::milliseconds timeout) {
  connection& c = *impl_->conn;
  if (c.buffer.size() > 0) {
    const std::size_t n = asio::buffer_copy(into, c.buffer.data());
    c.buffer.consume(n);
    co_return std::make_pair(error_code{}, n);
  }
  c.tcp().expires_after(timeout);
  auto [ec, n] = co_await on_stream(c, [&](auto& stream) {
    return stream.async_read_some(into, asio::as_tuple(asio::deferred));
  });
  co_return std::make_pair(ec, n);
}

asio::awaitable<error_code> http_stream::async_write_raw(asio::const_buffer data,
                                                         std::chrono::milliseconds timeout) {
  connection& c = *impl_->conn;
  c.tcp().expires_after(timeout);
  auto [ec, n] = co_await on_stream(c, [&](auto& stream) {
    return asio::async_write(stream, data, asio::as_tuple(asio::deferred));
  });
  (void)n;
  co_return ec;
}

void http_stream::close() noexcept {
  error_code ignored;
  impl_->conn->tcp().socket().close(ignored);
}

struct http_client::impl {
  asio::any_io_executor executor;
  http_url origin;
  http_client_options options;
  std::vector<std::unique_ptr<connection>> idle;

  asio::awaitable<std::pair<error_code, std::unique_ptr<connection>>> open() {
    auto c = std::make_unique<connection>();
    asio::ip::tcp::resolver resolver(executor);
    auto [rec, results] = co_await resolver.async_resolve(
        origin.ep.host, std::to_string(origin.ep.port), asio::as_tuple(asio::deferred));
    if (rec) co_return std::make_pair(rec, nullptr);
    if (origin.tls) {
      c->secure.emplace(executor, *options.tls);
    } else {
      c->plain.emplace(executor);
    }
    error_code cec = asio::error::host_not_found;
    for (const auto& entry : results) {
      c->tcp().expires_after(options.timeout);
      std::tie(cec) =
          co_await c->tcp().async_connect(entry.endpoint(), asio::as_tuple(asio::deferred));
      if (!cec) break;
      c->tcp().close();
    }
    if (cec) co_return std::make_pair(cec, nullptr);
    if (origin.tls) {
      const std::string& name = options.server_name.empty() ? origin.ep.host : options.server_name;
      error_code addr_ec;
      asio::ip::make_address(name, addr_ec);
      if (addr_ec) SSL_set_tlsext_host_name(c->secure->native_handle(), name.c_str());
      c->secure->set_verify_callback(ssl::host_name_verification(name));
      c->tcp().expires_after(options.timeout);
      auto [hec] = co_await c->secure->async_handshake(ssl::stream_base::client,
                                                       asio::as_tuple(asio::deferred));
      if (hec) co_return std::make_pair(hec, nullptr);
    }
    co_return std::make_pair(error_code{}, std::move(c));
  }

  asio::awaitable<http_outcome> exchange(connection& c, const http_request& request) {
    http_outcome out;
    // The deadline grows with the body (1 MiB/s at worst) so large parts are not cut off.
    c.tcp().expires_after(options.timeout + std::chrono::seconds(request.body().size() >> 20));
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
    parser.body_limit(options.body_limit);
    if (request.method() == http::verb::head) parser.skip(true);
    c.tcp().expires_after(options.timeout);
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

http_client::http_client(asio::any_io_executor ex, http_url origin, http_client_options options)
    : impl_(std::make_shared<impl>()) {
  impl_->executor = ex;
  impl_->origin = std::move(origin);
  impl_->options = std::move(options);
  if (impl_->origin.tls && !impl_->options.tls) {
    impl_->options.tls = std::make_shared<ssl::context>(ssl::context::tls_client);
    error_code ignored;  // a missing trust store shows as a failed handshake, with its reason
    impl_->options.tls->set_default_verify_paths(ignored);
    impl_->options.tls->set_verify_mode(ssl::verify_peer);
  }
}

http_client::~http_client() = default;

asio::awaitable<std::pair<error_code, std::unique_ptr<http_stream>>> http_client::async_open(
    const http_request& request) {
  auto self = impl_;
  auto [oec, c] = co_await self->open();
  if (oec) co_return std::make_pair(oec, nullptr);
  c->tcp().expires_after(self->options.timeout);
  auto [wec, written] = co_await on_stream(*c, [&](auto& stream) {
    return http::async_write(stream, request, asio::as_tuple(asio::deferred));
  });
  (void)written;
  if (wec) co_return std::make_pair(wec, nullptr);
  auto s = std::make_unique<http_stream::impl>();
  s->conn = std::move(c);
  s->parser.body_limit(boost::none);  // the caller caps what it keeps
  s->conn->tcp().expires_after(self->options.timeout);
  auto [rec, read] = co_await on_stream(*s->conn, [&](auto& stream) {
    return http::async_read_header(stream, s->conn->buffer, s->parser,
                                   asio::as_tuple(asio::deferred));
  });
  (void)read;
  if (rec) co_return std::make_pair(rec, nullptr);
  co_return std::make_pair(error_code{}, std::make_unique<http_stream>(std::move(s)));
}

const http_url& http_client::origin() const noexcept {
  return impl_->origin;
}

asio::awaitable<http_outcome> http_client::async_send(const http_request& request) {
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
    if (!out.ec && out.response.keep_alive() && self->idle.size() < self->options.max_idle) {
      self->idle.push_back(std::move(c));
    }
    co_return out;
  }
  http_outcome out;
  out.ec = asio::error::connection_reset;
  co_return out;
}

}  // namespace kage
