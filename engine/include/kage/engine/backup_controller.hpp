#pragma once
// kage controller: RedisBackup resources (redis.io/v1) in, backups and status out.
//
//   reflector (list+watch RedisBackups) ─► plan_backups (pure) ─► per action: merge-patch
//   /status, an Event, a metric ─► per started backup, a job: the cluster's pods (label
//   <pods_label_key>=<clusterName>) ─► async_snapshot to spec.destination ─► status Completed
//   (size, path, manifest SHA-256, one entry per shard) or Failed (the error).
//
// A backup runs once: a Running resource no job of this process runs is marked Failed (the
// controller stopped mid-backup), never run again; a deleted resource's job is cancelled. With
// a Lease, only its holder plans and runs jobs.
#include <kage/base/log.hpp>
#include <kage/engine/backup_controller_plan.hpp>
#include <kage/engine/metrics.hpp>
#include <kage/engine/target.hpp>
#include <kage/k8s/client.hpp>
#include <kage/k8s/leader_election.hpp>
#include <kage/storage/store.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace kage::k8s {
class reflector;
}

namespace kage::engine {

inline constexpr k8s::resource redisbackups_resource{"redis.io", "v1", "redisbackups"};

// Opens the store a RedisBackup's spec.destination names (credentials from the settings or the
// mounted secret directory). Throws kage::failure when it cannot.
using store_opener = std::function<std::shared_ptr<storage::store>(const std::string& location,
                                                                   asio::any_io_executor ex)>;

struct backup_controller_config {
  std::string namespace_;  // empty: every namespace
  std::string pods_label_key = "app.kubernetes.io/instance";
  int redis_port = 6379;
  int max_concurrent = 2;
  std::string identity;       // status.pod, Events' source host, the Lease holder
  proto::redis_config redis;  // how to reach the pods' Redis (auth, TLS, timeouts)
  store_opener open_store;
  std::chrono::seconds resync{30};  // plan again at least this often
  std::optional<k8s::leader_election_config> lease;
};

class backup_controller {
 public:
  backup_controller(k8s::client& api, backup_controller_config config, logger log,
                    metrics_registry* metrics);
  ~backup_controller();
  backup_controller(const backup_controller&) = delete;
  backup_controller& operator=(const backup_controller&) = delete;

  static void describe_metrics(metrics_registry& m);

  // Runs until cancelled; then the running jobs are cancelled, each marked Failed ("controller
  // stopped"), and awaited before operation_aborted is thrown.
  asio::awaitable<void> async_run();

  struct job;

 private:
  asio::awaitable<void> async_lead();
  asio::awaitable<void> async_act_loop();
  asio::awaitable<void> async_round();
  asio::awaitable<void> async_start(backup_resource r);
  void spawn_job(backup_resource r);
  asio::awaitable<void> async_job(backup_resource r, std::shared_ptr<job> j);
  asio::awaitable<bool> async_patch_status(backup_resource r, boost::json::value status,
                                           std::string phase);
  asio::awaitable<void> async_event(backup_resource r, std::string type, std::string reason,
                                    std::string message);
  asio::awaitable<void> async_stop_jobs();
  void wake();

  k8s::client& api_;
  backup_controller_config config_;
  logger log_;
  metrics_registry* metrics_;
  std::unique_ptr<k8s::reflector> reflector_;
  std::unique_ptr<k8s::leader_elector> elector_;
  std::unique_ptr<asio::steady_timer> wake_;
  bool pending_ = false;
  bool waiting_ = false;
  bool woken_ = false;
  std::map<std::string, std::shared_ptr<job>> jobs_;  // by "namespace/name"
  // The phase this controller last wrote, by key, with the uid it was written for: newer than
  // the cache until the watch brings the change back.
  std::map<std::string, std::pair<std::string, std::string>> written_;
};

}  // namespace kage::engine
