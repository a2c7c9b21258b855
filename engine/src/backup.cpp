// Logical backup: per master, concurrently, one connection and one pipeline.
//
//   topology ─► pick source (master, or its most caught-up replica)
//                 │ PEXPIRETIME probe, FUNCTION LIST/DUMP
//                 ▼
//   ┌──────────── shard_scanner (sans-IO: commands out, replies in) ─────────────┐
//   │ SCAN cursor [MATCH p] COUNT n ─► queued keys ─► window of pipelined         │
//   │ PEXPIRETIME|PTTL + DUMP pairs (≤ window keys, ≤ max_inflight_bytes)         │
//   └──┬──────────────┬──────────────────┬──────────────────────┬────────────────┘
//      │ key          │ MOVED/ASK        │ CLUSTERDOWN, TRYAGAIN, │ vanished
//      ▼              ▼                  │ LOADING, MASTERDOWN,   ▼
//   archive_writer ◄─ redirect_pool      │ connection lost     counted
//   (RESP records, zstd)                 ▼
//      │                              wait for the cluster (a promoted replica), read again
//      ▼
//   object_sink: SHA-256 ─► store (file | S3 multipart), in write_chunk pieces
//
//   every shard done ─► slot map unchanged? ─► manifest.json (the commit point, written last)
#include "clock.hpp"
#include "redirects.hpp"
#include "shard_scanner.hpp"
#include "shard_source.hpp"
#include "switch_watch.hpp"

#include <kage/base/error.hpp>
#include <kage/base/task_group.hpp>
#include <kage/engine/backup.hpp>
#include <kage/proto/crc16.hpp>
#include <kage/proto/redis_text.hpp>
#include <kage/storage/archive.hpp>
#include <kage/storage/catalog.hpp>
#include <kage/storage/sha256.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <map>

namespace kage::engine {
namespace {

using boost::system::error_code;
using proto::resp_node;

struct backup_job : writing_job {
  backup_options options;
  std::shared_ptr<backup_progress> progress;
  std::vector<storage::shard_object> objects;
  std::shared_ptr<switch_watch> watch = std::make_shared<switch_watch>();  // Sentinel mode
};

std::string object_name(std::size_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shard-%02zu.resp.zst", index);
  return buf;
}

// Where the compressed bytes go: SHA-256 on the way, handed to the store in chunks.
struct object_sink {
  std::unique_ptr<storage::object_writer> writer;
  storage::sha256 sha;
  std::string out;

  asio::awaitable<void> drain() {
    if (out.empty()) co_return;
    sha.update(out);
    co_await writer->async_write(out);
    out.clear();
  }
};

// A key that hashes into the first of `slots`, for asking the master a question about "a key
// of its own" without a MOVED reply. The key need not exist.
std::string probe_key_for(const std::vector<proto::slot_range>& slots) {
  const int wanted = slots.empty() ? 0 : slots.front().first;
  for (int i = 0;; ++i) {
    std::string key = "kage-probe-" + std::to_string(i);
    if (proto::key_slot(key) == wanted || slots.empty()) return key;
  }
}

struct shard_outcome {
  std::optional<std::string> transport_error;  // set: the source went away; retry elsewhere
};

// The connection to the shard's source, READONLY on a replica. nullptr and `problem` set
// when the source cannot be reached (the caller waits for the cluster and tries again).
asio::awaitable<std::unique_ptr<proto::connection>> async_open_source(
    std::shared_ptr<backup_job> job, proto::node_info source, std::string& problem) {
  auto conn = std::make_unique<proto::connection>(co_await asio::this_coro::executor,
                                                  job->target.config, job->target.tls);
  if (auto ec = co_await conn->async_connect(source.ep, problem)) {
    if (ec.category() == proto::redis_category()) fail(exit_code::redis, ec, problem);  // auth
    co_return nullptr;
  }
  if (!source.master && job->topology.cluster) {
    auto r = co_await proto::exec(*conn, "READONLY");
    if (r.is_error()) {
      fail(exit_code::redis, proto::classify_redis_error(r.value).code,
           source.ep.address() + " refused READONLY: " + r.value);
    }
  }
  co_return conn;
}

// Sends the scanner's PEXPIRETIME probe and takes in its answer.
asio::awaitable<void> async_probe_ttl(std::shared_ptr<backup_job> job, proto::connection& conn,
                                      shard_scanner& scanner) {
  const std::string where = conn.remote().address();
  scanner.write_commands(conn.output());
  std::span<const resp_node> r;
  if (auto ec = co_await conn.async_read(r)) {
    if (ec == asio::error::operation_aborted) throw boost::system::system_error(ec);
    fail(exit_code::redis, ec,
         proto::describe_transport_error(conn.remote(), ec) + " (while sending PEXPIRETIME)");
  }
  scanner.on_reply(r, unix_ms());
  if (!scanner.absolute_ttl()) {
    job->log.info(where, "PEXPIRETIME is not available (" + scanner.ttl_refusal() +
                             "); expiry times come from PTTL and the local clock, so each TTL "
                             "may come out longer by the time its reply waited");
  }
}

// Redis Functions live on every master; each shard keeps its master's.
asio::awaitable<std::optional<std::string>> async_read_functions(std::shared_ptr<backup_job> job,
                                                                 proto::connection& conn) {
  const std::string where = conn.remote().address();
  if (proto::rdb_version_for(job->redis_version) < 10) co_return std::nullopt;
  auto list = co_await proto::exec(conn, "FUNCTION", "LIST");
  if (list.is_error()) {
    job->log.warn(
        where, "cannot list Redis Functions (" + list.value + "); the backup will not hold them");
    co_return std::nullopt;
  }
  if (list.elements.empty()) co_return std::nullopt;
  auto dump = co_await proto::exec(conn, "FUNCTION", "DUMP");
  if (dump.is_error() || dump.is_null()) {
    fail(exit_code::redis, proto::classify_redis_error(dump.value).code,
         where + " refused FUNCTION DUMP: " + dump.value);
  }
  co_return std::move(dump.value);
}

// What one shard's key pipeline wrote.
struct scan_result {
  std::optional<std::string> transport_error;  // as shard_outcome
  std::uint64_t keys = 0;
  std::uint64_t vanished = 0;
};

// The key pipeline: writes what the scanner says is due, reads replies in order, and does
// what each one asks (archive, count, follow a redirect, give up for now).
asio::awaitable<scan_result> async_scan_keys(std::shared_ptr<backup_job> job,
                                             proto::connection& conn, shard_scanner& scanner,
                                             storage::archive_writer& archive, object_sink& sink,
                                             shard_progress& prog) {
  using step_kind = shard_scanner::step_kind;
  redirect_pool redirects(job->target);
  scan_result result;
  for (;;) {
    scanner.write_commands(conn.output());
    if (scanner.idle()) break;
    std::span<const resp_node> r;
    if (auto ec = co_await conn.async_read(r)) {
      result.transport_error = proto::describe_transport_error(conn.remote(), ec);
      co_return result;
    }
    if (job->watch->moved()) {  // Sentinel mode: a failover, learnt from +switch-master
      result.transport_error = *job->watch->news;
      co_return result;
    }
    auto st = scanner.on_reply(r, unix_ms());
    if (st.kind == step_kind::redirect) {
      // Rare: slots moving during the backup. The key is read where the redirect points.
      const redirect to = to_redirect(st.error);
      auto replies = co_await redirects.async_send(to, scanner.redirect_commands(st.key));
      st = scanner.on_redirected(st.key, to.node.address(), replies[0], replies[1], unix_ms());
    }
    switch (st.kind) {
      case step_kind::none:
      case step_kind::ttl_mode:
      case step_kind::redirect:
        continue;
      case step_kind::retry:
        result.transport_error = std::move(st.message);
        co_return result;
      case step_kind::failed:
        fail(exit_code::redis, st.code, st.message);
      case step_kind::vanished:
        ++result.vanished;
        break;
      case step_kind::key:
        archive.add_key(st.key, st.expire_at_ms, st.payload, sink.out);
        ++result.keys;
        break;
    }
    prog.keys = result.keys;
    prog.vanished = result.vanished;
    if (sink.out.size() >= job->options.write_chunk) {
      co_await sink.drain();
      prog.bytes = sink.writer->bytes_written();
    }
  }
  co_return result;
}

asio::awaitable<shard_outcome> run_shard_once(std::shared_ptr<backup_job> job, std::size_t index,
                                              proto::node_info master, proto::node_info source) {
  auto& prog = job->progress->shards[index];
  const auto& opt = job->options;
  prog.master = master.ep.address();
  prog.read_from = source.ep.address();
  prog.keys = prog.bytes = prog.vanished = 0;

  std::string problem;
  auto conn = co_await async_open_source(job, source, problem);
  if (!conn) co_return shard_outcome{problem};

  shard_scanner scanner({source.ep.address(), opt.patterns, opt.scan_count,
                         static_cast<std::size_t>(opt.window), opt.max_inflight_bytes,
                         probe_key_for(master.slots), proto::rdb_version_for(job->redis_version)});
  co_await async_probe_ttl(job, *conn, scanner);
  const std::optional<std::string> functions = co_await async_read_functions(job, *conn);

  boost::json::object header{{"backup_id", job->id},
                             {"shard", index},
                             {"master_id", master.id},
                             {"master", master.ep.address()},
                             {"read_from", source.ep.address()},
                             {"slots", describe_slots(master.slots)}};
  storage::archive_writer archive(opt.compression_level, boost::json::serialize(header));
  const std::string name = object_name(index);
  object_sink sink;
  sink.writer = co_await job->store->async_create(job->id + "/" + name);
  if (functions) archive.add_functions(*functions, sink.out);

  const auto scanned = co_await async_scan_keys(job, *conn, scanner, archive, sink, prog);
  if (scanned.transport_error) {
    co_await sink.writer->async_abort();
    co_return shard_outcome{scanned.transport_error};
  }
  archive.finish(sink.out);
  co_await sink.drain();
  co_await sink.writer->async_commit();

  storage::shard_object obj;
  obj.name = name;
  obj.master_id = master.id;
  obj.master_address = master.ep.address();
  obj.read_from = source.ep.address();
  obj.read_role = source.master ? "master" : "replica";
  obj.slots = master.slots;
  obj.bytes = sink.writer->bytes_written();
  obj.uncompressed_bytes = archive.uncompressed_bytes();
  obj.keys = scanned.keys;
  obj.vanished = scanned.vanished;
  obj.functions = functions.has_value();
  obj.sha256 = sink.sha.hex_digest();
  prog.bytes = obj.bytes;
  prog.done = true;
  job->objects[index] = std::move(obj);
  co_return shard_outcome{};
}

asio::awaitable<void> throw_if_cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none) {
    throw boost::system::system_error(asio::error::operation_aborted);
  }
}

// After the source of a shard went away: wait for the cluster to name a reachable, healthy
// master for the shard's slots (its promoted replica), or give up at the deadline.
asio::awaitable<proto::node_info> async_wait_for_master(std::shared_ptr<backup_job> job,
                                                        proto::node_info old_master,
                                                        std::string last_error) {
  if (job->target.sentinel) {
    // One shard: the primary the sentinels name now (the promoted replica after a failover).
    auto view = co_await async_await_primary(
        job->target, job->options.failover_timeout,
        "primary " + old_master.ep.address() + " failed during the backup (" + last_error +
            "); the backup was abandoned and no manifest was written",
        job->log);
    job->topology = std::move(view.topology);
    co_return *job->topology.masters().front();
  }
  const int slot = old_master.slots.front().first;
  const auto deadline = std::chrono::steady_clock::now() + job->options.failover_timeout;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto config = job->target;
  config.config.connect_timeout =
      std::min(config.config.connect_timeout, std::chrono::milliseconds(2000));
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<proto::endpoint> candidates = job->target.seeds;
    for (const auto& n : job->topology.nodes) candidates.push_back(n.ep);
    for (const auto& ep : candidates) {
      co_await throw_if_cancelled();
      std::unique_ptr<proto::connection> conn;
      try {
        conn = co_await async_connect(config, ep);
        auto t = co_await proto::async_load_topology(*conn, job->target.config.tls.enabled);
        const auto owners = t.slot_owners();
        if (owners[slot] < 0) continue;
        const proto::node_info owner = *t.masters()[owners[slot]];
        if (!owner.healthy) continue;
        auto probe = co_await async_connect(config, owner.ep);
        if (t.cluster) {
          auto info = co_await proto::exec(*probe, "CLUSTER", "INFO");
          if (proto::parse_info(info.value)["cluster_state"] != "ok") continue;
        }
        job->topology = std::move(t);
        co_return owner;
      } catch (const failure&) {
        continue;  // this node is down or not ready either; ask the next one
      }
    }
    timer.expires_after(std::chrono::milliseconds(500));
    co_await timer.async_wait(asio::as_tuple(asio::deferred));
    co_await throw_if_cancelled();
  }
  fail(exit_code::redis, "master " + old_master.ep.address() + " (slots " +
                             describe_slots(old_master.slots) + ") failed during the backup (" +
                             last_error +
                             ") and the cluster did not recover (no "
                             "replica took over) within " +
                             std::to_string(job->options.failover_timeout.count() / 1000) +
                             " s; the backup was abandoned and no manifest was written");
}

asio::awaitable<void> backup_shard(std::shared_ptr<backup_job> job, std::size_t index) {
  proto::node_info master = *job->topology.masters()[index];
  for (;;) {
    const proto::node_info source = co_await async_pick_source(
        job->target, job->topology, master, job->options.prefer_replica, job->log);
    auto outcome = co_await run_shard_once(job, index, master, source);
    if (!outcome.transport_error) co_return;
    co_await throw_if_cancelled();
    auto& prog = job->progress->shards[index];
    ++prog.restarts;
    job->log.warn(source.ep.address(), *outcome.transport_error +
                                           "; waiting for the cluster to be ok again (a replica "
                                           "promoted if the master failed), then backing up "
                                           "slots " +
                                           describe_slots(master.slots) + " again");
    const auto old_slots = master.slots;
    master = co_await async_wait_for_master(job, master, *outcome.transport_error);
    job->watch->following = master.ep;
    if (master.slots != old_slots) {
      fail(exit_code::redis, "the slots of " + source.ep.address() +
                                 " changed during the backup; run the backup again");
    }
  }
}

// Shards that finished were committed; remove them so no half backup is left behind.
asio::awaitable<void> remove_objects(std::shared_ptr<backup_job> job) {
  // After SIGTERM the job's cancellation is set: without a reset every await below would throw
  // at once and leave the objects behind.
  co_await asio::this_coro::reset_cancellation_state();
  std::vector<std::string> done;
  done.push_back(job->id + "/" + std::string(storage::claim_name));
  for (const auto& o : job->objects) {
    if (!o.name.empty()) done.push_back(job->id + "/" + o.name);
  }
  std::exception_ptr error;
  try {
    co_await job->store->async_remove(done);
  } catch (...) {
    error = std::current_exception();
  }
  if (error)
    job->log.warn(job->id,
                  "cleanup of the abandoned backup failed; its objects remain "
                  "without a manifest (kage prune removes them)");
}

// A standalone server has 16 databases; the archive holds one keyspace (database 0).
asio::awaitable<void> async_check_databases(std::shared_ptr<backup_job> job) {
  const auto ep = job->topology.masters().front()->ep;
  auto conn = co_await async_connect(job->target, ep);
  auto info = co_await proto::exec(*conn, "INFO", "keyspace");
  if (info.is_error()) co_return;
  for (const auto& [db, stats] : proto::parse_info(info.value)) {
    if (db != "db0" && db.starts_with("db")) {
      fail(exit_code::failure,
           ep.address() + " has keys in " + db + " (" + stats +
               "); kage backs up database 0 only, so this backup would miss them. Move those "
               "keys to database 0 (MOVE/COPY), or back up a Redis Cluster, which has only one");
    }
  }
}

// The slot map at the end must be the one the shards were read under.
asio::awaitable<void> async_check_slots_unchanged(std::shared_ptr<backup_job> job,
                                                  std::vector<storage::topology_node> before) {
  auto view = co_await async_discover(job->target, job->log);
  std::map<std::string, std::vector<storage::slot_range>> now_by_master;
  for (const auto* m : view.topology.masters()) now_by_master[m->id] = m->slots;
  for (const auto& o : job->objects) {
    auto it = now_by_master.find(o.master_id);
    // A failed-over shard has a new master id: compare by slots then.
    bool same = it != now_by_master.end() && o.slots == it->second;
    if (!same) {
      for (const auto& [id, slots] : now_by_master) same = same || o.slots == slots;
    }
    if (!same) {
      fail(exit_code::redis, "slots moved between masters during the backup (the slots of " +
                                 o.master_address +
                                 " changed); keys in moving slots may have been missed, so no "
                                 "manifest was written. Run the backup again after resharding");
    }
  }
  (void)before;
}

}  // namespace

asio::awaitable<storage::manifest> async_backup(redis_target target, backup_options options,
                                                std::shared_ptr<storage::store> store,
                                                std::shared_ptr<backup_progress> progress,
                                                logger log) {
  auto job = std::make_shared<backup_job>();
  co_await async_begin(*job, std::move(target), std::move(store), log);
  job->options = std::move(options);
  job->progress = progress;
  const auto masters = job->topology.masters();
  job->objects.resize(masters.size());
  progress->id = job->id;
  progress->shards.assign(masters.size(), {});

  storage::manifest m = manifest_begun(*job);
  m.patterns = job->options.patterns;

  if (!job->topology.cluster) co_await async_check_databases(job);

  task_group group(co_await asio::this_coro::executor);
  for (std::size_t i = 0; i < masters.size(); ++i) group.spawn(backup_shard(job, i));
  job->watch->following = masters.front()->ep;
  std::exception_ptr error;
  try {
    // Sentinel mode: +switch-master on the sentinels tells the shard to move (see above).
    co_await async_join_watched(group, job->target, job->watch, log);
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    co_await remove_objects(job);
    try {
      std::rethrow_exception(error);
    } catch (const boost::system::system_error& e) {
      if (e.code() == asio::error::operation_aborted) {
        fail(exit_code::interrupted, "backup " + job->id + " interrupted; nothing was kept");
      }
      throw;
    }
  }

  // Slots that moved while the shards were read could have slipped past both SCANs.
  if (job->topology.cluster) {
    std::exception_ptr moved;
    try {
      co_await async_check_slots_unchanged(job, m.topology);
    } catch (...) {
      moved = std::current_exception();
    }
    if (moved) {
      co_await remove_objects(job);
      std::rethrow_exception(moved);
    }
  }

  if (!job->options.pod_files.empty()) {
    std::exception_ptr stored;
    try {
      m.pod_node_configs = co_await async_store_pod_files(
          job->store, job->id, std::move(job->options.pod_files), job->log);
    } catch (...) {
      stored = std::current_exception();
    }
    if (stored) {
      co_await remove_objects(job);
      std::rethrow_exception(stored);
    }
  }

  m.objects = job->objects;
  for (const auto& o : m.objects) {
    m.total_keys += o.keys;
    m.total_bytes += o.bytes;
    m.total_vanished += o.vanished;
  }
  m.finished_at = storage::rfc3339_ms(unix_ms());
  // The manifest is the commit point: written last, and only if no other run wrote one.
  co_await async_commit_manifest(job->store, job->id, storage::to_json(m));
  co_return m;
}

}  // namespace kage::engine
