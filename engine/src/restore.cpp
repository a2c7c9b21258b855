#include "archive_stream.hpp"
#include "clock.hpp"
#include "redirects.hpp"
#include "switch_watch.hpp"

#include <kage/base/backoff.hpp>
#include <kage/base/error.hpp>
#include <kage/base/slot_range.hpp>
#include <kage/base/task_group.hpp>
#include <kage/engine/restore.hpp>
#include <kage/proto/crc16.hpp>
#include <kage/proto/redis_error.hpp>
#include <kage/proto/redis_text.hpp>
#include <kage/proto/sentinel.hpp>
#include <kage/storage/archive.hpp>
#include <kage/storage/catalog.hpp>
#include <kage/storage/sha256.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/channel.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>

namespace kage::engine {
namespace {

using boost::system::error_code;
using proto::resp_node;
using proto::resp_type;

enum class item_kind : std::uint8_t { restore, function, exists };

struct batch_item {
  item_kind kind = item_kind::restore;
  int rdb_version = 0;
  std::size_t offset = 0;  // this command's bytes inside batch::commands
  std::size_t length = 0;
  std::string key;
};

// Commands for one target master, sent together. Kept until every reply has been read, so a
// command answered with MOVED/ASK can be sent again to the node named.
struct batch {
  std::string commands;
  std::vector<batch_item> items;
  bool last = false;
};

using batch_channel = asio::experimental::channel<void(error_code, batch)>;

struct sink {
  sink(asio::any_io_executor ex) : channel(ex, 2) {}
  std::unique_ptr<proto::connection> conn;
  batch_channel channel;
  batch building;
};

struct restore_job {
  redis_target target;
  restore_options options;
  std::shared_ptr<storage::store> store;
  std::shared_ptr<restore_progress> progress;
  logger log;
  storage::manifest manifest;
  std::string target_version;
  int target_rdb = 0;
  std::vector<std::unique_ptr<sink>> sinks;
  std::array<std::int16_t, 16384> owners{};
  std::set<std::size_t> function_warned;  // targets already warned about FUNCTION RESTORE
  // Cluster mode: the master whose connection broke, which ended the pass.
  std::optional<proto::endpoint> lost_master;
};

constexpr std::size_t batch_bytes = 256 * 1024;
constexpr std::size_t batch_items = 256;

int payload_rdb_version(std::string_view payload) {
  const auto footer = proto::read_dump_footer(payload);
  return footer ? footer->rdb_version : 0;
}

void count_reply(restore_job& job, std::size_t target, const batch_item& item, resp_type type,
                 std::string_view text) {
  auto& c = job.progress->targets[target].counts;
  const std::string where = job.progress->targets[target].master;
  const error_code error = type == resp_type::error || type == resp_type::blob_error
                               ? make_error_code(proto::classify_redis_error(text).code)
                               : error_code{};
  switch (item.kind) {
    case item_kind::exists:
      if (type != resp_type::integer) {
        fail(exit_code::redis, error,
             "EXISTS of '" + proto::printable(item.key) + "' on " + where +
                 " failed: " + std::string(text) + " (a real restore would fail the same way)");
      }
      (text == "1" ? c.present : c.restored)++;
      return;
    case item_kind::function:
      if (!error) {
        ++c.functions_restored;
      } else if (error == proto::redis_errc::library_exists) {
        ++c.functions_present;
        // Redis restores a functions dump all or nothing: one library already there and none
        // of the others is loaded either. Say so instead of calling them all "present".
        if (job.function_warned.insert(target).second) {
          job.log.warn(where, "FUNCTION RESTORE refused (" + std::string(text) +
                                  "): a functions dump is restored all or nothing, so libraries "
                                  "of the backup that are missing here were not restored either; "
                                  "compare FUNCTION LIST with the source, or pass --replace");
        }
      } else {
        fail(exit_code::redis, error,
             "FUNCTION RESTORE on " + where + " failed: " + std::string(text));
      }
      return;
    case item_kind::restore:
      if (!error) {
        ++c.restored;
        return;
      }
      if (error == proto::redis_errc::busykey) {
        ++c.present;
        return;
      }
      if (error == proto::redis_errc::bad_payload) {
        if (item.rdb_version > job.target_rdb && job.target_rdb > 0) {
          fail(exit_code::incompatible,
               "key '" + proto::printable(item.key) + "': the backup holds RDB version " +
                   std::to_string(item.rdb_version) + " payloads (from Redis " +
                   job.manifest.redis_version + ") but " + where + " runs Redis " +
                   job.target_version + ", which reads RDB versions up to " +
                   std::to_string(job.target_rdb) +
                   "; restore into a Redis at least as new as the source");
        }
        fail(exit_code::integrity, "key '" + proto::printable(item.key) + "': " + where +
                                       " rejected its payload (" + std::string(text) +
                                       "); the backup is damaged: run 'kage verify'");
      }
      fail(exit_code::redis, error,
           "RESTORE of '" + proto::printable(item.key) + "' on " + where +
               " failed: " + std::string(text));
  }
}

// Sends one command again to the node a MOVED/ASK names: slots moving during a restore.
asio::awaitable<void> async_follow(restore_job& job, std::size_t target_index,
                                   redirect_pool& redirects, redirect to, const batch_item& item,
                                   std::string command) {
  std::vector<std::string> commands(1);
  commands.front() = std::move(command);
  auto replies = co_await redirects.async_send(std::move(to), std::move(commands));
  const proto::reply& r = replies.front();
  if (r.is_error() && proto::classify_redis_error(r.value).is_redirect()) {
    fail(exit_code::redis, proto::classify_redis_error(r.value).code,
         "slots keep moving during the restore (" + r.value +
             "); wait for resharding to finish and run the restore again");
  }
  count_reply(job, target_index, item, r.type, r.value);
}

// Commands a master answered with CLUSTERDOWN, TRYAGAIN, LOADING or MASTERDOWN, to send again
// once it can serve keys, within the options' cluster_wait of the first such answer.
struct resend_state {
  batch again;
  std::string last_error;  // the server's words, for the message when time runs out
  std::optional<std::chrono::steady_clock::time_point> since;
  int attempt = 0;
  backoff delay{backoff_policy{std::chrono::milliseconds(100), std::chrono::milliseconds(2000)}};
};

// Waits before sending again; fails once the master kept refusing past the deadline.
asio::awaitable<void> async_wait_to_resend(std::shared_ptr<restore_job> job, std::size_t index,
                                           resend_state& r) {
  const std::string& where = job->progress->targets[index].master;
  if (std::chrono::steady_clock::now() - *r.since > job->options.cluster_wait) {
    fail(exit_code::redis, proto::classify_redis_error(r.last_error).code,
         where + " kept answering '" + r.last_error + "' for " +
             std::to_string(job->options.cluster_wait.count() / 1000) +
             " s; keys sent so far are restored. Check 'redis-cli --cluster check " + where +
             "' and run the restore again");
  }
  if (r.attempt++ == 0)
    job->log.warn(where, "answered '" + r.last_error +
                             "'; sending its refused commands again until the cluster is ok");
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(r.delay.delay(r.attempt));
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::deferred));
  if (ec) throw boost::system::system_error(ec);  // cancelled
}

asio::awaitable<void> run_sink(std::shared_ptr<restore_job> job, std::size_t index) {
  auto& s = *job->sinks[index];
  auto& conn = *s.conn;
  const std::size_t window = static_cast<std::size_t>(job->options.window);
  redirect_pool redirects(job->target);
  std::deque<batch> in_flight;
  std::size_t next_item = 0;    // in in_flight.front()
  std::size_t outstanding = 0;  // replies still to read
  bool last_seen = false;
  std::size_t bytes_in_flight = 0;
  constexpr std::size_t max_bytes = std::size_t{64} << 20;
  resend_state resend;
  for (;;) {
    // Refused commands go again once every reply is in; nothing new is taken meanwhile.
    if (outstanding == 0 && !resend.again.items.empty()) {
      co_await async_wait_to_resend(job, index, resend);
      batch b = std::exchange(resend.again, batch{});
      conn.output().append(b.commands);
      outstanding += b.items.size();
      bytes_in_flight += b.commands.size();
      in_flight.push_back(std::move(b));
      continue;
    }
    // Bounded by commands and by bytes: large values must not pile up here or in Redis.
    if (!last_seen && resend.again.items.empty() &&
        (outstanding == 0 ||
         (outstanding < window && bytes_in_flight < max_bytes && s.channel.ready()))) {
      auto [ec, b] = co_await s.channel.async_receive(asio::as_tuple(asio::deferred));
      if (ec) throw boost::system::system_error(ec);
      last_seen = b.last;
      if (b.items.empty()) continue;
      conn.output().append(b.commands);
      outstanding += b.items.size();
      bytes_in_flight += b.commands.size();
      in_flight.push_back(std::move(b));
      continue;
    }
    if (outstanding == 0) break;
    std::span<const resp_node> r;
    if (auto ec = co_await conn.async_read(r)) {
      if (job->target.sentinel && ec != asio::error::operation_aborted) {
        // A failover kills the clients of the old primary; async_restore follows it.
        fail(exit_code::redis, make_error_code(proto::sentinel_errc::primary_lost),
             proto::describe_transport_error(conn.remote(), ec));
      }
      // A master that died ends the pass; async_restore waits for its replica to take over.
      if (ec != asio::error::operation_aborted) {
        job->lost_master = conn.remote();
        fail(exit_code::redis, ec, proto::describe_transport_error(conn.remote(), ec));
      }
      fail(exit_code::redis, ec,
           proto::describe_transport_error(conn.remote(), ec) +
               " during the restore; keys sent so far are restored, run the "
               "restore again to bring back the rest");
    }
    batch& front = in_flight.front();
    const batch_item& item = front.items[next_item];
    const resp_node& top = r[0];
    const auto error = top.type == resp_type::error ? proto::classify_redis_error(top.value)
                                                    : proto::redis_error{};
    if (error.code == proto::redis_errc::readonly && job->target.sentinel) {
      fail(exit_code::redis, make_error_code(proto::sentinel_errc::primary_lost),
           conn.remote().address() + " is no longer the primary (" + std::string(top.value) + ")");
    }
    if (error.is_transient()) {
      // Not refused for good: the same command goes again (it restored nothing).
      if (!resend.since) resend.since = std::chrono::steady_clock::now();
      resend.last_error.assign(top.value);
      batch_item again = item;
      again.offset = resend.again.commands.size();
      resend.again.commands.append(front.commands, item.offset, item.length);
      resend.again.items.push_back(std::move(again));
    } else if (error.is_redirect()) {
      resend.since.reset();
      co_await async_follow(*job, index, redirects, to_redirect(error), item,
                            front.commands.substr(item.offset, item.length));
    } else {
      resend.since.reset();
      count_reply(*job, index, item, top.type, top.value);
    }
    --outstanding;
    if (++next_item == front.items.size()) {
      bytes_in_flight -= front.commands.size();
      in_flight.pop_front();
      next_item = 0;
    }
  }
}

asio::awaitable<void> send(sink& s, bool last) {
  // Taken before suspending: another object's reader may add to the sink's next batch meanwhile.
  batch b = std::exchange(s.building, batch{});
  b.last = last;
  auto [ec] =
      co_await s.channel.async_send(error_code{}, std::move(b), asio::as_tuple(asio::deferred));
  if (ec) throw boost::system::system_error(ec);
}

void add_command(batch& b, item_kind kind, std::string_view key, int rdb,
                 std::initializer_list<std::string_view> args) {
  batch_item item;
  item.kind = kind;
  item.rdb_version = rdb;
  item.offset = b.commands.size();
  proto::append_command(b.commands, args);
  item.length = b.commands.size() - item.offset;
  item.key.assign(key);
  b.items.push_back(std::move(item));
}

// Reads one backup object and routes its records to the sinks.
asio::awaitable<void> produce_object(std::shared_ptr<restore_job> job, std::size_t index) {
  auto& prog = *job->progress;
  const auto& opt = job->options;
  const std::string location = job->store->location();
  const storage::shard_object& object = job->manifest.objects[index];
  const std::string key = job->manifest.id + "/" + object.name;
  auto reader = co_await job->store->async_open(key);
  archive_stream stream(*reader, prog.bytes_read);
  auto damaged = [&](const std::string& what) {
    fail(exit_code::integrity,
         "backup object " + location + "/" + key + " is damaged (" + what + "); records before " +
             (opt.dry_run ? "the damage were checked (dry run: nothing was written)"
                          : "the damage were restored") +
             ". Run 'kage verify --from " + location + " --id " + job->manifest.id +
             "' for a full report");
  };
  for (;;) {
    auto rec = co_await stream.async_next();
    if (!rec) damaged(rec.error().message());
    if (!*rec) break;  // trailer read and checked
    const storage::archive_record& r = **rec;
    ++prog.records_read;
    if (r.type == storage::archive_record::kind::functions) {
      if (opt.dry_run) {
        ++prog.totals.functions_restored;
        continue;
      }
      for (auto& s : job->sinks) {
        if (opt.replace) {
          add_command(s->building, item_kind::function, "", 0,
                      {"FUNCTION", "RESTORE", r.payload, "REPLACE"});
        } else {
          add_command(s->building, item_kind::function, "", 0, {"FUNCTION", "RESTORE", r.payload});
        }
      }
      continue;
    }
    if (!opt.patterns.empty()) {
      bool match = false;
      for (const auto& p : opt.patterns) match = match || proto::glob_match(p, r.key);
      if (!match) {
        ++prog.totals.filtered;
        continue;
      }
    }
    if (!opt.slots.empty()) {
      const int slot = proto::key_slot(r.key);
      if (std::none_of(opt.slots.begin(), opt.slots.end(), [slot](const slot_range& range) {
            return slot >= range.first && slot <= range.last;
          })) {
        ++prog.totals.filtered;
        continue;
      }
    }
    if (r.expire_at_ms != 0 && r.expire_at_ms <= unix_ms()) {
      ++prog.totals.expired;
      continue;
    }
    const auto owner = job->owners[proto::key_slot(r.key)];
    auto& s = *job->sinks[static_cast<std::size_t>(owner)];
    if (opt.dry_run) {
      add_command(s.building, item_kind::exists, r.key, 0, {"EXISTS", r.key});
    } else {
      const std::string ttl = std::to_string(r.expire_at_ms);
      const int rdb = payload_rdb_version(r.payload);
      if (opt.replace) {
        add_command(s.building, item_kind::restore, r.key, rdb,
                    {"RESTORE", r.key, ttl, r.payload, "ABSTTL", "REPLACE"});
      } else {
        add_command(s.building, item_kind::restore, r.key, rdb,
                    {"RESTORE", r.key, ttl, r.payload, "ABSTTL"});
      }
    }
    if (s.building.commands.size() >= batch_bytes || s.building.items.size() >= batch_items) {
      co_await send(s, false);
    }
  }
  // Anything after the trailer, and the checksum of every byte.
  if (co_await stream.async_read_rest() > 0) damaged("data after the end marker");
  const std::string digest = stream.hex_digest();
  if (digest != object.sha256 || stream.bytes() != object.bytes) {
    damaged("SHA-256 " + digest + " over " + std::to_string(stream.bytes()) +
            " bytes, the manifest says " + object.sha256 + " over " + std::to_string(object.bytes));
  }
}

asio::awaitable<void> read_objects(std::shared_ptr<restore_job> job,
                                   std::shared_ptr<std::size_t> next) {
  while (*next < job->manifest.objects.size()) co_await produce_object(job, (*next)++);
}

// Objects are read side by side, as many at a time as the target has masters: each object of a
// backup holds one source master's slots, so into a target of the same shape reading them one
// after another would keep all target masters but one idle (measured in bench/: 1.4x slower).
asio::awaitable<void> produce(std::shared_ptr<restore_job> job) {
  const std::size_t readers = std::min(job->manifest.objects.size(), job->sinks.size());
  auto next = std::make_shared<std::size_t>(0);
  task_group group(co_await asio::this_coro::executor);
  for (std::size_t i = 0; i < readers; ++i) group.spawn(read_objects(job, next));
  co_await group.async_join();
  for (auto& s : job->sinks) co_await send(*s, true);
}

// One pass over the whole backup into the masters of `view`.
asio::awaitable<void> restore_pass(std::shared_ptr<restore_job> job, cluster_view view) {
  auto ex = co_await asio::this_coro::executor;
  auto& progress = *job->progress;
  job->target_version = view.redis_version;
  job->target_rdb = proto::rdb_version_for(view.redis_version);
  job->owners = view.topology.slot_owners();
  job->sinks.clear();
  job->function_warned.clear();
  progress.records_read = progress.bytes_read = 0;
  progress.totals = {};
  progress.targets.clear();
  for (const auto* m : view.topology.masters()) {
    auto s = std::make_unique<sink>(ex);
    try {
      s->conn = co_await async_connect(job->target, m->ep);
    } catch (const failure& f) {
      // Sentinel mode: the primary named a moment ago may already be gone (a failover).
      if (!job->target.sentinel || f.error().category() == proto::redis_category()) throw;
      fail(exit_code::redis, make_error_code(proto::sentinel_errc::primary_lost), f.what());
    }
    job->sinks.push_back(std::move(s));
    progress.targets.push_back({m->ep.address(), {}});
  }

  task_group group(ex);
  group.spawn(produce(job));
  for (std::size_t i = 0; i < job->sinks.size(); ++i) group.spawn(run_sink(job, i));
  // Sentinel mode: a +switch-master away from this primary ends the pass (primary_lost).
  auto watch = std::make_shared<switch_watch>();
  watch->fail_work = true;
  watch->following = view.topology.masters().front()->ep;
  try {
    co_await async_join_watched(group, job->target, watch, job->log);
  } catch (const boost::system::system_error& e) {
    if (e.code() == asio::error::operation_aborted) {
      fail(exit_code::interrupted, "restore interrupted; keys sent so far are restored");
    }
    throw;
  }
  if (!job->target.sentinel) co_return;
  // A failover that promoted a replica while this pass wrote to the old primary: what the old
  // primary took since is lost when it rejoins as a replica, though every write was answered.
  const auto written = view.topology.masters().front()->ep;
  std::optional<std::string> moved;
  try {
    auto now = co_await async_discover(job->target, job->log);
    if (!(now.topology.masters().front()->ep == written)) {
      moved = "the sentinels now name " + now.topology.masters().front()->ep.address() +
              " as the primary, not " + written.address();
    }
  } catch (const failure& f) {
    if (f.error() == proto::sentinel_errc::auth_refused) throw;
    moved = f.what();
  }
  if (moved) fail(exit_code::redis, make_error_code(proto::sentinel_errc::primary_lost), *moved);
}

}  // namespace

asio::awaitable<storage::manifest> async_restore(redis_target target, restore_options options,
                                                 std::shared_ptr<storage::store> store,
                                                 std::shared_ptr<restore_progress> progress,
                                                 logger log) {
  auto job = std::make_shared<restore_job>();
  job->manifest = co_await storage::async_load_manifest(*store, options.id);
  if (job->manifest.kind != "logical") {
    fail(exit_code::incompatible, "backup " + job->manifest.id + " is a " + job->manifest.kind +
                                      " backup; 'kage restore' restores logical backups");
  }
  auto view = co_await async_discover(target, log);
  job->target = std::move(target);
  job->options = std::move(options);
  job->store = std::move(store);
  job->progress = progress;
  job->log = log;
  progress->id = job->manifest.id;
  for (const auto& o : job->manifest.objects) progress->bytes_total += o.bytes;

  // A failover ends a pass: in Sentinel mode the sentinels name a new primary (primary_lost);
  // in a cluster a master's connection breaks (lost_master) and a replica takes over its slots.
  // Writes the old master acknowledged but never passed on are lost with it, so no position
  // inside the backup is known to be safe: every record is sent again, and what is already
  // there answers BUSYKEY (counted as present) unless --replace overwrites it.
  constexpr int max_passes = 8;
  for (int pass = 1;; ++pass) {
    std::optional<std::string> lost;
    job->lost_master.reset();
    try {
      co_await restore_pass(job, view);
    } catch (const failure& f) {
      const bool followed = job->target.sentinel ? f.error() == proto::sentinel_errc::primary_lost
                                                 : job->lost_master.has_value();
      if (!followed || pass >= max_passes) throw;
      lost = f.what();
    }
    if (!lost) break;
    if (job->target.sentinel) {
      log.warn(view.topology.masters().front()->ep.address(),
               *lost +
                   "; waiting for the sentinels to name the new primary, then restoring every "
                   "record again there (keys already there count as present)");
      view = co_await async_await_primary(job->target, job->options.failover_timeout,
                                          "the primary failed during the restore (" + *lost + ")",
                                          log);
    } else {
      const proto::endpoint gone = *job->lost_master;
      std::string slots = "its slots";
      for (const auto* m : view.topology.masters())
        if (m->ep == gone) slots = "slots " + describe_slots(m->slots);
      log.warn(gone.address(), *lost +
                                   "; waiting for the cluster to serve every slot again (a "
                                   "replica promoted), then restoring every record again "
                                   "(keys already there count as present)");
      view = co_await async_await_cluster(
          job->target, view.topology, job->options.failover_timeout,
          "master " + gone.address() + " failed during the restore (" + *lost +
              "); the restore stopped: the keys sent so far are restored, the rest are not "
              "restored and " +
              slots +
              " have no master to restore into; bring the node back or fail it over, then run "
              "the same restore again (keys already there are kept)",
          log);
    }
    progress->restarts++;
  }
  for (const auto& t : progress->targets) {
    progress->totals.restored += t.counts.restored;
    progress->totals.present += t.counts.present;
    progress->totals.functions_restored += t.counts.functions_restored;
    progress->totals.functions_present += t.counts.functions_present;
  }
  co_return job->manifest;
}

}  // namespace kage::engine
