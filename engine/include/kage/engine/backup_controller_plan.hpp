#pragma once
// The RedisBackup controller's planner: pure (the resources as the cache shows them, the jobs
// this process runs, its identity and limit in; actions with their reasons out), so every rule
// is checked by a table test without an API server.
//
// Rules, in order, for each resource (oldest first):
//   - deleted, or being deleted, while its job runs here: cancel the job;
//   - Completed or Failed: nothing, ever (a backup runs once);
//   - Running and its job runs here: nothing;
//   - Running and no job runs here: the controller that ran it stopped mid-backup (this one,
//     restarted, or another that lost its Lease): mark it Failed with that reason, never rerun;
//   - new or Pending with a spec that cannot run: Failed with the problem;
//   - new or Pending: start while fewer than max_concurrent jobs run; the rest wait as Pending
//     (a new one is marked Pending once, so `kubectl get rb` says it waits).
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace boost::json {
class value;
}

namespace kage::engine {

// A RedisBackup as the planner needs it.
struct backup_resource {
  std::string key;  // "namespace/name"
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string created;  // metadata.creationTimestamp (RFC 3339 sorts as text)
  std::int64_t generation = 0;
  bool deleting = false;  // metadata.deletionTimestamp set
  // spec
  std::string cluster_name;
  std::string target = "primary";  // primary | prefer-replica
  std::string method = "rdb";      // rdb | aof
  std::string destination;
  // status
  std::string phase;  // "" (new), Pending, Running, Completed, Failed
  std::string pod;    // status.pod: the controller that ran it
};

// Reads a RedisBackup object; missing fields stay at their defaults.
backup_resource backup_resource_from(const boost::json::value& object);

// Why a spec cannot run ("" when it can): a missing clusterName or destination, an unknown
// target or method, a method this kage does not implement.
std::string backup_spec_problem(const backup_resource& r);

enum class backup_action_kind {
  start,         // patch Running, run the job
  mark_pending,  // patch Pending (waits for a free slot)
  fail,          // patch Failed with the reason
  cancel,        // cancel the job running here (the resource is gone or going)
};
std::string_view to_string(backup_action_kind k) noexcept;

struct backup_action {
  backup_action_kind kind;
  std::string key;
  std::string reason;
};

struct backup_plan_input {
  std::vector<backup_resource> resources;
  std::set<std::string> running;  // keys ("namespace/name") of the jobs this process runs
  std::string identity;           // this controller (status.pod of what it runs)
  int max_concurrent = 2;         // at least 1
};

// The actions, cancels first, then failures, then starts (oldest first), then pendings.
std::vector<backup_action> plan_backups(const backup_plan_input& in);

// The reason a Running resource no job runs here is marked Failed.
std::string stopped_mid_backup_reason(const backup_resource& r, std::string_view identity);

}  // namespace kage::engine
