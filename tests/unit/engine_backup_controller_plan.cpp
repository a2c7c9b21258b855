// The RedisBackup controller's planner, from tables of resources: what it starts, what waits,
// what it marks Failed, what it cancels, and what it must never do (run a backup twice).
#include <boost/test/unit_test.hpp>

#include <kage/engine/backup_controller_plan.hpp>

#include <boost/json.hpp>

using namespace kage::engine;

namespace {

backup_resource rb(std::string name, std::string phase, std::string created, std::string pod = {}) {
  backup_resource r;
  r.namespace_ = "redis";
  r.name = name;
  r.key = "redis/" + name;
  r.created = std::move(created);
  r.cluster_name = "cache";
  r.destination = "s3://bucket/backups";
  r.phase = std::move(phase);
  r.pod = std::move(pod);
  return r;
}

// "start:redis/a fail:redis/b" for comparing plans as text.
std::string text(const std::vector<backup_action>& plan) {
  std::string out;
  for (const auto& a : plan)
    out += (out.empty() ? "" : " ") + std::string(to_string(a.kind)) + ":" + a.key;
  return out;
}

std::vector<backup_action> plan(std::vector<backup_resource> resources,
                                std::set<std::string> running = {}, int limit = 2) {
  backup_plan_input in;
  in.resources = std::move(resources);
  in.running = std::move(running);
  in.identity = "kage-0";
  in.max_concurrent = limit;
  return plan_backups(in);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backup_controller_plan)

struct row {
  const char* what;
  std::vector<backup_resource> resources;
  std::set<std::string> running;
  int limit;
  const char* expected;
};

BOOST_AUTO_TEST_CASE(table) {
  const std::vector<row> rows = {
      {"nothing to do", {}, {}, 2, ""},
      {"a new one starts", {rb("a", "", "2026-01-01T00:00:01Z")}, {}, 2, "start:redis/a"},
      {"a Pending one starts",
       {rb("a", "Pending", "2026-01-01T00:00:01Z")},
       {},
       2,
       "start:redis/a"},
      {"oldest first up to the limit, the rest marked Pending once",
       {rb("c", "", "2026-01-01T00:00:03Z"), rb("a", "", "2026-01-01T00:00:01Z"),
        rb("b", "", "2026-01-01T00:00:02Z"), rb("d", "Pending", "2026-01-01T00:00:04Z")},
       {},
       2,
       "start:redis/a start:redis/b mark-pending:redis/c"},
      {"running jobs count against the limit",
       {rb("a", "Running", "2026-01-01T00:00:01Z", "kage-0"), rb("b", "", "2026-01-01T00:00:02Z"),
        rb("c", "", "2026-01-01T00:00:03Z")},
       {"redis/a"},
       2,
       "start:redis/b mark-pending:redis/c"},
      {"limit reached: nothing starts",
       {rb("a", "Running", "1", "kage-0"), rb("b", "Pending", "2")},
       {"redis/a"},
       1,
       ""},
      {"Completed and Failed are never run again",
       {rb("a", "Completed", "1"), rb("b", "Failed", "2")},
       {},
       2,
       ""},
      {"Running with no job here (restart): Failed, not rerun",
       {rb("a", "Running", "1", "kage-0")},
       {},
       2,
       "fail:redis/a"},
      {"Running by another controller that stopped: Failed",
       {rb("a", "Running", "1", "kage-1")},
       {},
       2,
       "fail:redis/a"},
      {"a deleted resource's job is cancelled", {}, {"redis/a"}, 2, "cancel:redis/a"},
      {"limit 0 is read as 1",
       {rb("a", "", "1"), rb("b", "", "2")},
       {},
       0,
       "start:redis/a mark-pending:redis/b"},
  };
  for (const auto& r : rows)
    BOOST_TEST(text(plan(r.resources, r.running, r.limit)) == r.expected, r.what);
}

BOOST_AUTO_TEST_CASE(being_deleted_cancels_and_never_starts) {
  auto a = rb("a", "Running", "1", "kage-0");
  a.deleting = true;
  auto b = rb("b", "", "2");
  b.deleting = true;
  BOOST_TEST(text(plan({a, b}, {"redis/a"})) == "cancel:redis/a");
}

BOOST_AUTO_TEST_CASE(bad_specs_fail_with_the_problem) {
  auto no_cluster = rb("a", "", "1");
  no_cluster.cluster_name.clear();
  auto bad_target = rb("b", "", "2");
  bad_target.target = "replica";
  auto no_dest = rb("c", "Pending", "3");
  no_dest.destination.clear();
  auto p = plan({no_cluster, bad_target, no_dest});
  BOOST_TEST(text(p) == "fail:redis/a fail:redis/b fail:redis/c");
  BOOST_TEST(p[0].reason.find("clusterName") != std::string::npos, p[0].reason);
  BOOST_TEST(p[1].reason.find("'replica'") != std::string::npos, p[1].reason);
  BOOST_TEST(p[2].reason.find("destination") != std::string::npos, p[2].reason);
}

BOOST_AUTO_TEST_CASE(restart_reason_names_who) {
  auto mine = rb("a", "Running", "1", "kage-0");
  auto theirs = rb("b", "Running", "1", "kage-7");
  BOOST_TEST(
      stopped_mid_backup_reason(mine, "kage-0").starts_with("controller restarted mid-backup"));
  BOOST_TEST(stopped_mid_backup_reason(theirs, "kage-0").starts_with("controller kage-7 stopped"));
}

BOOST_AUTO_TEST_CASE(reads_the_object) {
  const auto v = boost::json::parse(R"({"apiVersion":"redis.io/v1","kind":"RedisBackup",
    "metadata":{"name":"nightly","namespace":"prod","uid":"u-1","generation":3,
                "creationTimestamp":"2026-01-01T00:00:00Z","deletionTimestamp":"2026-01-02T00:00:00Z"},
    "spec":{"clusterName":"cache","target":"prefer-replica","method":"rdb","destination":"s3://b/p"},
    "status":{"phase":"Running","pod":"kage-0"}})");
  const auto r = backup_resource_from(v);
  BOOST_TEST(r.key == "prod/nightly");
  BOOST_TEST(r.uid == "u-1");
  BOOST_TEST(r.generation == 3);
  BOOST_TEST(r.deleting);
  BOOST_TEST(r.cluster_name == "cache");
  BOOST_TEST(r.target == "prefer-replica");
  BOOST_TEST(r.destination == "s3://b/p");
  BOOST_TEST(r.phase == "Running");
  BOOST_TEST(r.pod == "kage-0");
  const auto d = backup_resource_from(boost::json::parse(R"({"metadata":{"name":"x"}})"));
  BOOST_TEST(d.target == "primary");
  BOOST_TEST(d.method == "rdb");
  BOOST_TEST(backup_spec_problem(d).find("clusterName") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
