// Sentinel's +switch-master message as kage reads it.
#include <boost/test/unit_test.hpp>

#include "switch_watch.hpp"

using namespace kage::engine;

BOOST_AUTO_TEST_SUITE(switch_watch_messages)

BOOST_AUTO_TEST_CASE(a_switch_master_message_names_the_master_and_both_addresses) {
  auto m = parse_switch_master("mymaster 127.0.0.1 6379 127.0.0.2 6380");
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->name == "mymaster");
  BOOST_TEST(m->from.address() == "127.0.0.1:6379");
  BOOST_TEST(m->to.address() == "127.0.0.2:6380");
  auto v6 = parse_switch_master("m ::1 7000 ::1 7001");
  BOOST_TEST_REQUIRE(v6.has_value());
  BOOST_TEST(v6->to.address() == "[::1]:7001");
}

BOOST_AUTO_TEST_CASE(anything_else_is_not_a_switch) {
  for (const char* bad : {"", "mymaster", "mymaster 1.2.3.4 6379 1.2.3.5", "m a b c d",
                          "m 1.2.3.4 6379 1.2.3.5 6380 extra", "m 1.2.3.4 0 1.2.3.5 6380"}) {
    BOOST_TEST(!parse_switch_master(bad).has_value(), bad);
  }
}

// Found writing fuzz_sentinel: the old parser cast the port with std::from_chars to uint16_t,
// so 65537 became port 1, -1 became 65535, and "6379x" was 6379.
BOOST_AUTO_TEST_CASE(a_port_is_the_whole_word_and_within_1_to_65535) {
  for (const char* bad :
       {"m 1.2.3.4 65537 1.2.3.5 6380", "m 1.2.3.4 -1 1.2.3.5 6380", "m 1.2.3.4 6379x 1.2.3.5 6380",
        "m 1.2.3.4 6379 1.2.3.5 70000", "m 1.2.3.4 6379 1.2.3.5 +6380"}) {
    BOOST_TEST(!parse_switch_master(bad).has_value(), bad);
  }
  auto m = parse_switch_master("m\t1.2.3.4  65535 1.2.3.5 1\r\n");
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->from.port == 65535);
  BOOST_TEST(m->to.port == 1);
}

BOOST_AUTO_TEST_CASE(a_switch_to_the_primary_followed_is_old_news) {
  switch_watch w;
  w.following = {"127.0.0.2", 6380};
  BOOST_TEST(!w.moved());
  w.to = kage::endpoint{"127.0.0.2", 6380};
  BOOST_TEST(!w.moved());
  w.to = kage::endpoint{"127.0.0.3", 6381};
  BOOST_TEST(w.moved());
}

BOOST_AUTO_TEST_SUITE_END()
