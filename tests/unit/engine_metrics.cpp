// Prometheus text rendering of kage run's metrics: families, labels, escaping, numbers.
#include <kage/engine/metrics.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

namespace ke = kage::engine;

BOOST_AUTO_TEST_SUITE(engine_metrics)

BOOST_AUTO_TEST_CASE(renders_families_in_declaration_order_with_labels) {
  ke::metrics_registry m;
  m.describe("kage_runs_total", "counter", "Runs by job and result.");
  m.describe("kage_build_info", "gauge", "Build information.");
  m.set("kage_build_info", {{"version", "0.1.0"}}, 1);
  m.add("kage_runs_total", {{"job", "backup"}, {"result", "success"}});
  m.add("kage_runs_total", {{"job", "backup"}, {"result", "success"}}, 2);
  m.add("kage_runs_total", {{"job", "backup"}, {"result", "failure"}});
  BOOST_TEST(m.render() ==
             "# HELP kage_runs_total Runs by job and result.\n"
             "# TYPE kage_runs_total counter\n"
             "kage_runs_total{job=\"backup\",result=\"failure\"} 1\n"
             "kage_runs_total{job=\"backup\",result=\"success\"} 3\n"
             "# HELP kage_build_info Build information.\n"
             "# TYPE kage_build_info gauge\n"
             "kage_build_info{version=\"0.1.0\"} 1\n");
  BOOST_TEST(m.value("kage_runs_total", {{"job", "backup"}, {"result", "success"}}) == 3);
  BOOST_TEST(m.value("kage_runs_total", {{"job", "restore"}, {"result", "success"}}) == 0);
}

BOOST_AUTO_TEST_CASE(a_family_without_samples_has_only_its_header) {
  ke::metrics_registry m;
  m.describe("kage_runs_in_flight", "gauge", "Jobs running now.");
  BOOST_TEST(m.render() ==
             "# HELP kage_runs_in_flight Jobs running now.\n# TYPE kage_runs_in_flight gauge\n");
  m.set("kage_runs_in_flight", {}, 0);
  BOOST_TEST(m.render().ends_with("\nkage_runs_in_flight 0\n"));
}

BOOST_AUTO_TEST_CASE(escapes_label_values_and_help) {
  ke::metrics_registry m;
  m.describe("kage_errors_total", "counter", "Errors\\by kind\nsecond line");
  m.add("kage_errors_total", {{"kind", "a\"b\\c\nd"}});
  BOOST_TEST(m.render() ==
             "# HELP kage_errors_total Errors\\\\by kind\\nsecond line\n"
             "# TYPE kage_errors_total counter\n"
             "kage_errors_total{kind=\"a\\\"b\\\\c\\nd\"} 1\n");
}

BOOST_AUTO_TEST_CASE(numbers) {
  BOOST_TEST(ke::prometheus_number(0) == "0");
  BOOST_TEST(ke::prometheus_number(1712345678) == "1712345678");
  BOOST_TEST(ke::prometheus_number(-3) == "-3");
  BOOST_TEST(ke::prometheus_number(0.25) == "0.25");
  BOOST_TEST(ke::prometheus_number(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  BOOST_TEST(ke::prometheus_number(std::numeric_limits<double>::infinity()) == "+Inf");
  BOOST_TEST(ke::prometheus_number(-std::numeric_limits<double>::infinity()) == "-Inf");
  BOOST_TEST(ke::prometheus_number(1e20) == "1e+20");
}

BOOST_AUTO_TEST_CASE(histograms_render_cumulative_buckets_sum_and_count) {
  ke::metrics_registry m;
  m.describe_histogram("kage_step_duration_seconds", "Step durations.", {1, 10});
  BOOST_TEST(m.render() ==
             "# HELP kage_step_duration_seconds Step durations.\n"
             "# TYPE kage_step_duration_seconds histogram\n");
  m.observe("kage_step_duration_seconds", {{"step", "backup"}}, 0.5);
  m.observe("kage_step_duration_seconds", {{"step", "backup"}}, 1);  // le is inclusive
  m.observe("kage_step_duration_seconds", {{"step", "backup"}}, 60);
  BOOST_TEST(m.render() ==
             "# HELP kage_step_duration_seconds Step durations.\n"
             "# TYPE kage_step_duration_seconds histogram\n"
             "kage_step_duration_seconds_bucket{step=\"backup\",le=\"1\"} 2\n"
             "kage_step_duration_seconds_bucket{step=\"backup\",le=\"10\"} 2\n"
             "kage_step_duration_seconds_bucket{step=\"backup\",le=\"+Inf\"} 3\n"
             "kage_step_duration_seconds_sum{step=\"backup\"} 61.5\n"
             "kage_step_duration_seconds_count{step=\"backup\"} 3\n");
  m.describe("kage_up", "gauge", "Up.");
  BOOST_CHECK_THROW(m.observe("kage_up", {}, 1), std::logic_error);
}

BOOST_AUTO_TEST_CASE(an_undeclared_family_is_a_programming_error) {
  ke::metrics_registry m;
  BOOST_CHECK_THROW(m.set("kage_nope", {}, 1), std::logic_error);
}

BOOST_AUTO_TEST_SUITE_END()
