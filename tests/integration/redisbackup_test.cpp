// kage controller end to end: the fake API server lists six redis-server "pods" (127.0.0.x, one
// port, labelled app.kubernetes.io/instance=cache), moto_server is the object store, and a
// RedisBackup applied with kubectl ends Completed with a status that matches the objects in S3;
// a master killed mid-backup ends Failed with the error; a controller killed mid-backup and
// started again marks the backup Failed and never runs it twice; SIGTERM marks it Failed too.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "fixture_kube.hpp"
#include "fixture_moto.hpp"
#include "fixture_redis.hpp"

#include <boost/json.hpp>

#include <functional>
#include <map>
#include <thread>

using namespace kage::test;
using namespace std::chrono_literals;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

namespace {

void wait_until(const std::string& what, const std::function<bool()>& done,
                std::chrono::seconds deadline, const std::function<std::string()>& why = {}) {
  const auto until = steady::now() + deadline;
  while (!done()) {
    if (steady::now() > until) BOOST_FAIL("timed out waiting: " + what + (why ? "\n" + why() : ""));
    std::this_thread::sleep_for(100ms);
  }
}

std::vector<std::string> hosts(int count) {
  std::vector<std::string> h;
  for (int i = 0; i < count; ++i) h.push_back("127.0.0." + std::to_string(141 + i));
  return h;
}

redis_options pod_options() {
  redis_options o = cluster_node();
  o.port = free_port();
  return o;
}

struct world {
  fake_kube kube;
  std::string kubeconfig = kube.write_kubeconfig("kubeconfig", R"("token": "test-token")");
  moto_server s3;
  redis_cluster cluster;
  int port = cluster.options().port;
  background_process controller;

  // replicas: per master (prefer-replica needs them; the failure cases start faster without).
  explicit world(int replicas = 1)
      : cluster(3, replicas, pod_options(), hosts(3 * (1 + replicas))) {
    for (int k = 0; k < 300; ++k)
      cluster.cli({"SET", "key:" + std::to_string(k), std::to_string(k)});
    int i = 0;
    for (auto* n : cluster.nodes()) {
      kube.control("add_pod",
                   R"({"name": "cache-)" + std::to_string(i++) +
                       R"(", "labels": {"app.kubernetes.io/instance": "cache"}, "podIP": ")" +
                       n->host() + R"(", "ready": true})");
    }
  }

  std::map<std::string, std::string> env() const {
    auto e = s3.env();
    e["KUBECONFIG"] = kubeconfig;
    return e;
  }

  void start_controller(const std::string& max_concurrent = "2") {
    std::vector<std::string> argv{kage_binary(),      "controller",   "--namespace",
                                  "default",          "--redis-port", std::to_string(port),
                                  "--lease",          "off",          "--identity",
                                  "kage-ctl-0",       "--log-level",  "debug",
                                  "--max-concurrent", max_concurrent};
    controller = background_process(argv, env());
  }

  process_result kubectl(const std::vector<std::string>& args, const std::string& in = {}) {
    std::vector<std::string> argv{"kubectl", "--kubeconfig", kubeconfig, "--cache-dir",
                                  kube.dir() + "/kubectl-cache"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, {}, std::chrono::seconds(60), in);
  }

  void apply(const std::string& name, const std::string& target) {
    const std::string yaml =
        "apiVersion: redis.io/v1\nkind: RedisBackup\nmetadata:\n  name: " + name +
        "\nspec:\n  clusterName: cache\n  target: " + target +
        "\n  method: rdb\n  destination: s3://kage-test/rb\n";
    auto r = kubectl({"apply", "-f", "-"}, yaml);
    BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  }

  json::object get(const std::string& name) {
    auto r = kubectl({"get", "rb", name, "-o", "json"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
    return json::parse(r.out).as_object();
  }

  static std::string phase(const json::object& o) {
    const auto* st = o.if_contains("status");
    if (!st || !st->is_object()) return "";
    const auto* p = st->as_object().if_contains("phase");
    return p && p->is_string() ? std::string(p->as_string()) : "";
  }

  json::object wait_phase(const std::string& name, const std::vector<std::string>& phases,
                          std::chrono::seconds deadline) {
    json::object last;
    wait_until(
        name + " reaches " + phases.front(),
        [&] {
          last = get(name);
          for (const auto& p : phases)
            if (phase(last) == p) return true;
          return false;
        },
        deadline, [&] { return json::serialize(last) + "\n" + controller.err(); });
    return last;
  }

  json::array objects(const std::string& prefix) const {
    return json::parse(s3.tool({"objects", prefix})).as_array();
  }
};

std::string text(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(rdb_prefer_replica_completes_and_matches_s3) {
  world w;
  w.start_controller();
  w.apply("once", "prefer-replica");
  auto rb = w.wait_phase("once", {"Completed", "Failed"}, 60s);
  BOOST_TEST_REQUIRE(world::phase(rb) == "Completed", json::serialize(rb) + w.controller.err());
  const auto& st = rb.at("status").as_object();
  BOOST_TEST(text(st, "pod") == "kage-ctl-0");
  BOOST_TEST(text(st, "format") == "rdb");
  BOOST_TEST(!text(st, "startTime").empty());
  BOOST_TEST(!text(st, "completionTime").empty());
  const std::string path = text(st, "backupPath");
  BOOST_TEST_REQUIRE(path.starts_with("s3://kage-test/rb/"), path);
  const std::string id = path.substr(std::string("s3://kage-test/rb/").size());

  // Size, path and SHA-256 as boto3 reads the objects.
  std::uint64_t rdb_bytes = 0;
  std::string manifest_sha;
  std::map<std::string, std::string> sha_of;
  for (const auto& o : w.objects("rb/" + id + "/")) {
    const std::string key(o.at("key").as_string());
    sha_of[key] = std::string(o.at("sha256").as_string());
    if (key.ends_with(".rdb")) rdb_bytes += static_cast<std::uint64_t>(o.at("size").as_int64());
    if (key.ends_with("/manifest.json")) manifest_sha = std::string(o.at("sha256").as_string());
  }
  BOOST_TEST(st.at("backupSize").to_number<std::uint64_t>() == rdb_bytes);
  BOOST_TEST(text(st, "checksumSHA256") == manifest_sha);
  const auto& shards = st.at("shards").as_array();
  BOOST_TEST(shards.size() == 3u);
  for (const auto& s : shards) {
    const auto& so = s.as_object();
    BOOST_TEST(text(so, "role") == "replica");  // prefer-replica, every replica healthy
    BOOST_TEST(text(so, "pod").starts_with("cache-"));
    const std::string key = text(so, "path").substr(std::string("s3://kage-test/").size());
    BOOST_TEST(sha_of[key] == text(so, "checksumSHA256"), key);
  }
  BOOST_TEST(contains(json::serialize(st.at("conditions")), "BackupCompleted"));

  // kage verify and kage fetch take status.backupPath as it is.
  auto v = run_kage({"verify", "--from", path}, w.s3.env());
  BOOST_TEST(v.exit_code == 0, describe(v));
  temp_dir data;
  auto* m0 = w.cluster.masters().front();
  auto f =
      run_kage({"fetch", "--from", path, "--node-id", w.cluster.node_id(*m0), "--to", data.path()},
               w.s3.env());
  BOOST_TEST(f.exit_code == 0, describe(f));

  // kubectl shows the columns; the Events say what happened.
  auto g = w.kubectl({"get", "rb"});
  BOOST_TEST((contains(g.out, "PHASE") && contains(g.out, "SIZE") && contains(g.out, "PATH")),
             g.out);
  BOOST_TEST((contains(g.out, "Completed") && contains(g.out, path)), g.out);
  auto ev = w.kubectl({"get", "events"});
  BOOST_TEST((contains(ev.out, "BackupStarted") && contains(ev.out, "BackupCompleted")), ev.out);
}

BOOST_AUTO_TEST_CASE(master_killed_mid_backup_fails_with_the_error) {
  world w(0);
  // 30 ms per key, ~3 s per shard: time to kill a master while its RDB streams.
  for (auto* m : w.cluster.masters()) m->cli({"CONFIG", "SET", "rdb-key-save-delay", "30000"});
  w.start_controller();
  w.apply("slow", "primary");
  w.apply("gone", "primary");
  w.wait_phase("slow", {"Running"}, 30s);
  w.wait_phase("gone", {"Running"}, 30s);  // two at once (--max-concurrent 2)
  // Deleting a RedisBackup cancels its backup.
  auto d = w.kubectl({"delete", "rb", "gone"});
  BOOST_TEST_REQUIRE(d.exit_code == 0, describe(d));
  BOOST_TEST(
      w.controller.wait_for_output("RedisBackup default/gone was deleted: its backup stopped", 10s),
      w.controller.err());
  // Its committed RDBs were removed: the cleanup itself is not cancelled with the job.
  std::this_thread::sleep_for(1s);
  BOOST_TEST(!contains(w.controller.err(), "cleanup of the abandoned snapshot failed"),
             w.controller.err());
  w.cluster.masters().front()->kill();
  auto rb = w.wait_phase("slow", {"Completed", "Failed"}, 60s);
  BOOST_TEST(world::phase(rb) == "Failed", json::serialize(rb));
  BOOST_TEST(!text(rb.at("status").as_object(), "error").empty(), json::serialize(rb));
  BOOST_TEST_MESSAGE("error: " + text(rb.at("status").as_object(), "error"));
  for (const auto& o : w.objects("rb/"))
    BOOST_TEST(!std::string(o.at("key").as_string()).ends_with("manifest.json"));
}

BOOST_AUTO_TEST_CASE(controller_killed_mid_backup_never_runs_it_twice) {
  world w(0);
  for (auto* m : w.cluster.masters()) m->cli({"CONFIG", "SET", "rdb-key-save-delay", "30000"});
  w.start_controller("1");
  w.apply("interrupted", "primary");
  auto running = w.wait_phase("interrupted", {"Running"}, 30s);
  w.apply("queued", "primary");
  w.wait_phase("queued", {"Pending"}, 30s);  // --max-concurrent 1: it waits
  const std::string started = text(running.at("status").as_object(), "startTime");
  w.controller.kill();  // SIGKILL: no chance to write anything
  w.controller.wait();
  for (auto* m : w.cluster.masters()) m->cli({"CONFIG", "SET", "rdb-key-save-delay", "0"});
  w.start_controller("1");
  auto rb = w.wait_phase("interrupted", {"Completed", "Failed"}, 30s);
  const auto& st = rb.at("status").as_object();
  BOOST_TEST(world::phase(rb) == "Failed", json::serialize(rb));
  BOOST_TEST(contains(text(st, "error"), "controller restarted mid-backup"), json::serialize(rb));
  BOOST_TEST(text(st, "startTime") == started);  // not started again
  // The one that waited runs now: the controller is healthy after the restart.
  auto queued = w.wait_phase("queued", {"Completed", "Failed"}, 60s);
  BOOST_TEST_REQUIRE(world::phase(queued) == "Completed", json::serialize(queued));
  BOOST_TEST(world::phase(w.get("interrupted")) == "Failed");
  // One complete backup in S3, the queued one's: the interrupted one left none and ran once.
  const std::string path = text(queued.at("status").as_object(), "backupPath");
  std::vector<std::string> manifests;
  for (const auto& o : w.objects("rb/"))
    if (std::string(o.at("key").as_string()).ends_with("manifest.json"))
      manifests.emplace_back(o.at("key").as_string());
  BOOST_TEST_REQUIRE(manifests.size() == 1u);
  BOOST_TEST("s3://kage-test/" + manifests[0] == path + "/manifest.json");

  // SIGTERM mid-backup: the backup is marked Failed, saying so, and kage exits 0.
  for (auto* m : w.cluster.masters()) m->cli({"CONFIG", "SET", "rdb-key-save-delay", "30000"});
  w.apply("stopped", "primary");
  w.wait_phase("stopped", {"Running"}, 30s);
  w.controller.kill(SIGTERM);
  auto r = w.controller.wait(30s);
  BOOST_TEST(r.exit_code == 0, describe(r));
  auto stopped = w.get("stopped");
  BOOST_TEST(world::phase(stopped) == "Failed", json::serialize(stopped));
  BOOST_TEST(
      contains(text(stopped.at("status").as_object(), "error"), "kage-ctl-0 stopped mid-backup"),
      json::serialize(stopped));
}
