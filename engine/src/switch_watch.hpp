#pragma once
// Sentinel mode: a job listens to Sentinel's +switch-master (SUBSCRIBE on every sentinel that
// answers) while it runs, so it learns of a failover when the sentinels decide it, not only
// when the old primary drops the connection or answers READONLY (those still count).
//
//   task_group work ─┐
//   watchers ────────┴─► async_join_watched: the work's end stops the watchers; a watcher that
//                        hears our master switch records it (and, if asked, fails the work)
#include <kage/base/log.hpp>
#include <kage/base/task_group.hpp>
#include <kage/engine/target.hpp>
#include <kage/proto/sentinel.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kage::engine {

struct switch_watch {
  // The primary the job uses now; a switch to it is old news (every sentinel announces it).
  proto::endpoint following;
  // The last +switch-master heard for our master to another primary, and what it said:
  // "+switch-master from sentinel S: the primary of 'mymaster' moved from A to B".
  std::optional<proto::endpoint> to;
  std::optional<std::string> news;
  // True when a switch away from `following` was heard.
  bool moved() const { return to && !(*to == following); }
  // Throw sentinel_errc::primary_lost from the watcher when it hears one (cancels the work).
  bool fail_work = false;
  bool stopped = false;
  std::vector<proto::connection*> open;  // the subscriptions, closed by stop()
  void stop() noexcept;
};

// One "+switch-master" message: "<name> <old-ip> <old-port> <new-ip> <new-port>" (the parser
// is proto's, without IO).
using switch_message = proto::switch_master;
using proto::parse_switch_master;

// Joins `work` with a watcher per sentinel of target.sentinel beside it (target without
// sentinels: just joins). The work's first error is rethrown; with watch->fail_work a switch
// heard ends the work with failure(sentinel_errc::primary_lost) naming the message.
asio::awaitable<void> async_join_watched(task_group& work, redis_target target,
                                         std::shared_ptr<switch_watch> watch, logger log);

}  // namespace kage::engine
