#pragma once
// Private: what the backup and snapshot jobs share about choosing and describing a shard.
#include <kage/base/log.hpp>
#include <kage/engine/target.hpp>
#include <kage/storage/manifest.hpp>
#include <kage/storage/store.hpp>

#include <memory>

namespace kage::engine {

// What every job that writes a backup (logical or snapshot) starts from: where it writes, an
// id from its start time, and the cluster as discovered then.
struct writing_job {
  redis_target target;
  std::shared_ptr<storage::store> store;
  logger log;
  std::int64_t started_ms = 0;
  std::string id;
  std::string redis_version;
  proto::topology topology;
};

// Discovers the cluster, claims a new backup id in the store (<id>/claim.json) and fills every
// field of `job`.
asio::awaitable<void> async_begin(writing_job& job, redis_target target,
                                  std::shared_ptr<storage::store> store, logger log);

// Writes <id>/manifest.json, the commit point, only when no manifest is there: "complete" is
// this run's manifest. Throws failure(store) when another is there.
asio::awaitable<void> async_commit_manifest(std::shared_ptr<storage::store> store, std::string id,
                                            std::string json);

// A manifest with what the job knows at its start: id, versions, start time, topology.
storage::manifest manifest_begun(const writing_job& job);

// The node to read a shard from. With prefer_replica: the most caught-up replica of `master`
// that says its link to the master is up and it is not syncing (asked directly: the cluster
// bus' view of replica health lags); else, or when there is none, the master itself. Probes
// give up after the connect timeout, so a frozen replica costs seconds, not the read timeout.
asio::awaitable<proto::node_info> async_pick_source(redis_target target, proto::topology topology,
                                                    proto::node_info master, bool prefer_replica,
                                                    logger log);

}  // namespace kage::engine
