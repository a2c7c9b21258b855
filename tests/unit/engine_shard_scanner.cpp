// shard_scanner, the sans-IO heart of a logical backup: scripted exchanges of the commands it
// writes and the replies a server would send, byte for byte, with no server.
#include "shard_scanner.hpp"

#include <kage/proto/error.hpp>
#include <kage/proto/redis_text.hpp>
#include <kage/proto/resp.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace kp = kage::proto;
using kage::engine::scan_settings;
using kage::engine::shard_scanner;
using step_kind = shard_scanner::step_kind;

namespace {

constexpr std::int64_t now = 1'700'000'000'000;

scan_settings settings(std::size_t window = 512, int scan_count = 1000) {
  scan_settings s;
  s.where = "127.0.0.1:7000";
  s.scan_count = scan_count;
  s.window = window;
  s.probe_key = "kage-probe-0";
  return s;
}

// The commands in out, each as its arguments joined by spaces; out is emptied.
std::vector<std::string> take_commands(std::string& out) {
  std::vector<std::string> commands;
  std::string_view rest = out;
  while (!rest.empty()) {
    std::vector<kp::resp_node> nodes;
    auto n = kp::parse_reply(rest, nodes);
    BOOST_TEST_REQUIRE(n.has_value());
    std::string c;
    for (std::size_t i = 1; i < nodes.size(); ++i)
      c += (i > 1 ? " " : "") + std::string(nodes[i].value);
    commands.push_back(c);
    rest.remove_prefix(*n);
  }
  out.clear();
  return commands;
}

std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}
std::string integer(std::int64_t v) {
  return ":" + std::to_string(v) + "\r\n";
}
std::string error(std::string_view text) {
  return "-" + std::string(text) + "\r\n";
}
const std::string null_bulk = "$-1\r\n";

// A DUMP payload as Redis makes it: body, RDB version (LE), CRC64 (LE) of both.
std::string dump_of(std::string_view body, std::uint16_t rdb_version = 11) {
  std::string p(body);
  p.push_back(static_cast<char>(rdb_version & 0xff));
  p.push_back(static_cast<char>(rdb_version >> 8));
  const std::uint64_t crc = kp::crc64(0, p);
  for (int i = 0; i < 8; ++i) p.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return p;
}
// The body of a payload made by dump_of, for messages.
std::string_view body_of(std::string_view payload) {
  return payload.substr(0, payload.size() >= 10 ? payload.size() - 10 : 0);
}
std::string scan_page(std::string_view cursor, const std::vector<std::string>& keys) {
  std::string r = "*2\r\n" + bulk(cursor) + "*" + std::to_string(keys.size()) + "\r\n";
  for (const auto& k : keys) r += bulk(k);
  return r;
}

// A step as text, so a failed check prints what happened.
std::string describe(const shard_scanner::step& s) {
  switch (s.kind) {
    case step_kind::none:
      return "none";
    case step_kind::ttl_mode:
      return "ttl_mode";
    case step_kind::key:
      return "key " + std::string(s.key) + " at " + std::to_string(s.expire_at_ms) + " " +
             std::string(body_of(s.payload));
    case step_kind::vanished:
      return "vanished " + std::string(s.key);
    case step_kind::redirect:
      return "redirect " + std::string(s.key) + " " + std::string(s.error.text);
    case step_kind::retry:
      return "retry " + s.message;
    case step_kind::failed:
      return "failed " + s.message;
  }
  return "?";
}

// Feeds one reply, given as the bytes a server sends, to the scanner.
shard_scanner::step feed(shard_scanner& scanner, std::string_view bytes, std::int64_t at = now) {
  std::vector<kp::resp_node> nodes;
  auto n = kp::parse_reply(bytes, nodes);
  BOOST_TEST_REQUIRE(n.has_value());
  BOOST_TEST_REQUIRE(*n == bytes.size());
  return scanner.on_reply(nodes, at);
}

std::vector<std::string> write(shard_scanner& scanner) {
  std::string out;
  scanner.write_commands(out);
  return take_commands(out);
}

using strings = std::vector<std::string>;

// The probe, answered the way Redis 7 answers for a key that does not exist.
void probe_ok(shard_scanner& scanner) {
  BOOST_TEST(write(scanner) == strings{"PEXPIRETIME kage-probe-0"});
  BOOST_TEST(write(scanner).empty());  // nothing else until the probe is answered
  BOOST_TEST(describe(feed(scanner, integer(-2))) == "ttl_mode");
  BOOST_TEST(scanner.absolute_ttl());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shard_scanner_exchanges)

BOOST_AUTO_TEST_CASE(scan_then_pipelined_expiry_and_dump) {
  shard_scanner scanner(settings());
  probe_ok(scanner);
  BOOST_TEST(write(scanner) == strings{"SCAN 0 COUNT 1000"});
  BOOST_TEST(!scanner.idle());
  BOOST_TEST(describe(feed(scanner, scan_page("17", {"a", "b"}))) == "none");
  // The keys' pairs go out, and the next SCAN runs ahead of them.
  BOOST_TEST(write(scanner) ==
             (strings{"PEXPIRETIME a", "DUMP a", "PEXPIRETIME b", "DUMP b", "SCAN 17 COUNT 1000"}));
  BOOST_TEST(describe(feed(scanner, integer(-1))) == "none");
  BOOST_TEST(describe(feed(scanner, bulk(dump_of("payload-a")))) == "key a at 0 payload-a");
  BOOST_TEST(describe(feed(scanner, integer(now + 5000))) == "none");
  BOOST_TEST(describe(feed(scanner, bulk(dump_of("payload-b")))) ==
             "key b at " + std::to_string(now + 5000) + " payload-b");
  BOOST_TEST(write(scanner).empty());
  BOOST_TEST(describe(feed(scanner, scan_page("0", {"c"}))) == "none");
  BOOST_TEST(write(scanner) == (strings{"PEXPIRETIME c", "DUMP c"}));  // cursor 0: no more SCAN
  feed(scanner, integer(-1));
  BOOST_TEST(describe(feed(scanner, bulk(dump_of("payload-c")))) == "key c at 0 payload-c");
  BOOST_TEST(write(scanner).empty());
  BOOST_TEST(scanner.idle());
}

BOOST_AUTO_TEST_CASE(window_bounds_the_keys_in_flight) {
  shard_scanner scanner(settings(2, 2));
  probe_ok(scanner);
  write(scanner);
  feed(scanner, scan_page("5", {"a", "b", "c", "d"}));
  // Two keys in flight; two still queued is SCAN COUNT 2 already, so no SCAN yet.
  BOOST_TEST(write(scanner) == (strings{"PEXPIRETIME a", "DUMP a", "PEXPIRETIME b", "DUMP b"}));
  feed(scanner, integer(-1));
  BOOST_TEST(write(scanner).empty());  // a's DUMP is still in flight
  feed(scanner, bulk(dump_of("pa")));
  BOOST_TEST(write(scanner) == (strings{"PEXPIRETIME c", "DUMP c", "SCAN 5 COUNT 2"}));
}

BOOST_AUTO_TEST_CASE(byte_window_bounds_large_values) {
  auto s = settings();
  s.max_inflight_bytes = 100;  // below the first estimate (256 bytes a value): one key at a time
  shard_scanner scanner(s);
  probe_ok(scanner);
  write(scanner);
  feed(scanner, scan_page("0", {"a", "b"}));
  BOOST_TEST(write(scanner) == (strings{"PEXPIRETIME a", "DUMP a"}));
}

BOOST_AUTO_TEST_CASE(patterns_scan_once_each_and_skip_keys_seen) {
  auto s = settings();
  s.patterns = {"user:*", "*:1"};
  shard_scanner scanner(s);
  probe_ok(scanner);
  BOOST_TEST(write(scanner) == strings{"SCAN 0 MATCH user:* COUNT 1000"});
  feed(scanner, scan_page("0", {"user:1"}));
  BOOST_TEST(write(scanner) ==
             (strings{"PEXPIRETIME user:1", "DUMP user:1", "SCAN 0 MATCH *:1 COUNT 1000"}));
  feed(scanner, integer(-1));
  feed(scanner, bulk(dump_of("p")));
  feed(scanner, scan_page("0", {"user:1", "order:1"}));  // user:1 was taken in the first pass
  BOOST_TEST(write(scanner) == (strings{"PEXPIRETIME order:1", "DUMP order:1"}));
}

BOOST_AUTO_TEST_CASE(pexpiretime_missing_falls_back_to_pttl) {
  for (const char* refusal :
       {"ERR unknown command 'PEXPIRETIME', with args beginning with: 'kage-probe-0' ",
        "NOPERM User backup has no permissions to run the 'pexpiretime' command"}) {
    shard_scanner scanner(settings());
    write(scanner);
    BOOST_TEST(describe(feed(scanner, error(refusal))) == "ttl_mode");
    BOOST_TEST(!scanner.absolute_ttl());
    BOOST_TEST(scanner.ttl_refusal() == refusal);
    write(scanner);
    feed(scanner, scan_page("0", {"k"}));
    BOOST_TEST(write(scanner) == (strings{"PTTL k", "DUMP k"}));
    feed(scanner, integer(5000));
    // A PTTL is relative: the key expires 5 s after its reply was read.
    BOOST_TEST(describe(feed(scanner, bulk(dump_of("p")), now + 10)) ==
               "key k at " + std::to_string(now + 10 + 5000) + " p");
    BOOST_TEST(scanner.redirect_commands("k") ==
               (strings{"*2\r\n$4\r\nPTTL\r\n$1\r\nk\r\n", "*2\r\n$4\r\nDUMP\r\n$1\r\nk\r\n"}));
  }
  // Any other answer means the command works.
  shard_scanner scanner(settings());
  write(scanner);
  feed(scanner, error("MOVED 1 127.0.0.1:7001"));
  BOOST_TEST(scanner.absolute_ttl());
}

BOOST_AUTO_TEST_CASE(moved_is_followed_with_expiry_and_dump_together) {
  shard_scanner scanner(settings());
  probe_ok(scanner);
  write(scanner);
  feed(scanner, scan_page("0", {"k"}));
  write(scanner);
  BOOST_TEST(describe(feed(scanner, error("MOVED 3999 127.0.0.1:7001"))) == "none");
  const auto st = feed(scanner, error("MOVED 3999 127.0.0.1:7001"));
  BOOST_TEST(describe(st) == "redirect k MOVED 3999 127.0.0.1:7001");
  BOOST_TEST((st.error.code == kp::redis_errc::moved));
  BOOST_TEST(st.error.slot == 3999);
  BOOST_TEST(st.error.host == "127.0.0.1");
  BOOST_TEST(st.error.port == 7001);
  std::string commands;
  for (const auto& c : scanner.redirect_commands(st.key)) commands += c;
  BOOST_TEST(take_commands(commands) == (strings{"PEXPIRETIME k", "DUMP k"}));

  kp::reply ttl{kp::resp_type::integer, "-1", {}};
  kp::reply dump{kp::resp_type::bulk_string, dump_of("payload"), {}};
  BOOST_TEST(describe(scanner.on_redirected("k", "127.0.0.1:7001", ttl, dump, now)) ==
             "key k at 0 payload");
  ttl.value = "-2";  // gone there too
  BOOST_TEST(describe(scanner.on_redirected("k", "127.0.0.1:7001", ttl, dump, now)) ==
             "vanished k");
  ttl.value = "-1";
  dump = {kp::resp_type::null, "", {}};
  BOOST_TEST(describe(scanner.on_redirected("k", "127.0.0.1:7001", ttl, dump, now)) ==
             "vanished k");
  dump = {kp::resp_type::error, "MOVED 3999 127.0.0.1:7002", {}};  // moving again: give up
  const auto again = scanner.on_redirected("k", "127.0.0.1:7001", ttl, dump, now);
  BOOST_TEST(describe(again) ==
             "failed reading key 'k' from 127.0.0.1:7001 after a redirect "
             "failed: MOVED 3999 127.0.0.1:7002");
  BOOST_TEST(again.code == make_error_code(kp::redis_errc::moved));
  BOOST_TEST(write(scanner).empty());
  BOOST_TEST(scanner.idle());
}

BOOST_AUTO_TEST_CASE(ask_on_the_dump_alone) {
  shard_scanner scanner(settings());
  probe_ok(scanner);
  write(scanner);
  feed(scanner, scan_page("0", {"k", "l"}));
  write(scanner);
  feed(scanner, integer(-1));
  const auto st = feed(scanner, error("ASK 12 10.0.0.2:7003"));
  BOOST_TEST(describe(st) == "redirect k ASK 12 10.0.0.2:7003");
  BOOST_TEST((st.error.code == kp::redis_errc::ask));
  BOOST_TEST(st.error.slot == 12);
  BOOST_TEST(st.error.port == 7003);
  // The next key is not disturbed.
  feed(scanner, integer(-1));
  BOOST_TEST(describe(feed(scanner, bulk(dump_of("pl")))) == "key l at 0 pl");
}

BOOST_AUTO_TEST_CASE(a_key_vanishing_between_scan_and_dump) {
  shard_scanner scanner(settings());
  probe_ok(scanner);
  write(scanner);
  feed(scanner, scan_page("0", {"gone", "expired", "deleted-late"}));
  write(scanner);
  feed(scanner, integer(-2));
  BOOST_TEST(describe(feed(scanner, null_bulk)) == "vanished gone");
  feed(scanner, integer(-2));  // expired after the TTL was asked, the DUMP still found it
  BOOST_TEST(describe(feed(scanner, bulk(dump_of("p")))) == "vanished expired");
  feed(scanner, integer(-1));
  BOOST_TEST(describe(feed(scanner, null_bulk)) == "vanished deleted-late");
  BOOST_TEST(write(scanner).empty());
  BOOST_TEST(scanner.idle());
}

BOOST_AUTO_TEST_CASE(cluster_states_mean_read_the_shard_again) {
  for (const char* transient : {"TRYAGAIN Multiple keys request during rehashing of slot",
                                "CLUSTERDOWN The cluster is down", "LOADING Redis is loading",
                                "MASTERDOWN Link with MASTER is down"}) {
    shard_scanner on_ttl(settings());
    probe_ok(on_ttl);
    write(on_ttl);
    feed(on_ttl, scan_page("0", {"k"}));
    write(on_ttl);
    BOOST_TEST(describe(feed(on_ttl, error(transient))) ==
               "retry 127.0.0.1:7000 answered " + std::string(transient));

    shard_scanner on_dump(settings());
    probe_ok(on_dump);
    write(on_dump);
    feed(on_dump, scan_page("0", {"k"}));
    write(on_dump);
    feed(on_dump, integer(-1));
    const auto st = feed(on_dump, error(transient));
    BOOST_TEST(describe(st) == "retry 127.0.0.1:7000 answered " + std::string(transient));
    BOOST_TEST(st.error.is_transient());
  }
}

BOOST_AUTO_TEST_CASE(errors_that_end_the_backup) {
  {
    shard_scanner scanner(settings());
    probe_ok(scanner);
    write(scanner);
    const auto st =
        feed(scanner, error("NOPERM this user has no permissions to run the 'scan' command"));
    BOOST_TEST(describe(st) ==
               "failed SCAN on 127.0.0.1:7000 failed: NOPERM this user has no "
               "permissions to run the 'scan' command");
    BOOST_TEST(st.code == make_error_code(kp::redis_errc::noperm));
  }
  {
    shard_scanner scanner(settings());
    probe_ok(scanner);
    write(scanner);
    const auto st = feed(scanner, bulk("not a page"));
    BOOST_TEST(describe(st) == "failed 127.0.0.1:7000 answered SCAN with an unexpected reply");
    BOOST_TEST(st.code == make_error_code(kp::errc::protocol_error));
  }
  {
    shard_scanner scanner(settings());
    probe_ok(scanner);
    write(scanner);
    feed(scanner, scan_page("0", {"k"}));
    write(scanner);
    feed(scanner, integer(-1));
    const auto st = feed(scanner, error("NOPERM no permissions to access one of the keys"));
    BOOST_TEST(describe(st) ==
               "failed DUMP of 'k' on 127.0.0.1:7000 failed: NOPERM no permissions to access "
               "one of the keys");
  }
  {
    shard_scanner scanner(settings());
    probe_ok(scanner);
    write(scanner);
    feed(scanner, scan_page("0", {"k"}));
    write(scanner);
    BOOST_TEST(describe(feed(scanner, bulk("soon"))) ==
               "failed 127.0.0.1:7000 answered PEXPIRETIME with an unexpected reply");
  }
}

// The replies of a whole exchange arrive as one byte stream cut at every position: the RESP
// parser waits for the rest of a cut reply, and the scanner sees the same replies, writes the
// same commands and takes the same steps as when nothing was cut.
BOOST_AUTO_TEST_CASE(replies_split_at_every_byte) {
  const std::vector<std::string> replies = {
      integer(-2),                             // the probe
      scan_page("9", {"a", "moved", "gone"}),  // SCAN 0
      integer(-1),
      bulk(dump_of("pa")),  // a
      error("MOVED 77 127.0.0.1:7001"),
      error("MOVED 77 127.0.0.1:7001"),  // moved
      scan_page("0", {"b"}),             // SCAN 9
      integer(-2),
      null_bulk,  // gone
      integer(now + 1),
      bulk(dump_of(std::string(300, 'x'))),  // b
  };
  std::string stream;
  for (const auto& r : replies) stream += r;

  // Runs the exchange with the stream delivered in two pieces cut at `cut`.
  auto run = [&](std::size_t cut) {
    shard_scanner scanner(settings(2, 2));
    std::vector<std::string> log;
    std::string buffer;
    std::string out;
    for (std::string_view piece :
         {std::string_view(stream).substr(0, cut), std::string_view(stream).substr(cut)}) {
      buffer.append(piece);
      for (;;) {
        scanner.write_commands(out);
        for (auto& c : take_commands(out)) log.push_back("> " + c);
        if (scanner.idle()) break;
        std::vector<kp::resp_node> nodes;
        auto n = kp::parse_reply(buffer, nodes);
        if (!n) {
          BOOST_TEST_REQUIRE(n.error() == make_error_code(kp::errc::needs_more));
          break;
        }
        log.push_back("< " + describe(scanner.on_reply(nodes, now)));
        buffer.erase(0, *n);
      }
    }
    BOOST_TEST(buffer.empty());
    BOOST_TEST(scanner.idle());
    return log;
  };
  const auto whole = run(stream.size());
  const strings expected{"> PEXPIRETIME kage-probe-0",
                         "< ttl_mode",
                         "> SCAN 0 COUNT 2",
                         "< none",
                         "> PEXPIRETIME a",
                         "> DUMP a",
                         "> PEXPIRETIME moved",
                         "> DUMP moved",
                         "> SCAN 9 COUNT 2",  // one key left queued: SCAN runs ahead
                         "< none",
                         "< key a at 0 pa",
                         "> PEXPIRETIME gone",
                         "> DUMP gone",
                         "< none",
                         "< redirect moved MOVED 77 127.0.0.1:7001",
                         "< none",
                         "> PEXPIRETIME b",
                         "> DUMP b",
                         "< none",
                         "< vanished gone",
                         "< none",
                         "< key b at " + std::to_string(now + 1) + " " + std::string(300, 'x')};
  BOOST_TEST(whole == expected, boost::test_tools::per_element());
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    BOOST_TEST(run(cut) == whole, "cut at byte " << cut);
  }
}

// Issue 14, defect 3: whatever DUMP returned used to be archived, and only verify noticed.
BOOST_AUTO_TEST_CASE(dump_replies_that_are_not_whole_payloads_end_the_backup) {
  std::string flipped = dump_of("payload");
  flipped[2] = static_cast<char>(flipped[2] ^ 1);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {bulk(flipped), "returned a payload that fails its own CRC64 check"},
      {bulk("hello world"), "returned a payload that fails its own CRC64 check"},
      {bulk("short"), "returned a payload that is 5 bytes, too short to be a DUMP payload"},
      {bulk(dump_of("payload", 99)), "returned a payload that names RDB version 99, not 1 to 11"},
      {integer(5), "answered '5', not a DUMP payload"},
      {"+OK\r\n", "answered 'OK', not a DUMP payload"},
      {"*1\r\n" + bulk("x"), "answered an aggregate reply, not a DUMP payload"},
  };
  for (const auto& [reply, expected] : cases) {
    auto s = settings();
    s.max_rdb_version = 11;
    shard_scanner scanner(s);
    probe_ok(scanner);
    write(scanner);
    feed(scanner, scan_page("0", {"k"}));
    write(scanner);
    feed(scanner, integer(-1));
    const auto st = feed(scanner, reply);
    BOOST_TEST(describe(st).find("failed DUMP of 'k' on 127.0.0.1:7000 " + expected) == 0u,
               describe(st));
    BOOST_TEST(st.code == make_error_code(kp::errc::protocol_error));
  }
  // The same after a redirect.
  shard_scanner scanner(settings());
  const kp::reply ttl{kp::resp_type::integer, "-1", {}};
  const kp::reply bad{kp::resp_type::bulk_string, "hello world", {}};
  BOOST_TEST(describe(scanner.on_redirected("k", "127.0.0.1:7001", ttl, bad, now))
                 .find("failed DUMP of 'k' on 127.0.0.1:7001 returned a payload that fails") == 0u);
  const kp::reply number{kp::resp_type::integer, "5", {}};
  BOOST_TEST(describe(scanner.on_redirected("k", "127.0.0.1:7001", ttl, number, now))
                 .find("failed DUMP of 'k' on 127.0.0.1:7001 answered '5'") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
