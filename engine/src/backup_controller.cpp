#include <kage/engine/backup_controller.hpp>

#include "clock.hpp"

#include <kage/base/error.hpp>
#include <kage/engine/snapshot.hpp>
#include <kage/k8s/reflector.hpp>
#include <kage/storage/backup_id.hpp>
#include <kage/storage/manifest.hpp>
#include <kage/storage/sha256.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json.hpp>

namespace kage::engine {

namespace json = boost::json;

struct backup_controller::job {
  std::string uid;
  asio::cancellation_signal cancel;
  bool deleted = false;   // cancelled because the resource went away: no status to write
  bool stopping = false;  // cancelled because the controller stops (SIGTERM, lost Lease)
  bool done = false;
};

namespace {

std::string now_text() {
  return storage::rfc3339_ms(unix_ms());
}

json::array condition(std::string type, std::string reason, std::string message,
                      std::int64_t generation) {
  return json::array{json::object{{"type", std::move(type)},
                                  {"status", "True"},
                                  {"reason", std::move(reason)},
                                  {"message", std::move(message)},
                                  {"lastTransitionTime", now_text()},
                                  {"observedGeneration", generation}}};
}

// "10.0.0.5:6379", "[fd00::5]:6379".
std::string address_of(const std::string& ip, int port) {
  return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

void drop_managed_fields(json::value& v) {
  if (auto* o = v.if_object())
    if (auto* md = o->if_contains("metadata"); md && md->is_object())
      md->as_object().erase("managedFields");
}

struct cluster_pods {
  std::vector<std::string> seeds;           // ip:port of each pod with an IP
  std::map<std::string, std::string> name;  // ip:port -> pod name
};

cluster_pods pods_of(const std::vector<json::value>& items, int port) {
  cluster_pods out;
  for (const auto& p : items) {
    const auto* o = p.if_object();
    if (!o) continue;
    std::string pod, ip;
    if (const auto* md = o->if_contains("metadata"); md && md->is_object()) {
      if (md->as_object().contains("deletionTimestamp")) continue;
      if (const auto* n = md->as_object().if_contains("name"); n && n->is_string())
        pod = std::string(n->as_string());
    }
    if (const auto* st = o->if_contains("status"); st && st->is_object())
      if (const auto* i = st->as_object().if_contains("podIP"); i && i->is_string())
        ip = std::string(i->as_string());
    if (ip.empty()) continue;
    const auto a = address_of(ip, port);
    out.seeds.push_back(a);
    out.name[a] = pod;
  }
  return out;
}

}  // namespace

backup_controller::backup_controller(k8s::client& api, backup_controller_config config, logger log,
                                     metrics_registry* metrics)
    : api_(api),
      config_(std::move(config)),
      log_(std::move(log)),
      metrics_(metrics),
      wake_(std::make_unique<asio::steady_timer>(api.get_executor())) {
  k8s::reflector_options ro;
  ro.what = redisbackups_resource;
  ro.namespace_ = config_.namespace_;
  ro.backoff = backoff_policy{std::chrono::milliseconds(500), std::chrono::seconds(5)};
  ro.transform = drop_managed_fields;
  k8s::reflector_handlers h;
  h.on_add = [this](const json::value&) { wake(); };
  h.on_update = [this](const json::value&, const json::value&) { wake(); };
  h.on_delete = [this](const json::value&) { wake(); };
  h.on_synced = [this] { wake(); };
  reflector_ = std::make_unique<k8s::reflector>(api_, std::move(ro), std::move(h), log_);
  if (config_.lease) {
    if (config_.lease->namespace_.empty())
      config_.lease->namespace_ =
          config_.namespace_.empty() ? api_.namespace_() : config_.namespace_;
    elector_ = std::make_unique<k8s::leader_elector>(api_, *config_.lease, log_);
  }
}

backup_controller::~backup_controller() = default;

void backup_controller::describe_metrics(metrics_registry& m) {
  m.describe("kage_redisbackup_transitions_total", "counter",
             "RedisBackup phase changes written by the controller, by phase");
  m.describe("kage_redisbackup_jobs_running", "gauge", "RedisBackup jobs running now");
  m.describe("kage_redisbackup_bytes_total", "counter",
             "Bytes stored by completed RedisBackup jobs");
  m.describe("kage_redisbackup_leader", "gauge",
             "1 while this controller may act (holds the Lease, or no Lease is used)");
}

void backup_controller::wake() {
  pending_ = true;
  if (waiting_) {
    woken_ = true;
    wake_->cancel();
  }
}

asio::awaitable<void> backup_controller::async_run() {
  using namespace asio::experimental::awaitable_operators;
  co_await (reflector_->async_run() || async_lead());
}

asio::awaitable<void> backup_controller::async_lead() {
  if (!elector_) {
    co_await async_act_loop();
    co_return;
  }
  log_.info("controller", config_.lease->identity + " campaigns for the lease " +
                              config_.lease->namespace_ + "/" + config_.lease->name +
                              "; only its holder runs backups");
  for (;;) {
    std::function<asio::awaitable<void>()> lead = [this] { return async_act_loop(); };
    co_await elector_->async_run(lead);
    log_.warn("controller", config_.lease->identity + " lost the lease " + config_.lease->name +
                                ": stopped its backups; campaigning again");
  }
}

asio::awaitable<void> backup_controller::async_act_loop() {
  if (metrics_) metrics_->set("kage_redisbackup_leader", {}, 1);
  std::exception_ptr error;
  try {
    pending_ = true;
    for (;;) {
      if (!pending_) {
        wake_->expires_after(config_.resync);
        waiting_ = true;
        woken_ = false;
        auto [ec] = co_await wake_->async_wait(asio::as_tuple(asio::deferred));
        waiting_ = false;
        const auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
          throw boost::system::system_error(asio::error::operation_aborted);
        if (!ec) pending_ = true;  // the periodic resync
      }
      pending_ = false;
      co_await async_round();
    }
  } catch (...) {
    error = std::current_exception();
  }
  waiting_ = false;
  if (metrics_) metrics_->set("kage_redisbackup_leader", {}, 0);
  co_await asio::this_coro::reset_cancellation_state();
  co_await async_stop_jobs();
  std::rethrow_exception(error);
}

// Cancels every job (each marks its resource Failed) and waits, at most 30 s, for them to end.
asio::awaitable<void> backup_controller::async_stop_jobs() {
  for (auto& [key, j] : jobs_) {
    j->stopping = true;
    j->cancel.emit(asio::cancellation_type::terminal);
  }
  asio::steady_timer t(co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!jobs_.empty() && std::chrono::steady_clock::now() < deadline) {
    t.expires_after(std::chrono::milliseconds(50));
    co_await t.async_wait(asio::as_tuple(asio::deferred));
  }
  if (!jobs_.empty())
    log_.warn("controller", std::to_string(jobs_.size()) + " backup job(s) did not stop in time");
}

asio::awaitable<void> backup_controller::async_round() {
  if (!reflector_->synced()) co_return;  // the first list wakes the loop
  backup_plan_input in;
  in.identity = config_.identity;
  in.max_concurrent = config_.max_concurrent;
  std::map<std::string, backup_resource> by_key;
  for (const auto& [key, object] : reflector_->cache()) {
    auto r = backup_resource_from(object);
    if (auto w = written_.find(r.key); w != written_.end() && w->second.first == r.uid)
      r.phase = w->second.second;
    by_key[r.key] = r;
    in.resources.push_back(std::move(r));
  }
  for (const auto& [key, j] : jobs_) in.running.insert(key);
  const auto actions = plan_backups(in);
  for (const auto& a : actions) {
    log_.debug("controller", std::string(to_string(a.kind)) + " " + a.key + ": " + a.reason);
    if (a.kind == backup_action_kind::cancel) {
      if (auto j = jobs_.find(a.key); j != jobs_.end()) {
        log_.info("controller",
                  "RedisBackup " + a.key + " " + a.reason + ": cancelling its backup");
        j->second->deleted = true;
        j->second->cancel.emit(asio::cancellation_type::terminal);
      }
      continue;
    }
    const backup_resource r = by_key.at(a.key);
    if (a.kind == backup_action_kind::start) {
      co_await async_start(r);
    } else if (a.kind == backup_action_kind::mark_pending) {
      json::object st{{"phase", "Pending"},
                      {"observedGeneration", r.generation},
                      {"conditions", condition("Pending", "Waiting", a.reason, r.generation)}};
      json::value status(std::move(st));
      const bool patched = co_await async_patch_status(r, std::move(status), "Pending");
      if (patched) co_await async_event(r, "Normal", "BackupPending", a.reason);
    } else if (a.kind == backup_action_kind::fail) {
      json::object st{{"phase", "Failed"},
                      {"completionTime", now_text()},
                      {"error", a.reason},
                      {"observedGeneration", r.generation},
                      {"conditions", condition("Failed", "BackupFailed", a.reason, r.generation)}};
      json::value status(std::move(st));
      log_.warn("controller", "RedisBackup " + r.key + " failed: " + a.reason);
      const bool patched = co_await async_patch_status(r, std::move(status), "Failed");
      if (patched) co_await async_event(r, "Warning", "BackupFailed", a.reason);
    }
  }
}

asio::awaitable<void> backup_controller::async_start(backup_resource r) {
  const std::string message = "backing up cluster " + r.cluster_name + " (" + r.method + ", " +
                              r.target + ") to " + r.destination;
  json::object st{{"phase", "Running"},
                  {"pod", config_.identity},
                  {"startTime", now_text()},
                  {"format", r.method == "aof" ? "aof-archive" : "rdb"},
                  {"observedGeneration", r.generation},
                  {"error", nullptr},
                  {"conditions", condition("Running", "BackupStarted", message, r.generation)}};
  json::value status(std::move(st));
  // Running is written before the job starts: a restart then finds it and never runs it again.
  const bool patched = co_await async_patch_status(r, std::move(status), "Running");
  if (!patched) co_return;
  log_.info("controller", "RedisBackup " + r.key + ": " + message);
  co_await async_event(r, "Normal", "BackupStarted", message);
  spawn_job(std::move(r));
}

// Not a coroutine: GCC 12 mishandles lambdas created in coroutine bodies.
void backup_controller::spawn_job(backup_resource r) {
  auto j = std::make_shared<job>();
  j->uid = r.uid;
  jobs_[r.key] = j;
  if (metrics_)
    metrics_->set("kage_redisbackup_jobs_running", {}, static_cast<double>(jobs_.size()));
  const std::string key = r.key;
  asio::co_spawn(
      api_.get_executor(), async_job(std::move(r), j),
      asio::bind_cancellation_slot(j->cancel.slot(), [this, key, j](std::exception_ptr e) {
        if (e) log_.error("controller", key + ": the job ended: " + describe(e));
        j->done = true;
        if (auto it = jobs_.find(key); it != jobs_.end() && it->second == j) jobs_.erase(it);
        if (metrics_)
          metrics_->set("kage_redisbackup_jobs_running", {}, static_cast<double>(jobs_.size()));
        wake();
      }));
}

asio::awaitable<void> backup_controller::async_job(backup_resource r, std::shared_ptr<job> j) {
  auto ex = co_await asio::this_coro::executor;
  std::exception_ptr error;
  storage::manifest m;
  cluster_pods pods;
  try {
    k8s::list_options lo;
    lo.label_selector = config_.pods_label_key + "=" + r.cluster_name;
    auto list = co_await api_.async_list(k8s::pods_resource, r.namespace_, lo);
    if (!list)
      fail(exit_code::failure, list.ec,
           "cannot list the pods of cluster " + r.cluster_name + ": " + list.message);
    pods = pods_of(list.items, config_.redis_port);
    if (pods.seeds.empty())
      fail(exit_code::usage,
           "no pod with an IP is labelled " + lo.label_selector + " in namespace " + r.namespace_ +
               ": check spec.clusterName (and the controller's --pods-label-key)");
    auto target = make_target(pods.seeds, config_.redis);
    auto store = config_.open_store(r.destination, ex);
    snapshot_options options;
    options.prefer_replica = r.target == "prefer-replica";
    options.pod = config_.identity;
    auto progress = std::make_shared<snapshot_progress>();
    m = co_await async_snapshot(target, std::move(options), store, progress, log_);
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    if (j->deleted) {
      log_.info("controller", "RedisBackup " + r.key + " was deleted: its backup stopped");
      co_return;
    }
    co_await asio::this_coro::reset_cancellation_state();
    std::string why = describe(error);
    if (j->stopping) why = "controller " + config_.identity + " stopped mid-backup: " + why;
    json::object st{{"phase", "Failed"},
                    {"completionTime", now_text()},
                    {"error", why},
                    {"observedGeneration", r.generation},
                    {"conditions", condition("Failed", "BackupFailed", why, r.generation)}};
    json::value status(std::move(st));
    log_.warn("controller", "RedisBackup " + r.key + " failed: " + why);
    const bool patched = co_await async_patch_status(r, std::move(status), "Failed");
    if (patched) co_await async_event(r, "Warning", "BackupFailed", why);
    co_return;
  }
  std::string location = r.destination;
  while (location.size() > 1 && location.back() == '/') location.pop_back();
  const std::string backup_path = location + "/" + m.id;
  json::array shards;
  for (const auto& o : m.objects) {
    auto pod = pods.name.find(o.read_from);
    shards.push_back(json::object{{"pod", pod == pods.name.end() ? "" : pod->second},
                                  {"node", o.read_from},
                                  {"role", o.read_role},
                                  {"path", backup_path + "/" + o.name},
                                  {"size", o.bytes},
                                  {"checksumSHA256", o.sha256}});
  }
  const std::string message = "backup " + m.id + " complete: " + std::to_string(m.objects.size()) +
                              " shard(s), " + std::to_string(m.total_bytes) + " bytes at " +
                              backup_path;
  json::object st{{"phase", "Completed"},
                  {"completionTime", now_text()},
                  {"backupSize", m.total_bytes},
                  {"backupPath", backup_path},
                  {"format", "rdb"},
                  {"checksumSHA256", storage::sha256_hex(storage::to_json(m))},
                  {"shards", std::move(shards)},
                  {"observedGeneration", r.generation},
                  {"conditions", condition("Completed", "BackupCompleted", message, r.generation)}};
  json::value status(std::move(st));
  log_.info("controller", "RedisBackup " + r.key + ": " + message);
  if (metrics_)
    metrics_->add("kage_redisbackup_bytes_total", {}, static_cast<double>(m.total_bytes));
  const bool patched = co_await async_patch_status(r, std::move(status), "Completed");
  if (patched) co_await async_event(r, "Normal", "BackupCompleted", message);
}

asio::awaitable<bool> backup_controller::async_patch_status(backup_resource r, json::value status,
                                                            std::string phase) {
  json::value patch(json::object{{"status", std::move(status)}});
  auto res = co_await api_.async_merge_patch(redisbackups_resource, r.namespace_, r.name,
                                             std::move(patch), std::string("status"));
  if (!res) {
    log_.warn("controller", "cannot write the status of RedisBackup " + r.key + " (" + phase +
                                "): " + res.message);
    co_return false;
  }
  written_[r.key] = {r.uid, phase};
  if (metrics_) metrics_->add("kage_redisbackup_transitions_total", {{"phase", phase}});
  co_return true;
}

asio::awaitable<void> backup_controller::async_event(backup_resource r, std::string type,
                                                     std::string reason, std::string message) {
  k8s::event_info e;
  e.involved.api_version = "redis.io/v1";
  e.involved.kind = "RedisBackup";
  e.involved.namespace_ = r.namespace_;
  e.involved.name = r.name;
  e.involved.uid = r.uid;
  e.type = std::move(type);
  e.reason = std::move(reason);
  e.message = std::move(message);
  e.component = "kage-controller";
  e.host = config_.identity;
  auto res = co_await api_.async_create_event(std::move(e));
  if (!res)
    log_.warn("controller", "cannot post an Event for RedisBackup " + r.key + ": " + res.message);
}

}  // namespace kage::engine
