#include <kage/base/error.hpp>
#include <kage/base/tls.hpp>
#include <kage/proto/connection.hpp>
#include <kage/proto/redis_error.hpp>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <cstring>

namespace kage::proto {

namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
using boost::system::error_code;

std::shared_ptr<ssl::context> make_tls_context(const tls_config& tls) {
  tls_client_options o;
  o.ca_file = tls.ca_file;
  o.cert_file = tls.cert_file;
  o.key_file = tls.key_file;
  o.verify = tls.verify;
  o.purpose = "Redis";
  return make_tls_client_context(o);
}

struct connection::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor ex, redis_config c, std::shared_ptr<ssl::context> t)
      : executor(ex),
        config(std::move(c)),
        tls_context(std::move(t)),
        parser(config.limits),
        watchdog(ex) {}

  asio::any_io_executor executor;
  redis_config config;
  std::shared_ptr<ssl::context> tls_context;
  std::optional<ssl::stream<tcp::socket>> stream;
  endpoint remote;
  bool open = false;

  std::string out;
  std::string sending;

  std::unique_ptr<char[]> in;
  std::size_t in_capacity = 0;
  std::size_t in_begin = 0;
  std::size_t in_end = 0;
  std::size_t consume = 0;
  reply_parser parser;  // the reply at in_begin, kept across reads until it is complete

  // One timer per connection checks the deadline of the operation in progress, so reads in
  // the hot path only store a time point instead of arming and cancelling a timer each.
  asio::steady_timer watchdog;
  clock::time_point deadline = clock::time_point::max();
  bool timed_out = false;
  bool watchdog_running = false;

  bool tls() const noexcept { return config.tls.enabled; }

  void arm(std::chrono::milliseconds timeout) { deadline = clock::now() + timeout; }
  void disarm() { deadline = clock::time_point::max(); }

  error_code map(error_code ec) const {
    if (timed_out) return make_error_code(errc::timeout);
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
      return make_error_code(errc::closed);
    }
    return ec;
  }

  void start_watchdog() {
    if (watchdog_running) return;
    watchdog_running = true;
    asio::co_spawn(executor, run_watchdog(shared_from_this()), [](std::exception_ptr) {});
  }

  static asio::awaitable<void> run_watchdog(std::shared_ptr<impl> self) {
    auto period =
        std::max(std::chrono::milliseconds(20),
                 std::min(std::chrono::milliseconds(1000),
                          std::min(self->config.read_timeout, self->config.connect_timeout) / 4));
    while (self->open) {
      self->watchdog.expires_after(period);
      co_await self->watchdog.async_wait(asio::as_tuple(asio::deferred));
      if (!self->open) break;
      if (clock::now() >= self->deadline) {
        self->timed_out = true;
        error_code ignored;
        self->stream->lowest_layer().close(ignored);
        self->open = false;
      }
    }
    self->watchdog_running = false;
  }

  void close() noexcept {
    open = false;
    error_code ignored;
    if (stream) stream->lowest_layer().close(ignored);
    watchdog.cancel();
  }

  template <class Buffers>
  asio::awaitable<std::tuple<error_code, std::size_t>> write(const Buffers& b) {
    if (tls()) co_return co_await asio::async_write(*stream, b, asio::as_tuple(asio::deferred));
    co_return co_await asio::async_write(stream->next_layer(), b, asio::as_tuple(asio::deferred));
  }

  template <class Buffers>
  asio::awaitable<std::tuple<error_code, std::size_t>> read_some(const Buffers& b) {
    if (tls()) co_return co_await stream->async_read_some(b, asio::as_tuple(asio::deferred));
    co_return co_await stream->next_layer().async_read_some(b, asio::as_tuple(asio::deferred));
  }

  asio::awaitable<error_code> flush() {
    if (!open) co_return make_error_code(timed_out ? errc::timeout : errc::closed);
    while (!out.empty()) {
      sending.clear();
      sending.swap(out);
      arm(config.read_timeout);
      auto [ec, n] = co_await write(asio::buffer(sending));
      disarm();
      if (ec) co_return map(ec);
    }
    co_return error_code{};
  }

  // Makes room for at least one more read; grows up to the bulk cap.
  error_code reserve_for_read() {
    if (in_begin == in_end) in_begin = in_end = 0;
    if (in_end < in_capacity) return {};
    if (in_begin > 0) {
      std::memmove(in.get(), in.get() + in_begin, in_end - in_begin);
      in_end -= in_begin;
      in_begin = 0;
      if (in_end < in_capacity) return {};
    }
    const std::size_t cap_limit = config.limits.max_bulk + 64 * 1024;
    if (in_capacity >= cap_limit) return make_error_code(errc::too_large);
    std::size_t grown = std::min(cap_limit, std::max<std::size_t>(64 * 1024, in_capacity * 2));
    auto bigger = std::make_unique<char[]>(grown);
    if (in_end > 0) std::memcpy(bigger.get(), in.get(), in_end);  // in is null at first
    in = std::move(bigger);
    in_capacity = grown;
    return {};
  }

  // A large value makes the buffer grow; give the memory back once it is drained.
  void maybe_shrink() {
    constexpr std::size_t keep = 256 * 1024;
    const std::size_t used = in_end - in_begin;
    if (in_capacity > 4 * 1024 * 1024 && used <= keep) {
      auto smaller = std::make_unique<char[]>(keep);
      std::memcpy(smaller.get(), in.get() + in_begin, used);
      in = std::move(smaller);
      in_capacity = keep;
      in_begin = 0;
      in_end = used;
    }
  }

  asio::awaitable<error_code> read(std::span<const resp_node>& result) {
    in_begin += consume;
    consume = 0;
    parser.reset();
    maybe_shrink();
    // The read timeout bounds the whole reply, not only the gap between reads: a peer trickling
    // a byte a second must not hold a job forever. A large reply gets one more millisecond for
    // each KiB that arrived (it must come at 1 MiB/s at least).
    const clock::time_point started = clock::now();
    std::size_t received = 0;
    for (;;) {
      auto parsed = parser.parse(std::string_view(in.get() + in_begin, in_end - in_begin));
      if (parsed) {
        consume = *parsed;
        result = parser.nodes();
        co_return error_code{};
      }
      if (parsed.error() != make_error_code(errc::needs_more)) co_return parsed.error();
      if (!out.empty()) {
        if (auto ec = co_await flush()) co_return ec;
      }
      if (!open) co_return make_error_code(timed_out ? errc::timeout : errc::closed);
      if (auto ec = reserve_for_read()) co_return ec;
      deadline = started + config.read_timeout + std::chrono::milliseconds(received >> 10);
      auto [ec, n] = co_await read_some(asio::buffer(in.get() + in_end, in_capacity - in_end));
      disarm();
      if (ec) co_return map(ec);
      in_end += n;
      received += n;
    }
  }

  asio::awaitable<error_code> read_raw(std::span<char> buf, std::size_t& n) {
    n = 0;
    in_begin += consume;
    consume = 0;
    if (buf.empty()) co_return error_code{};
    if (in_begin < in_end) {
      n = std::min(buf.size(), in_end - in_begin);
      std::memcpy(buf.data(), in.get() + in_begin, n);
      in_begin += n;
      co_return error_code{};
    }
    if (!out.empty()) {
      if (auto ec = co_await flush()) co_return ec;
    }
    if (!open) co_return make_error_code(timed_out ? errc::timeout : errc::closed);
    arm(config.read_timeout);
    auto [ec, got] = co_await read_some(asio::buffer(buf.data(), buf.size()));
    disarm();
    if (ec) co_return map(ec);
    n = got;
    co_return error_code{};
  }
};

connection::connection(asio::any_io_executor ex, redis_config config,
                       std::shared_ptr<ssl::context> tls_context)
    : impl_(std::make_shared<impl>(ex, std::move(config), std::move(tls_context))) {}

connection::~connection() {
  impl_->close();
}

// The failure in the words of the system, TLS library or server; advice that names kage's
// flags is added by tools/ (tools/kage/hints.cpp) from the error code.
std::string describe_transport_error(const endpoint& remote, const error_code& ec) {
  const std::string where = remote.address();
  if (ec == asio::error::operation_aborted) return "interrupted";
  if (ec == make_error_code(errc::timeout)) return where + " did not answer in time";
  if (ec == make_error_code(errc::closed)) return where + " closed the connection";
  if (ec == make_error_code(errc::closed_at_hello)) {
    return where + " closed the connection before answering";
  }
  if (ec == asio::error::connection_refused) {
    return "cannot connect to " + where +
           ": connection refused; check that Redis is running there and the port is right";
  }
  if (ec.category() == asio::error::get_ssl_category() ||
      ec.category() == ssl::error::get_stream_category()) {
    return "TLS with " + where + " failed: " + ec.message();
  }
  return "connection to " + where + " failed: " + ec.message();
}

asio::awaitable<error_code> connection::async_connect(endpoint remote, std::string& diagnostic) {
  auto& s = *impl_;
  s.close();
  s.remote = remote;
  s.timed_out = false;
  s.out.clear();
  s.in_begin = s.in_end = s.consume = 0;
  s.parser.reset();
  if (s.tls() && !s.tls_context) s.tls_context = make_tls_context(s.config.tls);
  if (!s.tls_context) s.tls_context = std::make_shared<ssl::context>(ssl::context::tls_client);
  s.stream.emplace(s.executor, *s.tls_context);
  s.open = true;
  s.arm(s.config.connect_timeout);
  s.start_watchdog();

  tcp::resolver resolver(s.executor);
  auto [rec, results] = co_await resolver.async_resolve(remote.host, std::to_string(remote.port),
                                                        asio::as_tuple(asio::deferred));
  if (!rec && s.timed_out) rec = make_error_code(errc::timeout);  // resolving took too long
  if (rec) {
    s.disarm();
    diagnostic = "cannot resolve '" + remote.host + "': " + rec.message();
    s.close();
    co_return rec;
  }
  auto [cec, ep] =
      co_await asio::async_connect(s.stream->next_layer(), results, asio::as_tuple(asio::deferred));
  if (cec) {
    auto ec = s.map(cec);
    s.disarm();
    diagnostic = describe_transport_error(remote, ec);
    s.close();
    co_return ec;
  }
  error_code ignored;
  s.stream->next_layer().set_option(tcp::no_delay(true), ignored);
  if (s.tls()) {
    const std::string name = s.config.tls.sni.empty() ? remote.host : s.config.tls.sni;
    error_code addr_ec;
    asio::ip::make_address(name, addr_ec);
    if (addr_ec) SSL_set_tlsext_host_name(s.stream->native_handle(), name.c_str());
    if (s.config.tls.verify) s.stream->set_verify_callback(ssl::host_name_verification(name));
    auto [hec] = co_await s.stream->async_handshake(ssl::stream_base::client,
                                                    asio::as_tuple(asio::deferred));
    if (hec) {
      auto ec = s.map(hec);
      s.disarm();
      diagnostic = describe_transport_error(remote, ec);
      s.close();
      co_return ec;
    }
  }
  s.disarm();

  // AUTH, then a PING that tells "needs a password" apart from "answers".
  const std::string who =
      s.config.user.empty() ? "the default user" : "user '" + s.config.user + "'";
  if (s.config.password) {
    if (s.config.user.empty()) {
      append_command(s.out, {"AUTH", *s.config.password});
    } else {
      append_command(s.out, {"AUTH", s.config.user, *s.config.password});
    }
  }
  append_command(s.out, {"CLIENT", "SETNAME", s.config.client_name});
  append_command(s.out, {"PING"});
  const int replies = s.config.password ? 3 : 2;
  for (int i = 0; i < replies; ++i) {
    std::span<const resp_node> r;
    if (auto ec = co_await s.read(r)) {
      // A plain-text hello to a TLS port is dropped by the server without a word.
      if (!s.tls() &&
          (ec == make_error_code(errc::closed) || ec == asio::error::connection_reset)) {
        ec = make_error_code(errc::closed_at_hello);
      }
      diagnostic = describe_transport_error(remote, ec);
      s.close();
      co_return ec;
    }
    if (r.empty() || r[0].type != resp_type::error) continue;
    const std::string text(r[0].value);
    const bool is_auth = s.config.password && i == 0;
    auto refusal = classify_redis_error(text).code;
    if (is_auth || refusal == redis_errc::noauth || refusal == redis_errc::wrongpass) {
      if (refusal == redis_errc::noauth) {
        diagnostic = remote.address() + " requires a password (" + text + ")";
      } else if (refusal == redis_errc::no_password_set) {
        diagnostic = remote.address() + " has no password set but kage sent one (" + text + ")";
      } else {
        refusal = redis_errc::wrongpass;
        diagnostic =
            "authentication as " + who + " to " + remote.address() + " refused (" + text + ")";
      }
      s.close();
      co_return make_error_code(refusal);
    }
    // CLIENT SETNAME may be refused by ACLs; that is harmless.
  }
  co_return error_code{};
}

std::string& connection::output() noexcept {
  return impl_->out;
}

asio::awaitable<error_code> connection::async_flush() {
  return impl_->flush();
}

asio::awaitable<error_code> connection::async_read(std::span<const resp_node>& reply) {
  return impl_->read(reply);
}

asio::awaitable<boost::system::error_code> connection::async_exec(std::vector<std::string> args,
                                                                  reply& out) {
  std::vector<std::string_view> views(args.begin(), args.end());
  append_command(impl_->out, views);
  std::span<const resp_node> r;
  if (auto ec = co_await impl_->read(r)) co_return ec;
  out = to_reply(r);
  co_return boost::system::error_code{};
}

asio::awaitable<error_code> connection::async_read_some_raw(std::span<char> buf, std::size_t& n) {
  return impl_->read_raw(buf, n);
}

void connection::close() noexcept {
  impl_->close();
}
bool connection::is_open() const noexcept {
  return impl_->open;
}
const endpoint& connection::remote() const noexcept {
  return impl_->remote;
}
std::size_t connection::buffered_bytes() const noexcept {
  return impl_->in_capacity;
}

asio::awaitable<reply> exec(connection& conn, std::vector<std::string> args) {
  reply out;
  if (auto ec = co_await conn.async_exec(args, out)) {
    if (ec == asio::error::operation_aborted) throw boost::system::system_error(ec);
    fail(exit_code::redis, ec,
         describe_transport_error(conn.remote(), ec) + " (while sending " + args.front() + ")");
  }
  co_return out;
}

}  // namespace kage::proto
