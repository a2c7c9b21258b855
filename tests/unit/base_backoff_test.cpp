// Exponential backoff with full jitter.
#include <kage/base/backoff.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <set>

using namespace std::chrono_literals;
using kage::backoff;
using kage::backoff_policy;

BOOST_AUTO_TEST_SUITE(base_backoff)

BOOST_AUTO_TEST_CASE(ceiling_doubles_up_to_the_cap) {
  const backoff_policy p{200ms, 20000ms};
  BOOST_TEST(backoff::ceiling(p, 0).count() == 200);
  BOOST_TEST(backoff::ceiling(p, 1).count() == 400);
  BOOST_TEST(backoff::ceiling(p, 2).count() == 800);
  BOOST_TEST(backoff::ceiling(p, 6).count() == 12800);
  BOOST_TEST(backoff::ceiling(p, 7).count() == 20000);
  BOOST_TEST(backoff::ceiling(p, 1000).count() == 20000);
  // Never overflows, whatever the base.
  const backoff_policy huge{std::chrono::milliseconds(1LL << 60),
                            std::chrono::milliseconds(1LL << 62)};
  BOOST_TEST(backoff::ceiling(huge, 40).count() == (1LL << 62));
  // The scheduler's policy: 1 s doubling, at most 300 s.
  const backoff_policy run{1000ms, 300000ms};
  BOOST_TEST(backoff::ceiling(run, 0).count() == 1000);
  BOOST_TEST(backoff::ceiling(run, 8).count() == 256000);
  BOOST_TEST(backoff::ceiling(run, 9).count() == 300000);
}

BOOST_AUTO_TEST_CASE(delays_are_spread_over_the_whole_range) {
  backoff b(backoff_policy{100ms, 10000ms}, 42);
  std::set<long long> seen;
  long long lowest = 1 << 30, highest = -1;
  for (int i = 0; i < 2000; ++i) {
    const long long d = b.delay(3).count();  // within [0, 800]
    BOOST_TEST_REQUIRE(d >= 0);
    BOOST_TEST_REQUIRE(d <= 800);
    lowest = std::min(lowest, d);
    highest = std::max(highest, d);
    seen.insert(d);
  }
  // Full jitter: both ends of the range are reached and the draws are not all alike.
  BOOST_TEST(lowest < 50);
  BOOST_TEST(highest > 750);
  BOOST_TEST(seen.size() > 400u);
}

BOOST_AUTO_TEST_CASE(same_seed_same_delays) {
  backoff a(backoff_policy{100ms, 10000ms}, 7), b(backoff_policy{100ms, 10000ms}, 7);
  for (int attempt = 1; attempt < 10; ++attempt)
    BOOST_TEST(a.delay(attempt).count() == b.delay(attempt).count());
}

BOOST_AUTO_TEST_CASE(zero_cap_means_no_wait) {
  backoff b(backoff_policy{100ms, 0ms}, 1);
  for (int attempt = 1; attempt < 5; ++attempt) BOOST_TEST(b.delay(attempt).count() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
