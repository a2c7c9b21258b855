#pragma once
// Private: what the backup and snapshot jobs share about choosing and describing a shard.
#include <kage/base/log.hpp>
#include <kage/engine/target.hpp>
#include <kage/storage/manifest.hpp>

namespace kage::engine {

std::vector<storage::slot_range> to_storage(const std::vector<proto::slot_range>& in);
std::string describe_slots(const std::vector<proto::slot_range>& slots);  // "0-5460,10923-12000"

// The node to read a shard from. With prefer_replica: the most caught-up replica of `master`
// that says its link to the master is up and it is not syncing (asked directly: the cluster
// bus' view of replica health lags); else, or when there is none, the master itself. Probes
// give up after the connect timeout, so a frozen replica costs seconds, not the read timeout.
asio::awaitable<proto::node_info> async_pick_source(redis_target target, proto::topology topology,
                                                    proto::node_info master, bool prefer_replica,
                                                    logger log);

}  // namespace kage::engine
