#pragma once
// One Redis connection over TCP or TLS. Pipelining is the caller's: append any number of
// commands to output(), then read their replies in order with async_read(); output is flushed
// whenever a read would otherwise wait, so commands go out in batches.
#include <kage/base/endpoint.hpp>
#include <kage/proto/resp.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace kage::proto {

namespace asio = boost::asio;

struct tls_config {
  bool enabled = false;
  std::string ca_file;    // empty: the system's trust store
  std::string cert_file;  // client certificate (mutual TLS), with key_file
  std::string key_file;
  std::string sni;     // server name to send and verify; default: the host we connect to
  bool verify = true;  // off only by an explicit --insecure
};

struct redis_config {
  std::string user;                     // ACL user; empty = "default"
  std::optional<std::string> password;  // none: no AUTH
  tls_config tls;
  std::chrono::milliseconds connect_timeout{5000};
  // For a whole reply (plus 1 ms for each KiB that arrived), not only the gap between reads.
  std::chrono::milliseconds read_timeout{30000};
  resp_limits limits;
  std::string client_name = "kage";
};

// parse_endpoint() reads what a user gives, parse_redis_address() what Redis reports.
using endpoint = kage::endpoint;

// Built once per job and shared by its connections. Throws kage::failure(usage) naming the file
// that cannot be loaded.
std::shared_ptr<asio::ssl::context> make_tls_context(const tls_config& tls);

class connection {
 public:
  connection(asio::any_io_executor ex, redis_config config,
             std::shared_ptr<asio::ssl::context> tls_context);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Errors, one style on every call: each operation returns an error_code. Transport failures
  // are errc::timeout, errc::closed, errc::closed_at_hello or the system's/TLS library's
  // codes, an authentication refused is a redis_errc (noauth, wrongpass, no_password_set),
  // asio::error::operation_aborted when cancelled. A Redis error reply is not an error here:
  // it is a reply (classify it with classify_redis_error). For control-path code that wants
  // an exception instead, exec() below wraps async_exec.

  // Connects (connect deadline), handshakes TLS, authenticates, checks the server answers.
  // On failure, diagnostic holds one sentence in the server's or system's words.
  asio::awaitable<boost::system::error_code> async_connect(endpoint remote,
                                                           std::string& diagnostic);

  std::string& output() noexcept;  // append_command(conn.output(), {...})
  asio::awaitable<boost::system::error_code> async_flush();
  // Reads the next reply (read deadline). The nodes stay valid until the next async_read.
  asio::awaitable<boost::system::error_code> async_read(std::span<const resp_node>& reply);
  // Raw bytes, for a stream that leaves RESP after a reply (the RDB a master sends after SYNC):
  // first the bytes already read past the last reply, then the socket (read deadline). Sets n
  // to at least 1 on success (0 only for an empty buf); errors as async_read.
  asio::awaitable<boost::system::error_code> async_read_some_raw(std::span<char> buf,
                                                                 std::size_t& n);

  // One command and its reply, owned (reply stays valid after later reads); errors as
  // async_read.
  asio::awaitable<boost::system::error_code> async_exec(std::vector<std::string> args, reply& out);

  void close() noexcept;
  bool is_open() const noexcept;
  const endpoint& remote() const noexcept;
  std::size_t buffered_bytes() const noexcept;  // read buffer capacity, for memory accounting

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// "cannot connect to 127.0.0.1:7000: connection refused" style text for a transport error.
std::string describe_transport_error(const endpoint& remote, const boost::system::error_code& ec);

// The control path's form of connection::async_exec: the reply (which may be a Redis error
// reply), or kage::failure(exit_code::redis) carrying the transport error and saying which
// command it was sending (boost::system::system_error when cancelled).
asio::awaitable<reply> exec(connection& conn, std::vector<std::string> args);
// exec(conn, "CLUSTER", "SHARDS"): a plain function, so no braced list of literals lands in a
// coroutine frame (GCC 12 miscompiles those: "array used as initializer").
template <class... Args>
asio::awaitable<reply> exec(connection& conn, const Args&... args) requires(
    sizeof...(Args) > 0 && (std::is_convertible_v<const Args&, std::string_view> && ...)) {
  return exec(conn, std::vector<std::string>{std::string(std::string_view(args))...});
}

}  // namespace kage::proto
