// The RDB transfer framing (disk-based "$<length>", diskless "$EOF:<mark>") fed in every split,
// and the RDB frame check (magic, version, EOF opcode, CRC-64), without servers.
#include <kage/proto/redis_text.hpp>
#include <kage/proto/replication.hpp>

#include <boost/test/unit_test.hpp>

#include <random>
#include <string>

namespace kp = kage::proto;
using namespace std::string_literals;

namespace {

const std::string mark = "0123456789abcdefghijABCDEFGHIJ0123456789";  // 40 bytes

struct outcome {
  std::string payload;
  bool done = false;
  boost::system::error_code error;
  std::string unconsumed;  // what the caller still holds once the parser stopped
  std::size_t max_held = 0;
};

// Plays the caller: keeps unconsumed bytes, appends `piece` bytes of the wire at a time.
outcome feed(kp::rdb_transfer_parser& p, std::string_view wire, std::size_t piece) {
  outcome o;
  std::string held;
  for (std::size_t at = 0; at < wire.size() && !p.done(); at += piece) {
    held.append(wire.substr(at, piece));
    for (;;) {
      auto step = p.parse(held);
      if (!step) {
        o.error = step.error();
        o.unconsumed = held;
        return o;
      }
      BOOST_REQUIRE(step->consumed <= held.size());
      BOOST_REQUIRE(step->payload.empty() ||
                    (step->payload.data() >= held.data() &&
                     step->payload.data() + step->payload.size() <= held.data() + step->consumed));
      o.payload.append(step->payload);
      held.erase(0, step->consumed);
      if (p.done() || step->consumed == 0) break;
    }
    o.max_held = std::max(o.max_held, held.size());
  }
  o.done = p.done();
  o.unconsumed = held;
  return o;
}

outcome feed(std::string_view wire, std::size_t piece) {
  kp::rdb_transfer_parser p;
  return feed(p, wire, piece);
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// A well-formed RDB frame around `body` (not a real keyspace: the check reads only the frame).
std::string rdb_file(const std::string& body, const std::string& version = "0010") {
  std::string f = "REDIS" + version + body + "\xff";
  std::uint64_t crc = kp::crc64(0, f);
  for (int i = 0; i < 8; ++i) f.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rdb_transfer_framing)

BOOST_AUTO_TEST_CASE(length_framing_every_split_with_keepalives) {
  const std::string rdb = random_bytes(3000, 1);
  const std::string wire = "\n\n\n$" + std::to_string(rdb.size()) + "\r\n" + rdb;
  for (std::size_t piece : {1u, 2u, 3u, 7u, 39u, 40u, 41u, 512u, 4096u}) {
    kp::rdb_transfer_parser p;
    auto o = feed(p, wire, piece);
    BOOST_TEST(!o.error, piece);
    BOOST_TEST(o.done, piece);
    BOOST_TEST((o.payload == rdb), piece);
    BOOST_TEST((p.framing() == kp::rdb_framing::length));
    BOOST_TEST(p.declared_length() == rdb.size());
    BOOST_TEST(p.payload_bytes() == rdb.size());
    BOOST_TEST(p.offset() == -1);
  }
}

BOOST_AUTO_TEST_CASE(length_framing_leaves_what_follows_unconsumed) {
  // Without rdb-only the replication stream follows the payload in the same read.
  const std::string wire = "$5\r\nREDIS*1\r\n$4\r\nPING\r\n";
  auto o = feed(wire, wire.size());
  BOOST_TEST(o.done);
  BOOST_TEST(o.payload == "REDIS");
  BOOST_TEST(o.unconsumed == "*1\r\n$4\r\nPING\r\n");
}

BOOST_AUTO_TEST_CASE(eof_marker_every_split) {
  // A payload that ends in most of the marker and holds its prefix inside, so a parser matching
  // too eagerly (or too late) shows.
  const std::string rdb = random_bytes(1000, 2) + mark.substr(0, 20) + "x" + mark.substr(0, 39);
  const std::string wire = "\n$EOF:" + mark + "\r\n" + rdb + mark;
  for (std::size_t piece = 1; piece <= wire.size(); piece += (piece < 100 ? 1 : 37)) {
    kp::rdb_transfer_parser p;
    auto o = feed(p, wire, piece);
    BOOST_TEST_REQUIRE(!o.error, piece);
    BOOST_TEST_REQUIRE(o.done, piece);
    BOOST_TEST_REQUIRE((o.payload == rdb), "piece " << piece);
    BOOST_TEST(o.unconsumed.empty());
    BOOST_TEST((p.framing() == kp::rdb_framing::eof_marker));
    BOOST_TEST(p.payload_bytes() == rdb.size());
    // Never more than the marker or the "$EOF:<mark>\r\n" line (plus one piece) held back.
    BOOST_TEST(o.max_held < 5 + kp::rdb_eof_mark_size + 2 + piece);
  }
}

BOOST_AUTO_TEST_CASE(eof_marker_holds_back_until_it_knows) {
  kp::rdb_transfer_parser p;
  const std::string head = "$EOF:" + mark + "\r\n";
  const std::string body = random_bytes(100, 3);
  auto o = feed(p, head + body, 1000);
  BOOST_TEST(!o.done);
  BOOST_TEST(o.payload == body.substr(0, 61));  // the last 39 could still start the marker
  BOOST_TEST(o.unconsumed == body.substr(61));
  // Short payloads: nothing is handed out until the marker arrives.
  kp::rdb_transfer_parser q;
  o = feed(q, head + "REDIS", 1000);
  BOOST_TEST(o.payload.empty());
  BOOST_TEST(!o.done);
}

BOOST_AUTO_TEST_CASE(eof_marker_then_replication_stream) {
  // Plain SYNC on an old server: what follows the marker is not RDB and stays unconsumed.
  const std::string rdb = random_bytes(500, 9);
  const std::string wire = "$EOF:" + mark + "\r\n" + rdb + mark + "*1\r\n$4\r\nPING\r\n";
  for (std::size_t piece : {1u, 7u, 45u, 10000u}) {
    auto o = feed(wire, piece);
    BOOST_TEST_REQUIRE(o.done, piece);
    BOOST_TEST((o.payload == rdb), piece);
    BOOST_TEST(std::string("*1\r\n$4\r\nPING\r\n").starts_with(o.unconsumed), piece);
  }
}

BOOST_AUTO_TEST_CASE(fullresync_line_before_the_payload) {
  const std::string replid(40, 'f');
  const std::string wire = "+FULLRESYNC " + replid + " 12345\r\n\n$3\r\nabc";
  for (std::size_t piece : {1u, 5u, 100u}) {
    kp::rdb_transfer_parser p;
    auto o = feed(p, wire, piece);
    BOOST_TEST(o.done);
    BOOST_TEST(o.payload == "abc");
    BOOST_TEST(p.replid() == replid);
    BOOST_TEST(p.offset() == 12345);
  }
}

BOOST_AUTO_TEST_CASE(empty_payload) {
  auto o = feed("$0\r\n", 1);
  BOOST_TEST(o.done);
  BOOST_TEST(o.payload.empty());
}

BOOST_AUTO_TEST_CASE(error_line_keeps_the_servers_words) {
  const std::string text = "NOPERM this user has no permissions to run the 'sync' command";
  for (std::size_t piece : {1u, 1000u}) {
    kp::rdb_transfer_parser p;
    auto o = feed(p, "\n-" + text + "\r\n", piece);
    BOOST_TEST((o.error == kp::make_error_code(kp::errc::server_error)));
    BOOST_TEST(p.server_error() == text);
    BOOST_TEST(!o.done);
  }
}

BOOST_AUTO_TEST_CASE(not_a_transfer) {
  const auto protocol_error = kp::make_error_code(kp::errc::protocol_error);
  for (std::string wire :
       {"+OK\r\n"s, "*1\r\n$4\r\nPING\r\n"s, "$-1\r\n"s, "$+5\r\nabcde"s, "$5x\r\nabcde"s, "$\r\n"s,
        "$EOF:short\r\n"s, "$EOF:" + mark + "x\r\n", "+CONTINUE\r\n"s, "+FULLRESYNC abc\r\n"s,
        "+FULLRESYNC abc 1x\r\n"s, "$99999999999999999999999\r\n"s}) {
    auto o = feed(wire, 1);
    BOOST_TEST((o.error == protocol_error), wire);
    BOOST_TEST(!o.done, wire);
  }
  auto o = feed(std::string(5000, 'a'), 100);
  BOOST_TEST((o.error == kp::make_error_code(kp::errc::too_large)));
}

BOOST_AUTO_TEST_CASE(nothing_after_done) {
  kp::rdb_transfer_parser p;
  auto o = feed(p, "$2\r\nab", 100);
  BOOST_TEST(o.done);
  auto again = p.parse("more");
  BOOST_TEST_REQUIRE(again.has_value());
  BOOST_TEST(again->consumed == 0u);
  BOOST_TEST(again->payload.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rdb_frame_check)

kp::rdb_file_check::verdict check(const std::string& bytes, std::size_t piece) {
  kp::rdb_file_check c;
  for (std::size_t at = 0; at < bytes.size(); at += piece)
    c.update(std::string_view(bytes).substr(at, piece));
  BOOST_TEST(c.bytes() == bytes.size());
  return c.finish();
}

BOOST_AUTO_TEST_CASE(sound_file_in_every_split) {
  const std::string f = rdb_file(random_bytes(500, 4));
  for (std::size_t piece : {1u, 2u, 7u, 8u, 9u, 16u, 100u, 10000u}) {
    auto v = check(f, piece);
    BOOST_TEST(v.problem.empty(), piece << ": " << v.problem);
    BOOST_TEST(v.version == 10);
    BOOST_TEST(v.eof_opcode);
    BOOST_TEST(v.checksum_present);
    BOOST_TEST(v.checksum_ok);
  }
  kp::rdb_file_check c;
  c.update("REDIS00");
  BOOST_TEST(c.version() == 0);
  c.update("09");
  BOOST_TEST(c.version() == 9);
}

BOOST_AUTO_TEST_CASE(every_flipped_byte_is_caught) {
  const std::string f = rdb_file(random_bytes(64, 5));
  for (std::size_t i = 0; i < f.size(); ++i) {
    std::string bad = f;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto v = check(bad, 3);
    BOOST_TEST(!v.problem.empty(), "byte " << i);
  }
}

BOOST_AUTO_TEST_CASE(truncation_and_wrong_headers) {
  const std::string f = rdb_file(random_bytes(64, 6));
  for (std::size_t cut : {1u, 5u, 8u, 9u, 20u}) {
    auto v = check(f.substr(0, f.size() - cut), 4);
    BOOST_TEST(!v.problem.empty(), cut);
  }
  BOOST_TEST(check("REDIS", 1).problem.find("too short") != std::string::npos);
  auto v = check(rdb_file(random_bytes(10, 7), "00x0"), 5);
  BOOST_TEST(v.problem.find("REDIS") != std::string::npos, v.problem);
  v = check("RADIS0010" + f.substr(9), 5);
  BOOST_TEST(v.version == 0);
  BOOST_TEST(!v.problem.empty());
}

BOOST_AUTO_TEST_CASE(checksum_off_is_not_an_error) {
  std::string f = "REDIS0009" + random_bytes(30, 8) + "\xff" + std::string(8, '\0');
  auto v = check(f, 6);
  BOOST_TEST(v.problem.empty(), v.problem);
  BOOST_TEST(!v.checksum_present);
  BOOST_TEST(!v.checksum_ok);
  BOOST_TEST(v.version == 9);
}

BOOST_AUTO_TEST_SUITE_END()
