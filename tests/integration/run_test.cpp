// kage run: scheduled backups into S3 (moto), retention, /metrics, /readyz, graceful SIGTERM.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_moto.hpp"
#include "fixture_redis.hpp"

#include <map>
#include <thread>

using namespace kage::test;
namespace json = boost::json;

namespace {

struct http_result {
  int status = 0;
  std::string body;
};

// GET through Python's standard library (the tests already need python3 for moto).
http_result http_get(int port, const std::string& path) {
  const std::string script =
      "import sys, urllib.request, urllib.error\n"
      "try:\n"
      "    r = urllib.request.urlopen('http://127.0.0.1:" +
      std::to_string(port) + path +
      "', timeout=5)\n"
      "    s, b = r.status, r.read()\n"
      "except urllib.error.HTTPError as e:\n"
      "    s, b = e.code, e.read()\n"
      "except Exception as e:\n"
      "    s, b = 0, str(e).encode()\n"
      "sys.stdout.write(str(s) + '\\n' + b.decode())\n";
  auto r = run_process({"python3", "-c", script}, {}, std::chrono::seconds(20));
  http_result out;
  const auto nl = r.out.find('\n');
  if (nl == std::string::npos) return out;
  out.status = std::stoi(r.out.substr(0, nl));
  out.body = r.out.substr(nl + 1);
  return out;
}

// Prometheus text -> "name{labels}" -> value; comments skipped, every line must parse.
std::map<std::string, double> parse_metrics(const std::string& text) {
  std::map<std::string, double> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    BOOST_TEST_REQUIRE(space != std::string::npos, line);
    BOOST_TEST_REQUIRE(line.starts_with("kage_"), line);
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

double metric(int port, const std::string& name) {
  auto r = http_get(port, "/metrics");
  if (r.status != 200) return -1;
  auto m = parse_metrics(r.body);
  auto it = m.find(name);
  return it == m.end() ? -1 : it->second;
}

template <class F>
bool eventually(F f, std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return f();
}

std::size_t complete_backups(const std::string& location,
                             const std::map<std::string, std::string>& env) {
  auto r = run_kage({"list", "--from", location, "--json"}, env);
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  std::size_t n = 0;
  const json::value list = json::parse(r.out);
  for (const auto& b : list.as_array())
    if (b.as_object().at("complete").as_bool()) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(scheduled_backups_retention_metrics_and_readiness) {
  moto_server s3;
  redis_options node;
  node.cluster = true;
  redis_cluster cluster(3, 0, node);
  test_client c(cluster.seed());
  c.load(every_type_commands("run:", 20));

  temp_dir dir;
  const auto config = dir.file("empty.yaml");
  write_file(config, "");
  const int port = free_port();
  // The sidecar's variables and an empty config file are enough.
  auto env = s3.env();
  env["SCHEDULE_TIME"] = "1";
  env["REDIS_NODE"] = cluster.seed();
  env["S3_BUCKET_NAME"] = "kage-test";
  env["KEEP_LAST"] = "2";
  env["RESTORE_MISSING"] = "true";
  background_process run(
      {kage_binary(), "run", "--config", config, "--listen", "127.0.0.1:" + std::to_string(port),
       "--ready-interval", "1", "--log-format", "json"},
      env);

  // Retention is a run's last step: after three whole runs, the third backup deleted the first.
  BOOST_TEST_REQUIRE(
      eventually(
          [&] {
            return metric(port, "kage_runs_total{step=\"retention\",result=\"success\"}") >= 3;
          },
          std::chrono::seconds(60)),
      run.err());
  auto scrape = http_get(port, "/metrics");
  BOOST_TEST_REQUIRE(scrape.status == 200);
  auto m = parse_metrics(scrape.body);
  BOOST_TEST(m.at("kage_build_info{version=\"" KAGE_VERSION "\"}") == 1);
  const double now = static_cast<double>(std::time(nullptr));
  BOOST_TEST(m.at("kage_last_success_timestamp_seconds{step=\"backup\"}") > now - 30);
  BOOST_TEST(m.at("kage_last_backup_keys") > 0);
  BOOST_TEST(m.at("kage_backup_bytes_total") > 0);
  BOOST_TEST(m.at("kage_restore_keys_total{outcome=\"present\"}") > 0);
  BOOST_TEST(m.at("kage_retention_deleted_total") >= 1);
  BOOST_TEST(m.count("kage_runs_in_flight") == 1u);
  BOOST_TEST(m.at("kage_schedule_period_seconds{step=\"backup\"}") == 1);
  BOOST_TEST(m.at("kage_schedule_period_seconds{step=\"retention\"}") == 1);
  BOOST_TEST(m.count("kage_schedule_period_seconds{step=\"snapshot\"}") == 0u);  // kind: logical
  BOOST_TEST(m.at("kage_step_duration_seconds_count{step=\"backup\"}") >= 3);
  BOOST_TEST(m.at("kage_consecutive_failures{step=\"backup\"}") == 0);
  BOOST_TEST(m.at("kage_start_time_seconds") > now - 120);
  BOOST_TEST(http_get(port, "/healthz").status == 200);
  BOOST_TEST(http_get(port, "/readyz").status == 200);
  BOOST_TEST(http_get(port, "/nope").status == 404);

  // Readiness follows the cluster, checked in the background every second.
  auto* master = cluster.masters()[0];
  master->kill();
  BOOST_TEST(eventually([&] { return http_get(port, "/readyz").status == 503; },
                        std::chrono::seconds(30)));
  BOOST_TEST(http_get(port, "/healthz").status == 200);
  BOOST_TEST(metric(port, "kage_ready") == 0);
  master->restart();
  cluster.wait_ok();
  BOOST_TEST(eventually([&] { return http_get(port, "/readyz").status == 200; },
                        std::chrono::seconds(30)));
  BOOST_TEST(metric(port, "kage_errors_total{kind=\"redis\"}") >=
             0);  // failures are counted, not fatal
  BOOST_TEST(run.running());

  run.kill(SIGTERM);
  auto r = run.wait(std::chrono::seconds(60));
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(complete_backups("s3://kage-test", s3.env()) == 2u);
  // JSON log lines, and no secret in them.
  BOOST_TEST(r.err.find("{\"ts\":") != std::string::npos, r.err);
  BOOST_TEST(r.err.find(s3.secret_key()) == std::string::npos);
}

// A server holding ~30 MB of random values (6 parts of 5 MiB, 2 uploading at once) and an S3
// endpoint that holds every UploadPart back `delay_ms`: SIGTERM lands mid-upload.
struct slow_upload {
  moto_server s3;
  redis_server server{redis_options{}};
  s3_fault_proxy proxy;
  std::map<std::string, std::string> env;
  temp_dir dir;

  explicit slow_upload(int delay_ms) : proxy(s3, "delay-parts:" + std::to_string(delay_ms)) {
    test_client c(server.address());
    c.load(random_keys("k", 30000, 1000));
    env = s3.env();
    env["S3_ENDPOINT_URL"] = proxy.endpoint();
    env["REDIS_NODE"] = server.address();
  }

  // kage run with one backup an hour into s3://kage-test/PREFIX, started at once.
  std::string config(int grace_seconds, const std::string& prefix, const std::string& extra = "") {
    write_file(dir.file("kage.yaml"),
               "schedule:\n  every_seconds: 3600\n  shutdown_grace_seconds: " +
                   std::to_string(grace_seconds) + "\nstore:\n  location: s3://kage-test/" +
                   prefix + "\n  s3:\n    part_size_mb: 5\n    parts_in_flight: 2\n" + extra);
    return dir.file("kage.yaml");
  }
};

BOOST_AUTO_TEST_CASE(sigterm_mid_upload_cancels_after_the_grace_period) {
  slow_upload u(1000);  // 1 s per part
  auto& s3 = u.s3;
  background_process run({kage_binary(), "run", "--config", u.config(1, "term")}, u.env);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  BOOST_TEST_REQUIRE(run.running(), "kage run exited early: " + run.err());
  const auto sent = std::chrono::steady_clock::now();
  run.kill(SIGTERM);
  auto r = run.wait(std::chrono::seconds(60));
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(took < 1 + 15, took);  // the grace period plus the abort
  BOOST_TEST(r.err.find("cancel") != std::string::npos, r.err);
  BOOST_TEST(json::parse(s3.tool({"uploads"})).as_array().size() == 0u);
  BOOST_TEST(json::parse(s3.tool({"objects", "term/"})).as_array().size() == 0u);
}

BOOST_AUTO_TEST_CASE(sigterm_mid_upload_lets_the_backup_finish_within_the_grace_period) {
  slow_upload u(500);  // 0.5 s per part
  auto& s3 = u.s3;
  // An older backup, which retention (keep_last 1) must delete once the new one is complete.
  auto old =
      run_kage({"backup", "--node", u.server.address(), "--to", "s3://kage-test/finish", "--json"},
               s3.env());
  BOOST_TEST_REQUIRE(old.exit_code == 0, describe(old));
  const std::string old_id(json_result(old).at("id").as_string());
  auto env = u.env;
  env["RESTORE_MISSING"] = "true";
  background_process run({kage_binary(), "run", "--config",
                          u.config(60, "finish", "  retention:\n    keep_last: 1\n")},
                         env);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  BOOST_TEST_REQUIRE(run.running(), "kage run exited early: " + run.err());
  run.kill(SIGTERM);
  auto r = run.wait(std::chrono::seconds(60));
  BOOST_TEST(r.exit_code == 0, describe(r));
  BOOST_TEST(r.err.find("has 60 s to finish") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("cancel") == std::string::npos, r.err);
  // The backup in flight completed; restore-missing was not started, the finished backup's
  // retention was.
  BOOST_TEST(r.err.find("restore-missing from") == std::string::npos, r.err);
  BOOST_TEST(r.err.find("retention: kept 1, deleted 1") != std::string::npos, r.err);
  BOOST_TEST(json::parse(s3.tool({"uploads"})).as_array().size() == 0u);
  auto list = run_kage({"list", "--from", "s3://kage-test/finish", "--json"}, s3.env());
  BOOST_TEST_REQUIRE(list.exit_code == 0, describe(list));
  const json::value parsed = json::parse(list.out);
  BOOST_TEST_REQUIRE(parsed.as_array().size() == 1u, list.out);
  const auto& kept = parsed.as_array()[0].as_object();
  BOOST_TEST(kept.at("id").as_string() != old_id);
  BOOST_TEST(kept.at("complete").as_bool());
  BOOST_TEST(kept.at("keys").to_number<std::int64_t>() == 30000);
}

BOOST_AUTO_TEST_CASE(snapshots_and_backups_on_a_schedule) {
  moto_server s3;
  redis_options node;
  node.cluster = true;
  redis_cluster cluster(3, 0, node);
  test_client c(cluster.seed());
  c.load(every_type_commands("kind:", 5));
  temp_dir dir;
  write_file(dir.file("kage.yaml"), "schedule:\n  every_seconds: 1\n  kind: both\n");
  const int port = free_port();
  auto env = s3.env();
  env["REDIS_NODE"] = cluster.seed();
  background_process run({kage_binary(), "run", "--config", dir.file("kage.yaml"), "--to",
                          "s3://kage-test/both", "--listen", "127.0.0.1:" + std::to_string(port)},
                         env);
  BOOST_TEST_REQUIRE(
      eventually(
          [&] { return metric(port, "kage_runs_total{step=\"backup\",result=\"success\"}") >= 2; },
          std::chrono::seconds(60)),
      run.err());
  BOOST_TEST(metric(port, "kage_runs_total{step=\"snapshot\",result=\"success\"}") >= 2);
  BOOST_TEST(metric(port, "kage_s3_retries_total") == 0);
  run.kill(SIGTERM);
  auto r = run.wait(std::chrono::seconds(60));
  BOOST_TEST(r.exit_code == 0, describe(r));
  auto list = run_kage({"list", "--from", "s3://kage-test/both", "--json"}, s3.env());
  BOOST_TEST_REQUIRE(list.exit_code == 0, describe(list));
  std::size_t snapshots = 0, logical = 0;
  const json::value parsed = json::parse(list.out);
  for (const auto& b : parsed.as_array()) {
    if (!b.as_object().at("complete").as_bool()) continue;
    (b.as_object().at("kind").as_string() == "snapshot" ? snapshots : logical)++;
  }
  BOOST_TEST(snapshots >= 2u);
  BOOST_TEST(logical >= 2u);
}

BOOST_AUTO_TEST_CASE(cron_schedules_are_checked_at_start) {
  auto r =
      run_kage({"run", "--node", "127.0.0.1:1", "--to", "/tmp/nowhere", "--cron", "61 * * * *"});
  BOOST_TEST(r.exit_code == 2, describe(r));
  BOOST_TEST(r.err.find("minute") != std::string::npos, r.err);
  r = run_kage({"run", "--node", "127.0.0.1:1", "--to", "/tmp/nowhere", "--cron", "0 3 * * *",
                "--every", "60"});
  BOOST_TEST(r.exit_code == 2, describe(r));
  r = run_kage({"config", "--cron", "0 3 * * *"});
  BOOST_TEST(r.out.find("0 3 * * *") != std::string::npos, r.out);
}
