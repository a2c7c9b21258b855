#include "clock.hpp"
#include "shard_source.hpp"

#include <kage/base/error.hpp>
#include <kage/base/task_group.hpp>
#include <kage/engine/backup.hpp>
#include <kage/proto/crc16.hpp>
#include <kage/proto/redis_text.hpp>
#include <kage/storage/archive.hpp>
#include <kage/storage/sha256.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <deque>
#include <map>

namespace kage::engine {
namespace {

using proto::resp_node;
using proto::resp_type;
using boost::system::error_code;

constexpr std::int64_t redirected = std::numeric_limits<std::int64_t>::min();

struct backup_job : writing_job {
  backup_options options;
  std::shared_ptr<backup_progress> progress;
  std::vector<storage::shard_object> objects;
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

bool is_redirect(std::string_view err) {
  return err.starts_with("MOVED ") || err.starts_with("ASK ");
}

// The cluster (or node) cannot serve keys right now, e.g. while a failed master's replica is
// being promoted: the shard is read again once the cluster is ok.
bool is_transient(std::string_view err) {
  return err.starts_with("CLUSTERDOWN") || err.starts_with("TRYAGAIN") ||
         err.starts_with("LOADING") || err.starts_with("MASTERDOWN");
}

// Reads one key from the node a MOVED/ASK error names. Rare: slots moving during the backup.
struct redirect_fetcher {
  const redis_target& target;
  bool absolute_ttl = false;  // PEXPIRETIME, as on the shard's own connection; else PTTL
  std::map<std::string, std::unique_ptr<proto::connection>> connections;

  struct value {
    std::int64_t ttl = -2;  // the PEXPIRETIME or PTTL reply
    std::optional<std::string> payload;
  };

  asio::awaitable<value> fetch(std::string_view error, std::string key) {
    // "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381"
    const bool ask = error.starts_with("ASK ");
    const auto space = error.rfind(' ');
    auto ep = parse_redis_address(error.substr(space + 1));
    if (!ep) fail(exit_code::redis, "cannot follow redirect '" + std::string(error) + "'");
    auto& conn = connections[ep->address()];
    if (!conn) conn = co_await async_connect(target, *ep);
    auto& o = conn->output();
    if (ask) proto::append_command(o, {"ASKING"});
    const char* const ttl_command = absolute_ttl ? "PEXPIRETIME" : "PTTL";
    proto::append_command(o, {ttl_command, key});
    if (ask) proto::append_command(o, {"ASKING"});
    proto::append_command(o, {"DUMP", key});
    value v;
    for (int i = 0; i < (ask ? 4 : 2); ++i) {
      std::span<const resp_node> r;
      if (auto ec = co_await conn->async_read(r)) {
        fail(exit_code::redis, proto::describe_transport_error(*ep, ec));
      }
      const bool is_ttl = ask ? i == 1 : i == 0;
      const bool is_dump = ask ? i == 3 : i == 1;
      if (r[0].type == resp_type::error && (is_ttl || is_dump)) {
        fail(exit_code::redis, "reading key '" + proto::printable(key) + "' from " +
                                   ep->address() + " after a redirect failed: " +
                                   std::string(r[0].value));
      }
      if (is_ttl) proto::to_int64(r[0].value, v.ttl);
      if (is_dump && r[0].type == resp_type::bulk_string) v.payload = std::string(r[0].value);
    }
    co_return v;
  }
};

// A record's absolute expiry (unix ms, 0 = none) from a PTTL reply (relative to `now`) or,
// with `absolute`, from a PEXPIRETIME reply. -1: no expiry; -2 is handled by the caller.
std::int64_t expire_at(std::int64_t ttl, bool absolute, std::int64_t now) {
  if (ttl < 0) return 0;
  return std::max<std::int64_t>(1, absolute ? ttl : now + ttl);
}

// The server does not have the command, or the user may not run it (as opposed to an error
// about the key, a redirect or a cluster state, which say the command itself works).
bool command_unavailable(std::string_view error) {
  return error.find("unknown command") != std::string_view::npos ||
         error.find("no permissions to run") != std::string_view::npos;
}

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

asio::awaitable<shard_outcome> run_shard_once(std::shared_ptr<backup_job> job, std::size_t index,
                                              proto::node_info master, proto::node_info source) {
  auto& prog = job->progress->shards[index];
  const auto& opt = job->options;
  prog.master = master.ep.address();
  prog.read_from = source.ep.address();
  prog.keys = prog.bytes = prog.vanished = 0;
  const std::string where = source.ep.address();

  auto conn = std::make_unique<proto::connection>(co_await asio::this_coro::executor,
                                                  job->target.config, job->target.tls);
  std::string diagnostic;
  if (auto ec = co_await conn->async_connect(source.ep, diagnostic)) {
    if (ec == boost::system::errc::permission_denied) fail(exit_code::redis, diagnostic);
    co_return shard_outcome{diagnostic};
  }
  if (!source.master && job->topology.cluster) {
    auto r = co_await conn->async_exec("READONLY");
    if (r.is_error()) fail(exit_code::redis, where + " refused READONLY: " + r.value);
  }

  // PEXPIRETIME (Redis 7.0+) answers with the expiry the server holds. PTTL's relative answer
  // would be turned into an absolute time when its reply is read, later by however long the
  // reply waited behind a slow store, stretching every TTL by that much. Servers without it
  // (6.2), or an ACL user not allowed it, get PTTL.
  const auto probe = co_await conn->async_exec("PEXPIRETIME", probe_key_for(master.slots));
  const bool absolute_ttl = !(probe.is_error() && command_unavailable(probe.value));
  const char* const ttl_command = absolute_ttl ? "PEXPIRETIME" : "PTTL";
  if (!absolute_ttl) {
    job->log.info(where, "PEXPIRETIME is not available (" + probe.value +
                             "); expiry times come from PTTL and the local clock, so each TTL "
                             "may come out longer by the time its reply waited");
  }

  // Redis Functions live on every master; each shard keeps its master's.
  std::optional<std::string> functions;
  if (proto::rdb_version_for(job->redis_version) >= 10) {
    auto list = co_await conn->async_exec("FUNCTION", "LIST");
    if (list.is_error()) {
      job->log.warn(where, "cannot list Redis Functions (" + list.value +
                               "); the backup will not hold them");
    } else if (!list.elements.empty()) {
      auto dump = co_await conn->async_exec("FUNCTION", "DUMP");
      if (dump.is_error() || dump.is_null()) {
        fail(exit_code::redis, where + " refused FUNCTION DUMP: " + dump.value);
      }
      functions = std::move(dump.value);
    }
  }

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

  redirect_fetcher redirects{job->target, absolute_ttl, {}};
  std::vector<std::string> patterns = opt.patterns;
  if (patterns.empty()) patterns.push_back("");
  const std::string count = std::to_string(opt.scan_count);
  enum class kind : std::uint8_t { scan, ttl, dump };
  std::deque<kind> pending;
  std::deque<std::string> keys;     // keys whose DUMP is in flight, in order
  std::deque<std::int64_t> ttls;    // their PEXPIRETIME / PTTL replies, once read
  std::deque<std::string> redirect_errors;
  std::string cursor = "0";
  std::size_t pattern = 0;
  bool scan_in_flight = false;
  bool scan_done = false;
  std::uint64_t key_count = 0, vanished = 0;
  const auto window = static_cast<std::size_t>(opt.window);

  // Keys SCAN returned, waiting for their turn. DUMPs go out while the replies in flight are
  // estimated (from recent sizes) to stay under max_inflight_bytes, so a keyspace of large
  // values does not pile up in Redis' output buffer while the store is slow.
  std::deque<std::string> queued;
  double average_value = 256;
  for (;;) {
    const auto byte_window = static_cast<std::size_t>(
        std::max(1.0, static_cast<double>(opt.max_inflight_bytes) / average_value));
    while (!queued.empty() && keys.size() < std::min(window, byte_window)) {
      auto& o = conn->output();
      proto::append_command(o, {ttl_command, queued.front()});
      proto::append_command(o, {"DUMP", queued.front()});
      pending.push_back(kind::ttl);
      pending.push_back(kind::dump);
      keys.push_back(std::move(queued.front()));
      queued.pop_front();
    }
    // SCAN runs ahead of the DUMPs so the server always has work queued.
    if (!scan_in_flight && !scan_done && queued.size() < static_cast<std::size_t>(opt.scan_count)) {
      auto& o = conn->output();
      if (patterns[pattern].empty()) {
        proto::append_command(o, {"SCAN", cursor, "COUNT", count});
      } else {
        proto::append_command(o, {"SCAN", cursor, "MATCH", patterns[pattern], "COUNT", count});
      }
      pending.push_back(kind::scan);
      scan_in_flight = true;
    }
    if (pending.empty()) break;
    std::span<const resp_node> r;
    if (auto ec = co_await conn->async_read(r)) {
      co_await sink.writer->async_abort();
      co_return shard_outcome{proto::describe_transport_error(source.ep, ec)};
    }
    const kind k = pending.front();
    pending.pop_front();
    const resp_node& top = r[0];
    if (k == kind::scan) {
      scan_in_flight = false;
      if (top.type == resp_type::error) {
        fail(exit_code::redis, "SCAN on " + where + " failed: " + std::string(top.value));
      }
      if (top.type != resp_type::array || top.size != 2 || r.size() < 3 ||
          r[2].type != resp_type::array || r.size() != 3 + r[2].size) {
        fail(exit_code::redis, where + " answered SCAN with an unexpected reply");
      }
      cursor.assign(r[1].value);
      for (std::size_t i = 3; i < r.size(); ++i) {
        std::string_view key = r[i].value;
        bool seen = false;  // a key matching an earlier pattern was taken in that pass
        for (std::size_t p = 0; p < pattern && !seen; ++p) seen = proto::glob_match(patterns[p], key);
        if (!seen) queued.emplace_back(key);
      }
      if (cursor == "0") {
        if (++pattern == patterns.size()) scan_done = true;
      }
      continue;
    }
    if (k == kind::ttl) {
      std::int64_t ttl = -2;
      if (top.type == resp_type::error && is_transient(top.value)) {
        co_await sink.writer->async_abort();
        co_return shard_outcome{where + " answered " + std::string(top.value)};
      }
      if (top.type == resp_type::error) {
        if (!is_redirect(top.value)) {
          fail(exit_code::redis, std::string(ttl_command) + " of '" +
                                     proto::printable(keys[ttls.size()]) + "' on " + where +
                                     " failed: " + std::string(top.value));
        }
        ttl = redirected;
        redirect_errors.emplace_back(top.value);
      } else if (!proto::to_int64(top.value, ttl)) {
        fail(exit_code::redis, where + " answered " + ttl_command + " with an unexpected reply");
      }
      ttls.push_back(ttl);
      continue;
    }
    // DUMP
    std::string key = std::move(keys.front());
    keys.pop_front();
    const std::int64_t ttl = ttls.front();
    ttls.pop_front();
    const std::int64_t now = unix_ms();
    if (top.type == resp_type::error && is_transient(top.value)) {
      co_await sink.writer->async_abort();
      co_return shard_outcome{where + " answered " + std::string(top.value)};
    }
    if (top.type == resp_type::error || ttl == redirected) {
      std::string error = top.type == resp_type::error ? std::string(top.value) : "";
      if (ttl == redirected) {
        error = redirect_errors.front();
        redirect_errors.pop_front();
      }
      if (!is_redirect(error)) {
        fail(exit_code::redis, "DUMP of '" + proto::printable(key) + "' on " + where +
                                   " failed: " + error);
      }
      auto v = co_await redirects.fetch(error, key);
      if (!v.payload || v.ttl == -2) {
        ++vanished;
      } else {
        archive.add_key(key, expire_at(v.ttl, absolute_ttl, unix_ms()), *v.payload, sink.out);
        ++key_count;
      }
    } else if (top.type == resp_type::null || ttl == -2) {
      ++vanished;  // deleted or expired between SCAN and DUMP
    } else {
      archive.add_key(key, expire_at(ttl, absolute_ttl, now), top.value, sink.out);
      ++key_count;
      average_value = average_value * 0.9 + static_cast<double>(top.value.size()) * 0.1;
    }
    prog.keys = key_count;
    prog.vanished = vanished;
    if (sink.out.size() >= opt.write_chunk) {
      co_await sink.drain();
      prog.bytes = sink.writer->bytes_written();
    }
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
  obj.keys = key_count;
  obj.vanished = vanished;
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
  const int slot = old_master.slots.front().first;
  const auto deadline = std::chrono::steady_clock::now() + job->options.failover_timeout;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto config = job->target;
  config.config.connect_timeout = std::min(config.config.connect_timeout,
                                           std::chrono::milliseconds(2000));
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
          auto info = co_await probe->async_exec("CLUSTER", "INFO");
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
  fail(exit_code::redis,
       "master " + old_master.ep.address() + " (slots " + describe_slots(old_master.slots) +
           ") failed during the backup (" + last_error + ") and the cluster did not recover (no "
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
                                           "slots " + describe_slots(master.slots) + " again");
    const auto old_slots = master.slots;
    master = co_await async_wait_for_master(job, master, *outcome.transport_error);
    if (master.slots != old_slots) {
      fail(exit_code::redis, "the slots of " + source.ep.address() +
                                 " changed during the backup; run the backup again");
    }
  }
}

// Shards that finished were committed; remove them so no half backup is left behind.
asio::awaitable<void> remove_objects(std::shared_ptr<backup_job> job) {
  std::vector<std::string> done;
  for (const auto& o : job->objects) {
    if (!o.name.empty()) done.push_back(job->id + "/" + o.name);
  }
  std::exception_ptr error;
  try {
    if (!done.empty()) co_await job->store->async_remove(done);
  } catch (...) {
    error = std::current_exception();
  }
  if (error) job->log.warn(job->id, "cleanup of the abandoned backup failed; its objects remain "
                                    "without a manifest (kage prune removes them)");
}

// A standalone server has 16 databases; the archive holds one keyspace (database 0).
asio::awaitable<void> async_check_databases(std::shared_ptr<backup_job> job) {
  const auto ep = job->topology.masters().front()->ep;
  auto conn = co_await async_connect(job->target, ep);
  auto info = co_await conn->async_exec("INFO", "keyspace");
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
  std::exception_ptr error;
  try {
    co_await group.async_join();
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

  m.objects = job->objects;
  for (const auto& o : m.objects) {
    m.total_keys += o.keys;
    m.total_bytes += o.bytes;
    m.total_vanished += o.vanished;
  }
  m.finished_at = storage::rfc3339_ms(unix_ms());
  // The manifest is the commit point: written last, through a temporary name.
  auto writer = co_await job->store->async_create(job->id + "/" + std::string(storage::manifest_name));
  co_await writer->async_write(storage::to_json(m));
  co_await writer->async_commit();
  co_return m;
}

}  // namespace kage::engine
