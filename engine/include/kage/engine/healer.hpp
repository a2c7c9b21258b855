#pragma once
// The long-running healer (`kage heal`, and `kage run` with heal: on): a pod cache kept by a
// Kubernetes reflector (list+watch), a round (observe, plan, act, wait for agreement) soon after
// any pod event (bursts coalesced) and every `interval` in any case, and, with a Lease, rounds
// that act only while this instance holds it. One trigger for both kinds of deployment: a
// Redis Cluster round (heal.hpp), or, when the target names sentinels, a Sentinel round
// (sentinel_heal.hpp: REPLICAOF strays, SENTINEL RESET one sentinel at a time).
//
//   reflector (pods) ──event──► wake ─┐
//   interval timer ───────────────────┴─► round: observe ─► plan_heal ─► execute ─► agree
//                                          (Sentinel: observe ─► plan_sentinel_heal ─► act)
//   leader_elector: the rounds run inside lead(); losing the lease cancels them first
//   every action: log line, kage_heal_actions_total{action}, a Kubernetes Event on its pod
#include <kage/base/log.hpp>
#include <kage/engine/heal.hpp>
#include <kage/engine/metrics.hpp>
#include <kage/engine/sentinel_heal.hpp>
#include <kage/k8s/client.hpp>
#include <kage/k8s/leader_election.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace kage::k8s {
class reflector;
}

namespace kage::engine {

struct healer_config {
  std::string namespace_;  // of the pods
  std::string pod_selector;
  heal_policy policy;
  bool node_timeout_known = false;            // policy.node_timeout given; else read from the nodes
  std::chrono::milliseconds interval{10000};  // the periodic round
  std::chrono::milliseconds coalesce{300};    // after a pod event, wait this for more
  std::chrono::milliseconds stale_after{15000};      // API unread this long: the view is stale
  std::chrono::milliseconds agree_deadline{0};       // 0: 2 x node_timeout, at least 5 s
  bool dry_run = false;                              // plan and report, never act
  bool post_events = true;                           // a Kubernetes Event per action
  std::optional<k8s::leader_election_config> lease;  // set: act only while holding it
  std::shared_ptr<storage::store>
      backups;  // rule 4's refill reads them (policy.refill_from_backup)
};

class healer {
 public:
  healer(k8s::client& api, redis_target target, healer_config config, logger log,
         metrics_registry* metrics);
  ~healer();
  healer(const healer&) = delete;
  healer& operator=(const healer&) = delete;

  // Declares the heal and cluster metric families (once per registry).
  static void describe_metrics(metrics_registry& m);

  // Runs until cancelled (then throws operation_aborted).
  boost::asio::awaitable<void> async_run();

  // After each round (on the io thread): the round and the number of selected pods.
  std::function<void(const heal_round&, std::size_t)> on_round;
  // The same in Sentinel mode (the target names sentinels).
  std::function<void(const sentinel_heal_round&, std::size_t)> on_sentinel_round;

  // True while this instance may act: it holds the Lease, or no Lease is configured.
  bool acting() const noexcept;
  // The view of the API server is fresh: the pods were listed and watching has not been
  // failing for longer than stale_after.
  bool api_fresh() const;

 private:
  boost::asio::awaitable<void> async_lead();
  boost::asio::awaitable<void> async_act_loop();
  boost::asio::awaitable<void> async_round();
  boost::asio::awaitable<void> async_sentinel_round(std::vector<heal_pod> pods);
  boost::asio::awaitable<void> async_post_event(heal_result r, std::vector<heal_pod> pods);
  boost::asio::awaitable<void> async_post_event(sentinel_heal_result r, std::vector<heal_pod> pods);
  boost::asio::awaitable<void> async_post(k8s::event_info e, std::string pod);
  void wake();
  // Metrics, from plain functions (GCC 12 and braced lists in coroutine bodies do not mix).
  void record(const heal_round& round, const heal_observed& observed);
  void set_leader(bool on);
  void count(const heal_result& r);
  void count(const sentinel_heal_result& r);
  void record(const sentinel_heal_round& round, std::size_t pods, bool fresh);
  void count_event_failure();

  k8s::client& api_;
  redis_target target_;
  healer_config config_;
  logger log_;
  metrics_registry* metrics_;
  std::unique_ptr<k8s::reflector> reflector_;
  std::unique_ptr<k8s::leader_elector> elector_;
  std::unique_ptr<boost::asio::steady_timer> wake_;
  heal_memory memory_;
  bool pending_ = false;  // a pod event arrived since the last round started
  bool waiting_ = false;  // the act loop sleeps on wake_
  bool woken_ = false;    // wake_ was cancelled by wake(), not from outside
  bool looping_ = false;  // the act loop runs (no lease, or the lease is held)
};

}  // namespace kage::engine
