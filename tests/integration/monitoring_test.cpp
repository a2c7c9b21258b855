// k8s/deploy/monitoring: the rules pass promtool's checks and unit tests, the PrometheusRule
// and the dashboard are sound, every metric they use is one kage run exports, and each
// dashboard panel has data in a real Prometheus (Debian's `prometheus`, on loopback) scraping a
// kage run with a 2 s schedule. The checks themselves are in tests/common/monitoring_check.py.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_process.hpp"
#include "fixture_redis.hpp"

#include <filesystem>
#include <thread>

using namespace kage::test;

namespace {

std::string monitoring_dir() {
  return source_dir() + "/k8s/deploy/monitoring";
}
std::string checker() {
  return source_dir() + "/tests/common/monitoring_check.py";
}

process_result check(const std::vector<std::string>& args,
                     std::chrono::seconds deadline = std::chrono::seconds(60)) {
  std::vector<std::string> argv{"python3", checker()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {}, deadline);
}

void require_promtool() {
  BOOST_TEST_REQUIRE(
      run_process({"sh", "-c", "command -v promtool && command -v prometheus"}).exit_code == 0,
      "promtool and prometheus are missing: run tools/install-deps.sh");
}

template <class F>
bool eventually(F f, std::chrono::seconds deadline, std::chrono::milliseconds step) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(step);
  }
  return f();
}

// kage's /metrics at `port`, once it answers, saved to `path`; false when it never did.
bool scrape_to_file(int port, const std::string& path) {
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  return eventually(
      [&] {
        return run_process({"python3", "-c",
                            "import sys, urllib.request\n"
                            "open(sys.argv[2], 'wb').write(urllib.request.urlopen(sys.argv[1], "
                            "timeout=5).read())\n",
                            url, path},
                           {}, std::chrono::seconds(20))
                   .exit_code == 0;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(250));
}

// A kage run over a 3-master cluster into a local directory: every 2 s a snapshot and a
// backup, restore-missing and retention, so every step and metric has samples.
struct running_kage {
  redis_cluster cluster{3, 0, [] {
                          redis_options o;
                          o.cluster = true;
                          return o;
                        }()};
  temp_dir dir{"monitoring"};
  int port = free_port();
  background_process run;

  running_kage() {
    test_client c(cluster.seed());
    c.load(every_type_commands("mon:", 20));
    write_file(dir.file("kage.yaml"), "redis:\n  nodes: [" + cluster.seed() +
                                          "]\n"
                                          "store:\n  location: " +
                                          dir.file("store") +
                                          "\n  retention:\n    keep_last: 2\n"
                                          "schedule:\n  every_seconds: 2\n  kind: both\n"
                                          "restore:\n  missing_after_backup: true\n"
                                          "http:\n  listen: 127.0.0.1:" +
                                          std::to_string(port) + "\n  ready_check_seconds: 1\n");
    run.start({kage_binary(), "run", "--config", dir.file("kage.yaml")});
  }

  // /metrics saved to a file; "" when it never answered.
  std::string scrape_to_file() {
    const std::string path = dir.file("metrics.txt");
    return ::scrape_to_file(port, path) ? path : "";
  }
};

// Replaces every `from` in the file with `to`, into a new file; fails the test if absent.
std::string mutated_copy(const std::string& path, const std::string& from, const std::string& to,
                         const std::string& out) {
  std::string text = read_file(path);
  const auto at = text.find(from);
  BOOST_TEST_REQUIRE(at != std::string::npos, from + " not in " + path);
  text.replace(at, from.size(), to);
  write_file(out, text);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(rules_pass_promtool_and_their_unit_tests) {
  require_promtool();
  const auto rules = monitoring_dir() + "/kage.rules.yaml";
  auto r = run_process({"promtool", "check", "rules", rules});
  BOOST_TEST(r.exit_code == 0, describe(r));
  r = run_process({"promtool", "test", "rules", monitoring_dir() + "/tests/rules_test.yaml"}, {},
                  std::chrono::seconds(120));
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(contains(r.out + r.err, "SUCCESS"), describe(r));

  // The PrometheusRule carries the same groups, and the check notices when it does not.
  r = check({"same", rules, monitoring_dir() + "/prometheusrule.yaml"});
  BOOST_TEST(r.exit_code == 0, describe(r));
  temp_dir dir;
  r = check({"same", rules,
             mutated_copy(monitoring_dir() + "/prometheusrule.yaml", ">= 3", ">= 4",
                          dir.file("prometheusrule.yaml"))});
  BOOST_TEST(r.exit_code == 1, describe(r));

  // An alert that no longer fires where the unit tests expect it fails them.
  const auto broken = mutated_copy(rules, "for: 10m", "for: 30m", dir.file("kage.rules.yaml"));
  std::filesystem::create_directory(dir.file("tests"));
  std::filesystem::copy_file(monitoring_dir() + "/tests/rules_test.yaml",
                             dir.file("tests/rules_test.yaml"));
  r = run_process({"promtool", "test", "rules", dir.file("tests/rules_test.yaml")}, {},
                  std::chrono::seconds(120));
  BOOST_TEST(r.exit_code != 0, describe(r));
  BOOST_TEST(contains(r.out + r.err, "KageBackupTooOld"), describe(r));
}

BOOST_AUTO_TEST_CASE(dashboard_is_valid_json_with_a_datasource_and_selectors) {
  const auto dashboard = monitoring_dir() + "/kage-dashboard.json";
  auto r = check({"dashboard", dashboard});
  BOOST_TEST(r.exit_code == 0, describe(r));
  temp_dir dir;
  r = check({"dashboard", mutated_copy(dashboard, "\"uid\": \"${datasource}\"",
                                       "\"uid\": \"prometheus\"", dir.file("d.json"))});
  BOOST_TEST(r.exit_code == 1, describe(r));
  // kubectl renders the kustomization, dashboard ConfigMap included (when kubectl is there).
  if (run_process({"sh", "-c", "command -v kubectl"}).exit_code == 0) {
    r = run_process({"kubectl", "kustomize", monitoring_dir()});
    BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
    for (const std::string kind : {"kind: PodMonitor", "kind: PrometheusRule", "kind: ConfigMap",
                                   "grafana_dashboard: \"1\"", "kage-dashboard.json: |"})
      BOOST_TEST(contains(r.out, kind), kind);
  }
}

// A metric renamed in kage breaks this test, not the pager.
BOOST_AUTO_TEST_CASE(every_metric_the_rules_and_dashboard_use_is_exported_by_kage_run) {
  running_kage k;
  const std::string metrics = k.scrape_to_file();
  BOOST_TEST_REQUIRE(!metrics.empty(), "kage run never served /metrics: " + k.run.err());
  const auto rules = monitoring_dir() + "/kage.rules.yaml";
  const auto dashboard = monitoring_dir() + "/kage-dashboard.json";
  auto r = check({"names", metrics, rules, dashboard});
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST_MESSAGE(r.out);
  r = check({"names", metrics, monitoring_dir() + "/prometheusrule.yaml", dashboard});
  BOOST_TEST(r.exit_code == 0, describe(r));

  // A name kage does not export, in a rule or in a panel, is reported.
  r = check({"names", metrics,
             mutated_copy(rules, "kage_ready == 0", "kage_readiness == 0", k.dir.file("r.yaml")),
             dashboard});
  BOOST_TEST(r.exit_code == 1, describe(r));
  BOOST_TEST(contains(r.out, "KageNotReady: kage_readiness"), describe(r));
  r = check({"names", metrics, rules,
             mutated_copy(dashboard, "kage_last_backup_bytes{", "kage_backup_bytes{",
                          k.dir.file("d.json"))});
  BOOST_TEST(r.exit_code == 1, describe(r));
  BOOST_TEST(contains(r.out, "kage_backup_bytes is not"), describe(r));
  k.run.kill(SIGTERM);
  auto stopped = k.run.wait(std::chrono::seconds(60));
  BOOST_TEST(stopped.exit_code == 0, describe(stopped));
}

BOOST_AUTO_TEST_CASE(every_dashboard_panel_has_data_in_a_prometheus_scraping_kage_run) {
  require_promtool();
  running_kage k;
  const int prom_port = free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(prom_port);
  const std::string instance = "127.0.0.1:" + std::to_string(k.port);
  write_file(k.dir.file("prometheus.yml"),
             "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
             "rule_files:\n  - " +
                 monitoring_dir() +
                 "/kage.rules.yaml\n"
                 "scrape_configs:\n  - job_name: kage\n    static_configs:\n"
                 "      - targets: ['" +
                 instance + "']\n        labels: {namespace: test}\n");
  background_process prometheus({"prometheus", "--config.file=" + k.dir.file("prometheus.yml"),
                                 "--storage.tsdb.path=" + k.dir.file("tsdb"),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(prom_port),
                                 "--log.level=warn"});
  BOOST_TEST_REQUIRE(eventually(
                         [&] {
                           return check({"ready", url}).exit_code == 0;
                         },
                         std::chrono::seconds(60), std::chrono::milliseconds(500)),
                     "prometheus did not get ready: " + prometheus.err());

  // Grafana's variables as a user would pick them; rate windows of 10 s with 1 s scrapes.
  const std::vector<std::string> panels{"panels",
                                        monitoring_dir() + "/kage-dashboard.json",
                                        url,
                                        "namespace=test",
                                        "job=kage",
                                        "instance=" + instance,
                                        "__rate_interval=10s",
                                        "__range=60s"};
  process_result last;
  const bool all_data = eventually(
      [&] {
        last = check(panels);
        return last.exit_code == 0;
      },
      std::chrono::seconds(120), std::chrono::seconds(5));
  BOOST_TEST(all_data,
             describe(last) + "\nkage: " + k.run.err() + "\nprometheus: " + prometheus.err());
  BOOST_TEST_MESSAGE(last.out);
  // A panel whose query has no data is reported.
  auto broken = panels;
  broken[1] = mutated_copy(panels[1], "kage_last_backup_bytes{", "kage_backup_bytes{",
                           k.dir.file("d.json"));
  auto r = check(broken);
  BOOST_TEST(r.exit_code == 1, describe(r));
  BOOST_TEST(contains(r.out, "no data for kage_backup_bytes{"), describe(r));

  // Every rule evaluates against the real series without error, and nothing fires.
  r = check({"rules", url});
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST_MESSAGE(r.out);
  // KageBackupTooOld's comparison, inverted, holds for both scheduled kinds of a healthy kage:
  // its two sides are real series whose labels match.
  r = check({"query", url,
             "kage:last_success_age_seconds{step=~\"backup|snapshot\"} "
             "< 2 * kage_schedule_period_seconds{step=~\"backup|snapshot\"}",
             "2"});
  BOOST_TEST(r.exit_code == 0, describe(r));

  prometheus.kill(SIGTERM);
  prometheus.wait(std::chrono::seconds(30));
  k.run.kill(SIGTERM);
  auto stopped = k.run.wait(std::chrono::seconds(60));
  BOOST_TEST(stopped.exit_code == 0, describe(stopped));
}

// With cron, "the schedule's period" is the longest gap between its times: 3 days for a
// weekday-only schedule (Friday to Monday), so KageBackupTooOld does not fire every weekend.
BOOST_AUTO_TEST_CASE(a_cron_schedule_exports_its_longest_gap_as_the_period) {
  temp_dir dir;
  const int port = free_port();
  background_process run({kage_binary(), "run", "--node", "127.0.0.1:1", "--to", dir.file("store"),
                          "--cron", "0 3 * * 1-5", "--listen",
                          "127.0.0.1:" + std::to_string(port)});
  const std::string path = dir.file("metrics.txt");
  BOOST_TEST_REQUIRE(scrape_to_file(port, path), run.err());
  const std::string metrics = read_file(path);
  BOOST_TEST(contains(metrics, "kage_schedule_period_seconds{step=\"backup\"} 259200\n"), metrics);
  run.kill(SIGTERM);
  auto r = run.wait(std::chrono::seconds(60));
  BOOST_TEST(r.exit_code == 0, describe(r));
}
