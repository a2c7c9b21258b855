#pragma once
#include <kage/base/slot_range.hpp>
#include <kage/engine/target.hpp>
#include <kage/storage/manifest.hpp>
#include <kage/storage/store.hpp>

#include <chrono>

namespace kage::engine {

struct restore_options {
  std::string id;                     // empty: the newest complete backup
  bool replace = false;               // overwrite keys that exist (default: restore missing only)
  bool dry_run = false;               // report what would happen; write nothing
  std::vector<std::string> patterns;  // only keys matching one of these; empty = all
  std::vector<slot_range> slots;      // only keys hashing to these slots; empty = all
  int window = 512;                   // RESTOREs in flight per target master
  std::chrono::milliseconds failover_timeout{30000};  // Sentinel: wait this long for a primary
  // How long a master may keep answering CLUSTERDOWN/TRYAGAIN/LOADING/MASTERDOWN (a cluster
  // created a moment ago, a failover) while its commands are sent again, before giving up.
  std::chrono::milliseconds cluster_wait{30000};
};

struct restore_counts {
  std::uint64_t restored = 0;  // dry run: would be restored
  std::uint64_t present = 0;   // already there (BUSYKEY / EXISTS)
  std::uint64_t expired = 0;   // expiry time already passed: skipped
  std::uint64_t filtered = 0;  // did not match --pattern (or the slots asked for)
  std::uint64_t functions_restored = 0;
  std::uint64_t functions_present = 0;
};

struct target_progress {
  std::string master;  // target master address
  restore_counts counts;
};

struct restore_progress {
  std::string id;
  std::uint64_t records_read = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_total = 0;
  restore_counts totals;  // filtered and expired are counted here only
  int restarts = 0;       // Sentinel: passes started over on a new primary after a failover
  std::vector<target_progress> targets;
};

// Throws kage::failure: integrity (checksum/format), incompatible (RDB version, no backup),
// redis (target unusable), store.
asio::awaitable<storage::manifest> async_restore(redis_target target, restore_options options,
                                                 std::shared_ptr<storage::store> store,
                                                 std::shared_ptr<restore_progress> progress,
                                                 logger log);

}  // namespace kage::engine
