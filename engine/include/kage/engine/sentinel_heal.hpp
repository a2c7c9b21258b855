#pragma once
// The Sentinel healer's IO around the pure planner (sentinel_heal_plan.hpp): ask every
// sentinel and every pod's Redis, plan, and carry out each action only if a plan made from a
// fresh look just before it still holds that action. After a SENTINEL RESET it waits until the
// sentinel knows the other sentinels and the live replicas again before anything else.
//
//   pods ─► async_observe_sentinels ─► plan_sentinel_heal ─► per action: observe again,
//        re-plan, act if still planned (REPLICAOF | SENTINEL RESET + wait to rediscover)
#include <kage/engine/heal_plan.hpp>
#include <kage/engine/sentinel_heal_plan.hpp>
#include <kage/engine/target.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace kage::engine {

// target.sentinel must be set: the sentinels, their credentials and the master name; the
// pods' Redis listens on `port` at each pod's IP (target.config's credentials).
asio::awaitable<sentinel_observed> async_observe_sentinels(const redis_target& target,
                                                           std::vector<heal_pod> pods, int port);

struct sentinel_heal_result {
  sentinel_action action;
  bool acted = false;  // false: no longer planned on a fresh look, or it failed
  std::string detail;  // what was done (and how long the sentinel took to rediscover), or why not
};

struct sentinel_heal_round {
  sentinel_plan plan;
  std::vector<sentinel_heal_result> results;  // empty for a dry run
};

struct sentinel_heal_options {
  int port = 6379;
  bool dry_run = false;
  // How long a reset sentinel may take to know the others and the replicas again; past it the
  // round stops (no further reset).
  std::chrono::milliseconds rediscover_timeout{30000};
};

// Observe, plan, and (unless dry_run) carry out every action in order, one at a time.
asio::awaitable<sentinel_heal_round> async_sentinel_heal_once(const redis_target& target,
                                                              std::vector<heal_pod> pods,
                                                              sentinel_heal_options options);

}  // namespace kage::engine
