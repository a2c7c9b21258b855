#pragma once
#include <kage/engine/pod_files.hpp>
#include <kage/engine/target.hpp>
#include <kage/storage/manifest.hpp>
#include <kage/storage/store.hpp>

#include <chrono>

namespace kage::engine {

struct backup_options {
  std::vector<std::string> patterns;  // SCAN MATCH patterns; empty = every key
  int scan_count = 1000;
  int window = 512;  // keys with DUMP+PTTL in flight per master
  std::size_t max_inflight_bytes = std::size_t{64} << 20;  // estimated reply bytes in flight
  bool prefer_replica = false;  // read each shard from a healthy replica when there is one
  int compression_level = 1;
  std::chrono::milliseconds failover_timeout{30000};  // wait this long for a new master
  std::size_t write_chunk = std::size_t{256} << 10;   // bytes handed to the store at a time
  std::vector<pod_file> pod_files;  // --pods: each pod's nodes.conf, stored beside the shards
};

// Live counters, updated by the job and read by whoever shows progress (same thread).
struct shard_progress {
  std::string master;     // address of the master whose slots this shard holds
  std::string read_from;  // address being read
  std::uint64_t keys = 0;
  std::uint64_t bytes = 0;  // compressed bytes handed to the store
  std::uint64_t vanished = 0;
  int restarts = 0;  // after a failover
  bool done = false;
};

struct backup_progress {
  std::string id;
  std::vector<shard_progress> shards;
};

// Backs up every master concurrently into a new backup in `store` and returns its manifest,
// written last. On failure nothing is left that looks complete; throws kage::failure.
asio::awaitable<storage::manifest> async_backup(redis_target target, backup_options options,
                                                std::shared_ptr<storage::store> store,
                                                std::shared_ptr<backup_progress> progress,
                                                logger log);

}  // namespace kage::engine
