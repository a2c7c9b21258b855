#include <kage/engine/backup_controller_plan.hpp>

#include <boost/json.hpp>

#include <algorithm>

namespace kage::engine {

namespace json = boost::json;

namespace {

std::string text_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* at = &v;
  for (auto k : path) {
    const auto* o = at->if_object();
    if (!o) return {};
    at = o->if_contains(k);
    if (!at) return {};
  }
  if (const auto* s = at->if_string()) return std::string(*s);
  return {};
}

std::int64_t int_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* at = &v;
  for (auto k : path) {
    const auto* o = at->if_object();
    if (!o) return 0;
    at = o->if_contains(k);
    if (!at) return 0;
  }
  if (const auto* i = at->if_int64()) return *i;
  if (const auto* u = at->if_uint64()) return static_cast<std::int64_t>(*u);
  return 0;
}

bool terminal(std::string_view phase) {
  return phase == "Completed" || phase == "Failed";
}

}  // namespace

backup_resource backup_resource_from(const json::value& object) {
  backup_resource r;
  r.namespace_ = text_at(object, {"metadata", "namespace"});
  r.name = text_at(object, {"metadata", "name"});
  r.key = r.namespace_.empty() ? r.name : r.namespace_ + "/" + r.name;
  r.uid = text_at(object, {"metadata", "uid"});
  r.created = text_at(object, {"metadata", "creationTimestamp"});
  r.generation = int_at(object, {"metadata", "generation"});
  r.deleting = !text_at(object, {"metadata", "deletionTimestamp"}).empty();
  r.cluster_name = text_at(object, {"spec", "clusterName"});
  if (auto t = text_at(object, {"spec", "target"}); !t.empty()) r.target = t;
  if (auto m = text_at(object, {"spec", "method"}); !m.empty()) r.method = m;
  r.destination = text_at(object, {"spec", "destination"});
  r.phase = text_at(object, {"status", "phase"});
  r.pod = text_at(object, {"status", "pod"});
  return r;
}

std::string backup_spec_problem(const backup_resource& r) {
  if (r.cluster_name.empty())
    return "spec.clusterName is missing: name the Redis cluster to back up";
  if (r.destination.empty())
    return "spec.destination is missing: say where the backup goes, e.g. s3://bucket/prefix";
  if (r.target != "primary" && r.target != "prefer-replica")
    return "spec.target '" + r.target + "' is not one of primary, prefer-replica";
  if (r.method != "rdb" && r.method != "aof")
    return "spec.method '" + r.method + "' is not one of rdb, aof";
  if (r.method == "aof") return "spec.method aof is not implemented by this kage yet: use rdb";
  return {};
}

std::string_view to_string(backup_action_kind k) noexcept {
  switch (k) {
    case backup_action_kind::start:
      return "start";
    case backup_action_kind::mark_pending:
      return "mark-pending";
    case backup_action_kind::fail:
      return "fail";
    case backup_action_kind::cancel:
      return "cancel";
  }
  return "?";
}

std::string stopped_mid_backup_reason(const backup_resource& r, std::string_view identity) {
  if (r.pod.empty() || r.pod == identity)
    return "controller restarted mid-backup: the backup was not finished and is not run again; "
           "create a new RedisBackup to take one";
  return "controller " + r.pod +
         " stopped mid-backup: the backup was not finished and is not run again; create a new "
         "RedisBackup to take one";
}

std::vector<backup_action> plan_backups(const backup_plan_input& in) {
  std::vector<const backup_resource*> order;
  for (const auto& r : in.resources) order.push_back(&r);
  std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return a->created != b->created ? a->created < b->created : a->key < b->key;
  });

  std::vector<backup_action> cancels, fails, starts, pendings;
  std::set<std::string> present;
  for (const auto* r : order) present.insert(r->key);
  for (const auto& k : in.running)
    if (!present.count(k)) cancels.push_back({backup_action_kind::cancel, k, "it was deleted"});

  std::size_t busy = in.running.size();
  const std::size_t limit = static_cast<std::size_t>(std::max(1, in.max_concurrent));
  for (const auto* r : order) {
    const bool here = in.running.count(r->key) > 0;
    if (r->deleting) {
      if (here) cancels.push_back({backup_action_kind::cancel, r->key, "it is being deleted"});
      continue;
    }
    if (terminal(r->phase) || here) continue;
    if (r->phase == "Running") {
      fails.push_back(
          {backup_action_kind::fail, r->key, stopped_mid_backup_reason(*r, in.identity)});
      continue;
    }
    if (auto problem = backup_spec_problem(*r); !problem.empty()) {
      fails.push_back({backup_action_kind::fail, r->key, std::move(problem)});
      continue;
    }
    if (busy < limit) {
      ++busy;
      starts.push_back({backup_action_kind::start, r->key, "a job slot is free"});
    } else if (r->phase.empty()) {
      pendings.push_back({backup_action_kind::mark_pending, r->key,
                          "waiting: " + std::to_string(limit) + " backup(s) already running"});
    }
  }
  std::vector<backup_action> out;
  for (auto* v : {&cancels, &fails, &starts, &pendings})
    out.insert(out.end(), std::make_move_iterator(v->begin()), std::make_move_iterator(v->end()));
  return out;
}

}  // namespace kage::engine
