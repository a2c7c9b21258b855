#include "shard_source.hpp"

#include "clock.hpp"

#include <kage/base/error.hpp>
#include <kage/storage/catalog.hpp>

#include <boost/asio.hpp>

#include <unistd.h>

#include <climits>

namespace kage::engine {

namespace {

// Who holds a backup id, for a person reading claim.json.
std::string claim_owner() {
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return "kage " KAGE_VERSION " pid " + std::to_string(::getpid()) + " on " + host;
}

}  // namespace

asio::awaitable<void> async_commit_manifest(std::shared_ptr<storage::store> store, std::string id,
                                            std::string json) {
  const std::string key = id + "/" + std::string(storage::manifest_name);
  if (!co_await store->async_create_new(key, std::move(json)))
    fail(exit_code::store, "backup " + id + " in " + store->location() +
                               " already has a manifest that this run did not write (another "
                               "run used the same id); this run's backup is not complete");
}

asio::awaitable<void> async_begin(writing_job& job, redis_target target,
                                  std::shared_ptr<storage::store> store, logger log) {
  job.started_ms = unix_ms();
  auto view = co_await async_discover(target, log);
  job.target = std::move(target);
  job.store = std::move(store);
  job.log = std::move(log);
  // Claimed, not just computed: runs starting in one millisecond must not share an id.
  job.id = co_await storage::async_claim_backup_id(*job.store, job.started_ms, claim_owner());
  job.redis_version = view.redis_version;
  job.topology = std::move(view.topology);
}

storage::manifest manifest_begun(const writing_job& job) {
  storage::manifest m;
  m.id = job.id;
  m.kage_version = KAGE_VERSION;
  m.started_at = storage::rfc3339_ms(job.started_ms);
  m.redis_version = job.redis_version;
  m.cluster = job.topology.cluster;
  for (const auto& n : job.topology.nodes) {
    m.topology.push_back(
        {n.id, n.ep.address(), n.master ? "master" : "replica", n.master_id, n.slots});
  }
  return m;
}

asio::awaitable<proto::node_info> async_pick_source(redis_target target, proto::topology topology,
                                                    proto::node_info master, bool prefer_replica,
                                                    logger log) {
  if (!prefer_replica) co_return master;
  redis_target probe = target;
  probe.config.read_timeout = std::min(probe.config.read_timeout, probe.config.connect_timeout);
  std::optional<proto::node_info> best;
  std::int64_t best_offset = -1;
  for (const auto* r : topology.replicas_of(master.id)) {
    if (!r->healthy) continue;
    std::unique_ptr<proto::connection> conn;
    proto::reply info;
    try {
      conn = co_await async_connect(probe, r->ep);
      info = co_await proto::exec(*conn, "INFO", "replication");
    } catch (const failure& f) {
      log.info(r->ep.address(), std::string("replica not usable: ") + f.what());
      continue;
    }
    if (info.is_error()) continue;
    auto fields = proto::parse_info(info.value);
    std::int64_t offset = -1;
    proto::to_int64(fields["slave_repl_offset"], offset);
    if (fields["master_link_status"] == "up" && fields["master_sync_in_progress"] == "0" &&
        offset > best_offset) {
      best = *r;
      best_offset = offset;
    }
  }
  if (!best) {
    log.info(master.ep.address(), "no healthy replica; reading from the master");
    co_return master;
  }
  co_return *best;
}

}  // namespace kage::engine
