#pragma once
// The healer's IO around the pure planner (heal_plan.hpp): read what every pod's node says,
// plan, and carry out each action after re-checking its precondition on the node it changes.
//
//   pods ─► async_observe (CLUSTER NODES + DBSIZE of each pod, deadlines) ─► plan_heal
//        ─► async_execute (re-read the target, check, act) per action ─► heal_round
#include <kage/engine/heal_plan.hpp>
#include <kage/engine/target.hpp>

#include <boost/asio/awaitable.hpp>

namespace kage::storage {
class store;
}

#include <chrono>
#include <memory>
#include <optional>

#include <string>
#include <vector>

namespace kage::engine {

// The cluster's cluster-node-timeout, from the first pod whose node answers CONFIG GET.
asio::awaitable<std::optional<std::chrono::milliseconds>> async_read_node_timeout(
    const redis_target& target, std::vector<heal_pod> pods, int port);

// One view per pod that answers at ip:port within the target's connect and read deadlines; a
// pod that does not answer has none (the planner then treats what it carried with care).
// Never throws for one unreachable pod. Up to observe_concurrency pods are read at a time, so a
// round over many pods whose IPs drop packets costs about (pods / observe_concurrency) connect
// timeouts, not one per pod.
inline constexpr std::size_t observe_concurrency = 16;
asio::awaitable<heal_observed> async_observe(const redis_target& target, std::vector<heal_pod> pods,
                                             int port);

struct heal_result {
  heal_action action;
  bool acted = false;  // false: its precondition no longer held, or kage cannot carry it out
  std::string detail;  // what was done, or why not
};

// Re-reads the target node, checks that the action still applies, and acts: MEET, REPLICATE
// and FORGET; create_cluster (rule 6), close_migration (rule 5), take_slots and restore_slots
// (rule 4) step by step after checking every node they touch (heal_ops.cpp). restore_slots
// reads the newest complete backup in `backups` (none: not done, and the result says why).
asio::awaitable<heal_result> async_execute(const redis_target& target, heal_action action, int port,
                                           std::shared_ptr<storage::store> backups);

// After acting, waits until the cluster agrees with what was done, reading the nodes again
// every 200 ms until `deadline`: a MEETed address is known (no handshake) by every other
// answering pod's node, a REPLICATEd node shows its master, a FORGET target no longer knows the
// node. Empty when they agree; else what is still missing when the deadline passed.
asio::awaitable<std::string> async_await_agreement(const redis_target& target,
                                                   std::vector<heal_result> results,
                                                   std::vector<heal_pod> pods, int port,
                                                   std::chrono::milliseconds deadline);

struct heal_round {
  heal_plan plan;
  std::size_t views = 0;             // pods whose node answered
  std::vector<heal_result> results;  // empty for a dry run
};

// Observe, plan, and (unless dry_run) execute every action in order.
asio::awaitable<heal_round> async_heal_once(const redis_target& target, std::vector<heal_pod> pods,
                                            heal_policy policy, heal_memory memory, bool dry_run,
                                            std::shared_ptr<storage::store> backups);

}  // namespace kage::engine
