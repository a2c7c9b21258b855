// classify_redis_error: every error class kage decides by, from the server's own words, and the
// kage.redis error category a failure carries.
#include <kage/proto/redis_error.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

namespace kp = kage::proto;
using kp::redis_errc;

namespace {

redis_errc code(std::string_view text) {
  return kp::classify_redis_error(text).code;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_error)

BOOST_AUTO_TEST_CASE(moved_and_ask_carry_slot_and_address) {
  const auto moved = kp::classify_redis_error("MOVED 3999 127.0.0.1:6381");
  BOOST_TEST((moved.code == redis_errc::moved));
  BOOST_TEST(moved.is_redirect());
  BOOST_TEST(moved.slot == 3999);
  BOOST_TEST(moved.host == "127.0.0.1");
  BOOST_TEST(moved.port == 6381);
  BOOST_TEST(moved.text == "MOVED 3999 127.0.0.1:6381");

  const auto ask = kp::classify_redis_error("ASK 0 redis-2.example:7000");
  BOOST_TEST((ask.code == redis_errc::ask));
  BOOST_TEST(ask.slot == 0);
  BOOST_TEST(ask.host == "redis-2.example");
  BOOST_TEST(ask.port == 7000);

  // Redis writes an IPv6 address without brackets; bracketed is read too.
  const auto v6 = kp::classify_redis_error("MOVED 16383 ::1:7001");
  BOOST_TEST((v6.code == redis_errc::moved));
  BOOST_TEST(v6.slot == 16383);
  BOOST_TEST(v6.host == "::1");
  BOOST_TEST(v6.port == 7001);
  const auto bracketed = kp::classify_redis_error("ASK 5 [fe80::1]:7002");
  BOOST_TEST(bracketed.host == "fe80::1");
  BOOST_TEST(bracketed.port == 7002);
}

BOOST_AUTO_TEST_CASE(unreadable_redirects_are_not_followed) {
  for (const char* text : {"MOVED", "MOVED 3999", "MOVED x 127.0.0.1:6381", "MOVED 16384 h:1",
                           "MOVED -1 h:1", "ASK 1 127.0.0.1", "ASK 1 127.0.0.1:0",
                           "ASK 1 127.0.0.1:65536", "ASK 1 :6379", "MOVED 1 h:12x"}) {
    const auto e = kp::classify_redis_error(text);
    BOOST_TEST((e.code == redis_errc::other), text);
    BOOST_TEST(!e.is_redirect(), text);
    BOOST_TEST(e.text == text);
  }
}

BOOST_AUTO_TEST_CASE(cluster_states_are_transient) {
  BOOST_TEST((code("CLUSTERDOWN The cluster is down") == redis_errc::clusterdown));
  BOOST_TEST((code("CLUSTERDOWN Hash slot not served") == redis_errc::clusterdown));
  BOOST_TEST(
      (code("TRYAGAIN Multiple keys request during rehashing of slot") == redis_errc::tryagain));
  BOOST_TEST((code("LOADING Redis is loading the dataset in memory") == redis_errc::loading));
  BOOST_TEST((code("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to "
                   "'no'.") == redis_errc::masterdown));
  for (const char* t : {"CLUSTERDOWN x", "TRYAGAIN x", "LOADING x", "MASTERDOWN x"}) {
    BOOST_TEST(kp::classify_redis_error(t).is_transient(), t);
  }
  for (const char* t : {"MOVED 1 h:1", "BUSY x", "NOPERM x", "ERR x", "BUSYKEY x", "READONLY x"}) {
    BOOST_TEST(!kp::classify_redis_error(t).is_transient(), t);
  }
}

BOOST_AUTO_TEST_CASE(permissions_and_authentication) {
  BOOST_TEST((code("NOPERM User backup has no permissions to run the 'pexpiretime' command") ==
              redis_errc::noperm));
  BOOST_TEST((code("NOPERM this user has no permissions to access one of the keys used as "
                   "arguments") == redis_errc::noperm));
  BOOST_TEST((code("NOAUTH Authentication required.") == redis_errc::noauth));
  BOOST_TEST((code("WRONGPASS invalid username-password pair or user is disabled.") ==
              redis_errc::wrongpass));
  BOOST_TEST((code("ERR invalid password") == redis_errc::wrongpass));  // Redis 5
  BOOST_TEST(
      (code("ERR AUTH <password> called without any password configured for the default "
            "user. Are you sure your configuration is correct?") == redis_errc::no_password_set));
  BOOST_TEST((code("ERR Client sent AUTH, but no password is set") == redis_errc::no_password_set));
}

BOOST_AUTO_TEST_CASE(unknown_commands_of_older_servers) {
  const auto e = kp::classify_redis_error(
      "ERR unknown command 'PEXPIRETIME', with args beginning with: 'kage-probe-0' ");
  BOOST_TEST((e.code == redis_errc::unknown_command));
  BOOST_TEST(e.command_unavailable());
  BOOST_TEST((code("ERR unknown command `FUNCTION`, with args beginning with: `LIST`, ") ==
              redis_errc::unknown_command));
  BOOST_TEST((code("ERR Unknown subcommand or wrong number of arguments for 'SHARDS'. Try "
                   "CLUSTER HELP.") == redis_errc::unknown_command));
  BOOST_TEST(
      (code("ERR unknown subcommand 'shards'. Try CLUSTER HELP.") == redis_errc::unknown_command));
  BOOST_TEST(kp::classify_redis_error("NOPERM x").command_unavailable());
  BOOST_TEST(!kp::classify_redis_error("ERR wrong number of arguments").command_unavailable());
}

BOOST_AUTO_TEST_CASE(restore_outcomes) {
  BOOST_TEST((code("BUSYKEY Target key name already exists.") == redis_errc::busykey));
  BOOST_TEST((code("ERR DUMP payload version or checksum are wrong") == redis_errc::bad_payload));
  BOOST_TEST((code("ERR Library 'mylib' already exists") == redis_errc::library_exists));
  BOOST_TEST(
      (code("ERR This instance has cluster support disabled") == redis_errc::cluster_disabled));
  BOOST_TEST(
      (code("READONLY You can't write against a read only replica.") == redis_errc::readonly));
  BOOST_TEST((code("BUSY Redis is busy running a script.") == redis_errc::busy));
}

BOOST_AUTO_TEST_CASE(everything_else_is_other) {
  for (const char* t : {"", "ERR", "ERR ", "ERR wrong number of arguments for 'dump' command",
                        "WRONGTYPE Operation against a key holding the wrong kind of value",
                        "moved 1 h:1", "MOVEDX 1 h:1", "ERR unknown", "-ERR x"}) {
    BOOST_TEST((code(t) == redis_errc::other), t);
  }
}

BOOST_AUTO_TEST_CASE(category_names_and_messages) {
  const boost::system::error_code ec = redis_errc::noauth;
  BOOST_TEST(ec.category().name() == std::string("kage.redis"));
  BOOST_TEST(ec.message().find("NOAUTH") != std::string::npos);
  BOOST_TEST(ec == make_error_code(redis_errc::noauth));
  BOOST_TEST(ec != make_error_code(redis_errc::wrongpass));
  for (int v = static_cast<int>(redis_errc::moved); v <= static_cast<int>(redis_errc::other); ++v) {
    const auto m = make_error_code(static_cast<redis_errc>(v)).message();
    BOOST_TEST((!m.empty() && m != "Unknown Redis error."), v);
  }
}

BOOST_AUTO_TEST_SUITE_END()
