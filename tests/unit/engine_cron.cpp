#include <boost/test/unit_test.hpp>

#include <kage/engine/cron.hpp>

using kage::engine::cron_schedule;

namespace {

cron_schedule parse(const char* text) {
  std::string error;
  auto c = cron_schedule::parse(text, &error);
  BOOST_TEST_REQUIRE(c.has_value(), error);
  return *c;
}

// 2026-11-22T04:13:20Z (a Sunday)
constexpr std::int64_t t0 = 1795320800;

}  // namespace

BOOST_AUTO_TEST_SUITE(engine_cron)

BOOST_AUTO_TEST_CASE(next_fire_times) {
  BOOST_TEST(parse("* * * * *").next_after(t0) == t0 - 20 + 60);                    // 04:14
  BOOST_TEST(parse("*/15 * * * *").next_after(t0) == t0 - 13 * 60 - 20 + 15 * 60);  // 04:15
  BOOST_TEST(parse("0 3 * * *").next_after(t0) == 1795402800);                      // 11-23 03:00
  BOOST_TEST(parse("30 4 * * *").next_after(t0) == t0 - 13 * 60 - 20 + 30 * 60);    // 04:30 today
  BOOST_TEST(parse("0 0 1 * *").next_after(t0) == 1796083200);                      // 12-01 00:00
  BOOST_TEST(parse("0 12 * * 1").next_after(t0) == 1795435200);      // Mon 11-23 12:00
  BOOST_TEST(parse("0 12 * * 7").next_after(t0) == 1795348800);      // Sun (7) today 12:00
  BOOST_TEST(parse("0 0 1 1 *").next_after(t0) == 1798761600);       // 2027-01-01
  BOOST_TEST(parse("5,10 1-2 * * *").next_after(t0) == 1795395900);  // 11-23 01:05
}

BOOST_AUTO_TEST_CASE(bad_expressions_name_the_field) {
  std::string error;
  BOOST_TEST(!cron_schedule::parse("* * * *", &error));
  BOOST_TEST(error.find("5 fields") != std::string::npos, error);
  BOOST_TEST(!cron_schedule::parse("60 * * * *", &error));
  BOOST_TEST(error.find("minute") != std::string::npos, error);
  BOOST_TEST(!cron_schedule::parse("* 24 * * *", &error));
  BOOST_TEST(!cron_schedule::parse("* * 0 * *", &error));
  BOOST_TEST(!cron_schedule::parse("* * * 13 *", &error));
  BOOST_TEST(!cron_schedule::parse("* * * * 8", &error));
  BOOST_TEST(!cron_schedule::parse("*/0 * * * *", &error));
  BOOST_TEST(!cron_schedule::parse("a * * * *", &error));
}

BOOST_AUTO_TEST_CASE(huge_steps_do_not_overflow) {
  // Issue 14 (fuzz_cron): the step loop overflowed int (UBSan; in a plain build bitset::set
  // then threw std::out_of_range out of parse()).
  BOOST_TEST(parse("5/2147483647 * * * *").next_after(t0) == t0 - 13 * 60 - 20 + 65 * 60);  // 05:05
  BOOST_TEST(parse("0-59/2147483647 */2147483647 * * *").next_after(t0) == 1795392000);
  BOOST_TEST(parse("* * 31/2147483646 * *").next_after(t0) == 1798675200);  // 12-31 00:00
}

BOOST_AUTO_TEST_SUITE_END()
