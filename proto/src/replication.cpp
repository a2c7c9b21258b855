#include <kage/base/error.hpp>
#include <kage/proto/redis_error.hpp>
#include <kage/proto/redis_text.hpp>
#include <kage/proto/replication.hpp>

#include <boost/asio.hpp>

#include <charconv>
#include <cstring>
#include <memory>

namespace kage::proto {

namespace {

constexpr std::string_view acl_advice =
    "a snapshot asks for the RDB the way a replica does: grant the user +replconf +sync +psync "
    "(or +@admin)";

[[noreturn]] void refused(const endpoint& remote, std::string_view command,
                          const std::string& text) {
  std::string message = remote.address() + " refused " + std::string(command) + " (" + text + ")";
  const auto error = classify_redis_error(text).code;
  if (error == redis_errc::noperm) message += "; " + std::string(acl_advice);
  fail(exit_code::redis, error, message);
}

}  // namespace

// ---- the client ------------------------------------------------------------------------------

asio::awaitable<rdb_transfer> async_sync_rdb(connection& conn, rdb_sink& sink, std::size_t chunk) {
  const endpoint remote = conn.remote();
  chunk = std::max(chunk, 2 * rdb_transfer_parser::max_preamble_line);
  rdb_transfer result;

  // Capabilities first, as redis-cli --rdb does; both replies before SYNC (a server refuses
  // SYNC while replies are pending).
  proto::append_command(conn.output(), {"REPLCONF", "capa", "eof"});
  proto::append_command(conn.output(), {"REPLCONF", "rdb-only", "1"});
  for (int i = 0; i < 2; ++i) {
    std::span<const resp_node> r;
    if (auto ec = co_await conn.async_read(r)) {
      if (ec == asio::error::operation_aborted) throw boost::system::system_error(ec);
      fail(exit_code::redis, ec,
           describe_transport_error(remote, ec) + " (while sending REPLCONF)");
    }
    if (r.empty() || r[0].type != resp_type::error) continue;
    const std::string text(r[0].value);
    if (i == 0) refused(remote, "REPLCONF capa eof", text);
    if (classify_redis_error(text).code == redis_errc::noperm) {
      refused(remote, "REPLCONF rdb-only", text);
    }
    // Redis < 7.0: "Unrecognized REPLCONF option". Plain SYNC works; the link closes after.
    result.rdb_only = false;
    result.rdb_only_refusal = text;
  }
  proto::append_command(conn.output(), {"SYNC"});
  if (auto ec = co_await conn.async_flush()) {
    if (ec == asio::error::operation_aborted) throw boost::system::system_error(ec);
    fail(exit_code::redis, ec, describe_transport_error(remote, ec) + " (while sending SYNC)");
  }

  rdb_transfer_parser parser;
  auto buffer = std::make_unique<char[]>(chunk);
  std::size_t have = 0;
  while (!parser.done()) {
    std::size_t n = 0;
    const auto ec = co_await conn.async_read_some_raw({buffer.get() + have, chunk - have}, n);
    if (ec) {
      if (ec == asio::error::operation_aborted) throw boost::system::system_error(ec);
      conn.close();
      std::string where = describe_transport_error(remote, ec);
      if (parser.framing() == rdb_framing::unknown) {
        where += " after SYNC, before it sent the RDB";
      } else {
        where += " after " + std::to_string(parser.payload_bytes()) + " bytes of the RDB";
        if (parser.framing() == rdb_framing::length)
          where += " (of " + std::to_string(parser.declared_length()) + ")";
        else
          where += " (before its end marker)";
      }
      fail(exit_code::redis, ec, where);
    }
    have += n;
    std::size_t used = 0;
    for (;;) {
      auto step = parser.parse({buffer.get() + used, have - used});
      if (!step) {
        conn.close();
        if (step.error() == make_error_code(errc::server_error))
          refused(remote, "SYNC", parser.server_error());
        fail(exit_code::redis, remote.address() +
                                   " answered SYNC with bytes that are not an RDB "
                                   "transfer (" +
                                   step.error().message() + ")");
      }
      if (!step->payload.empty()) co_await sink.async_write(step->payload);
      used += step->consumed;
      if (parser.done() || step->consumed == 0) break;
    }
    std::memmove(buffer.get(), buffer.get() + used, have - used);
    have -= used;
  }
  // rdb-only: the server closes the link itself; without it, replication would follow.
  conn.close();
  result.framing = parser.framing();
  result.bytes = parser.payload_bytes();
  co_return result;
}

}  // namespace kage::proto
