// The replication client against a scripted server on loopback: what real servers of every
// version do but the test servers (Redis 7.0) cannot show: a pre-7.0 server refusing
// REPLCONF rdb-only, RDB bytes arriving in the same read as the last RESP reply, a marker split
// across writes, the replication stream following the RDB, a refusal, a server dying mid-RDB.
#include <kage/base/error.hpp>
#include <kage/proto/connection.hpp>
#include <kage/proto/replication.hpp>

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>

namespace asio = boost::asio;
namespace kp = kage::proto;
using tcp = asio::ip::tcp;

namespace {

const std::string mark = "0123456789abcdefghijABCDEFGHIJ0123456789";

struct script {
  std::string rdb_only_reply = "+OK\r\n";  // or an error line
  // Sent when REPLCONF rdb-only arrives (before SYNC: lands in the client's RESP buffer).
  std::string early;
  std::vector<std::string> after_sync;  // written one by one, with a pause between
  bool close_at_end = true;
};

class collect final : public kp::rdb_sink {
 public:
  asio::awaitable<void> async_write(std::string_view bytes) override {
    data.append(bytes);
    ++pieces;
    co_return;
  }
  std::string data;
  int pieces = 0;
};

asio::awaitable<void> serve(tcp::acceptor& acceptor, script s) {
  auto socket = co_await acceptor.async_accept(asio::deferred);
  std::string in;
  char buf[4096];
  std::vector<kp::resp_node> nodes;
  for (;;) {
    const std::size_t n = co_await socket.async_read_some(asio::buffer(buf), asio::deferred);
    in.append(buf, n);
    std::string out;
    bool synced = false;
    for (;;) {
      nodes.clear();
      auto parsed = kp::parse_reply(in, nodes);
      if (!parsed) break;
      const std::string name(nodes.at(1).value);
      const std::string arg = nodes.size() > 2 ? std::string(nodes[2].value) : "";
      in.erase(0, *parsed);
      if (name == "PING") out += "+PONG\r\n";
      if (name == "CLIENT") out += "+OK\r\n";
      if (name == "REPLCONF" && arg == "capa") out += "+OK\r\n";
      if (name == "REPLCONF" && arg == "rdb-only") out += s.rdb_only_reply + s.early;
      if (name == "SYNC") synced = true;
    }
    if (!out.empty()) co_await asio::async_write(socket, asio::buffer(out), asio::deferred);
    if (synced) break;
  }
  asio::steady_timer pause(socket.get_executor());
  for (const auto& piece : s.after_sync) {
    co_await asio::async_write(socket, asio::buffer(piece), asio::deferred);
    pause.expires_after(std::chrono::milliseconds(5));
    co_await pause.async_wait(asio::deferred);
  }
  if (!s.close_at_end) {  // keep the link open like a server streaming replication
    pause.expires_after(std::chrono::seconds(5));
    co_await pause.async_wait(asio::as_tuple(asio::deferred));
  }
}

struct outcome {
  kp::rdb_transfer transfer;
  std::string data;
  int pieces = 0;
  std::string error;  // kage::failure text
};

asio::awaitable<outcome> client(std::uint16_t port, std::size_t chunk) {
  outcome o;
  kp::redis_config config;
  config.read_timeout = std::chrono::milliseconds(3000);
  kp::connection conn(co_await asio::this_coro::executor, config, nullptr);
  std::string diagnostic;
  kp::endpoint server;  // not a braced list inside co_await: GCC 12 miscompiles those
  server.host = "127.0.0.1";
  server.port = port;
  if (auto ec = co_await conn.async_connect(server, diagnostic))
    throw std::runtime_error(diagnostic);
  collect sink;
  try {
    o.transfer = co_await kp::async_sync_rdb(conn, sink, chunk);
  } catch (const kage::failure& f) {
    o.error = f.what();
  }
  o.data = sink.data;
  o.pieces = sink.pieces;
  co_return o;
}

outcome run(script s, std::size_t chunk = 256 * 1024) {
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  asio::co_spawn(ioc, serve(acceptor, std::move(s)), [](std::exception_ptr) {});
  std::optional<outcome> result;
  std::exception_ptr error;
  asio::co_spawn(ioc, client(port, chunk), [&](std::exception_ptr e, outcome o) {
    error = e;
    result = std::move(o);
    ioc.stop();
  });
  ioc.run_for(std::chrono::seconds(20));
  if (error) std::rethrow_exception(error);
  BOOST_TEST_REQUIRE(result.has_value(), "the client did not finish within 20 s");
  return *result;
}

std::string payload(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) & 0xff);
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replication_client)

BOOST_AUTO_TEST_CASE(pre_7_server_falls_back_to_sync_and_stops_at_the_marker) {
  const std::string rdb = payload(300000);
  script s;
  s.rdb_only_reply = "-ERR Unrecognized REPLCONF option: rdb-only\r\n";
  // Keep-alives and the first RDB bytes reach the client with the REPLCONF replies.
  s.early = "\n\n$EOF:" + mark + "\r\n" + rdb.substr(0, 1000);
  s.after_sync = {rdb.substr(1000, 200000), rdb.substr(201000) + mark.substr(0, 17),
                  mark.substr(17) + "*1\r\n$4\r\nPING\r\n"};  // replication follows the RDB
  s.close_at_end = false;
  const auto o = run(s, 64 * 1024);
  BOOST_TEST_REQUIRE(o.error.empty(), o.error);
  BOOST_TEST(o.transfer.rdb_only == false);
  BOOST_TEST(o.transfer.rdb_only_refusal == "ERR Unrecognized REPLCONF option: rdb-only");
  BOOST_TEST((o.transfer.framing == kp::rdb_framing::eof_marker));
  BOOST_TEST(o.transfer.bytes == rdb.size());
  BOOST_TEST((o.data == rdb));
  BOOST_TEST(o.pieces > 4);  // in chunks, never the whole RDB at once
}

BOOST_AUTO_TEST_CASE(disk_based_transfer) {
  const std::string rdb = payload(100000);
  script s;
  s.after_sync = {"\n", "$" + std::to_string(rdb.size()) + "\r\n" + rdb.substr(0, 10),
                  rdb.substr(10)};
  const auto o = run(s);
  BOOST_TEST_REQUIRE(o.error.empty(), o.error);
  BOOST_TEST(o.transfer.rdb_only);
  BOOST_TEST((o.transfer.framing == kp::rdb_framing::length));
  BOOST_TEST((o.data == rdb));
}

BOOST_AUTO_TEST_CASE(refusals_quote_the_server_and_name_the_permissions) {
  script s;
  s.after_sync = {"-NOPERM this user has no permissions to run the 'sync' command\r\n"};
  auto o = run(s);
  BOOST_TEST(o.error.find("refused SYNC (NOPERM this user has no permissions to run the 'sync' "
                          "command)") != std::string::npos,
             o.error);
  BOOST_TEST(o.error.find("+replconf +sync +psync") != std::string::npos, o.error);

  script r;
  r.rdb_only_reply = "-NOPERM this user has no permissions to run the 'replconf' command\r\n";
  o = run(r);
  BOOST_TEST(o.error.find("refused REPLCONF rdb-only") != std::string::npos, o.error);
}

BOOST_AUTO_TEST_CASE(server_gone_mid_rdb) {
  script s;
  s.after_sync = {"$EOF:" + mark + "\r\n", payload(5000)};
  auto o = run(s);
  BOOST_TEST(o.error.find("closed the connection after 4961 bytes of the RDB (before its end "
                          "marker)") != std::string::npos,
             o.error);
  script d;
  d.after_sync = {"$100000\r\n", payload(5000)};
  o = run(d);
  BOOST_TEST(o.error.find("after 5000 bytes of the RDB (of 100000)") != std::string::npos, o.error);
}

BOOST_AUTO_TEST_SUITE_END()
