#include "clock.hpp"
#include "shard_source.hpp"

#include <kage/base/error.hpp>
#include <kage/base/task_group.hpp>
#include <kage/engine/snapshot.hpp>
#include <kage/proto/cluster_config.hpp>
#include <kage/proto/redis_error.hpp>
#include <kage/proto/replication.hpp>
#include <kage/storage/catalog.hpp>
#include <kage/storage/sha256.hpp>
#include <kage/storage/status.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <map>

namespace kage::engine {
namespace {

struct snapshot_job : writing_job {
  snapshot_options options;
  std::shared_ptr<snapshot_progress> progress;
  std::vector<proto::node_info> masters;  // in slot order: masters[i] -> shard-i
  std::vector<storage::shard_object> objects;
  std::vector<storage::node_config> node_configs;
  storage::stored_file cluster_view;
  std::vector<storage::pod_node_config> pod_node_configs;
  std::vector<std::string> committed;  // keys written so far, removed if the snapshot fails
  std::size_t next_shard = 0;
  storage::backup_status status;
};

std::string rdb_object_name(std::size_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shard-%02zu.rdb", index);
  return buf;
}

std::string pod_name(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* pod = std::getenv("POD_NAME"); pod && *pod) return pod;
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) == 0) return host;
  return "";
}

// The RDB on its way to the store: SHA-256 and the RDB frame check see every byte.
class rdb_object_sink final : public proto::rdb_sink {
 public:
  rdb_object_sink(storage::object_writer& writer, snapshot_shard_progress& progress)
      : writer_(writer), progress_(progress) {}

  asio::awaitable<void> async_write(std::string_view bytes) override {
    sha.update(bytes);
    check.update(bytes);
    co_await writer_.async_write(bytes);
    progress_.bytes += bytes.size();
  }

  storage::sha256 sha;
  proto::rdb_file_check check;

 private:
  storage::object_writer& writer_;
  snapshot_shard_progress& progress_;
};

asio::awaitable<storage::stored_file> async_put(std::shared_ptr<snapshot_job> job, std::string name,
                                                std::string content) {
  auto writer = co_await job->store->async_create(job->id + "/" + name);
  co_await writer->async_write(content);
  co_await writer->async_commit();
  job->committed.push_back(job->id + "/" + name);
  co_return storage::stored_file{name, content.size(), storage::sha256_hex(content)};
}

asio::awaitable<void> async_write_status(std::shared_ptr<snapshot_job> job) {
  auto writer =
      co_await job->store->async_create(job->id + "/" + std::string(storage::status_name));
  co_await writer->async_write(storage::to_json(job->status));
  co_await writer->async_commit();
}

// ---- nodes.conf ------------------------------------------------------------------------------

struct node_view {
  std::vector<proto::cluster_nodes_line> lines;
  std::uint64_t current_epoch = 0;
  std::string address;
};

struct view_outcome {
  std::optional<node_view> view;
  std::string problem;
};

// "" when r is no error. An ACL refusal is the same on every node: it ends the job at once.
std::string refusal(const proto::endpoint& ep, const std::string& command, const proto::reply& r) {
  if (!r.is_error()) return "";
  const auto error = proto::classify_redis_error(r.value).code;
  if (error == proto::redis_errc::noperm)
    fail(exit_code::redis, error,
         ep.address() + " refused " + command + " (" + r.value +
             "); a snapshot needs +cluster|nodes and +cluster|info to save "
             "each node's nodes.conf");
  return ep.address() + " refused " + command + ": " + r.value;
}

// One node's own CLUSTER NODES and currentEpoch (CLUSTER INFO).
asio::awaitable<view_outcome> async_node_view(redis_target probe, proto::endpoint ep) {
  view_outcome out;
  std::unique_ptr<proto::connection> conn;
  proto::reply nodes, info;
  try {
    conn = co_await async_connect(probe, ep);
    nodes = co_await proto::exec(*conn, "CLUSTER", "NODES");
    info = co_await proto::exec(*conn, "CLUSTER", "INFO");
  } catch (const failure& f) {
    out.problem = f.what();
    co_return out;
  }
  out.problem = refusal(ep, "CLUSTER NODES", nodes) + refusal(ep, "CLUSTER INFO", info);
  if (!out.problem.empty()) co_return out;
  auto lines = proto::parse_cluster_nodes_lines(nodes.value);
  if (!lines) {
    out.problem = ep.address() +
                  " answered CLUSTER NODES with text kage cannot read: " + lines.error().message();
    co_return out;
  }
  std::int64_t epoch = 0;
  if (!proto::to_int64(proto::parse_info(info.value)["cluster_current_epoch"], epoch) ||
      epoch < 0) {
    out.problem = ep.address() + " did not report cluster_current_epoch in CLUSTER INFO";
    co_return out;
  }
  out.view = node_view{std::move(*lines), static_cast<std::uint64_t>(epoch), ep.address()};
  co_return out;
}

std::string flags_text(const proto::cluster_nodes_line& n) {
  std::string s;
  for (const auto& f : n.flags)
    if (f != "myself") s += (s.empty() ? "" : ",") + f;
  return s;
}

// nodes.json: the cluster as redis-cli --cluster backup describes it (name, host, port,
// replicate, slots, slots_count, flags, current_epoch = the node's config epoch), plus where
// each node's files are in this snapshot.
std::string cluster_view_json(const snapshot_job& job, const node_view& view) {
  std::map<std::string, std::string> rdb_of;  // master id -> its RDB object
  for (std::size_t i = 0; i < job.masters.size(); ++i)
    rdb_of[job.masters[i].id] = rdb_object_name(i);
  std::string out = "[";
  bool first = true;
  for (const auto& n : view.lines) {
    if (n.has_flag("handshake")) continue;
    const bool master = n.has_flag("master");
    boost::json::array slots;
    std::int64_t count = 0;
    for (const auto& s : n.slots) {
      if (s.empty() || s.front() == '[') continue;
      const auto dash = s.find('-');
      const std::int64_t lo = std::atoll(s.substr(0, dash).c_str());
      const std::int64_t hi =
          dash == std::string::npos ? lo : std::atoll(s.substr(dash + 1).c_str());
      slots.push_back(boost::json::array{lo, hi});
      count += hi - lo + 1;
    }
    boost::json::object o;
    o["name"] = n.id;
    o["host"] = n.host();
    o["port"] = n.port();
    if (master || n.master == "-")
      o["replicate"] = nullptr;
    else
      o["replicate"] = n.master;
    o["slots"] = std::move(slots);
    o["slots_count"] = count;
    o["flags"] = flags_text(n);
    o["current_epoch"] = n.config_epoch;
    o["role"] = master ? "master" : "replica";
    o["nodes_conf"] = job.topology.cluster ? "nodes/" + n.id + ".conf" : "";
    const auto rdb = rdb_of.find(master ? n.id : n.master);
    o["rdb"] = rdb == rdb_of.end() ? "" : rdb->second;
    out += std::string(first ? "\n  " : ",\n  ") + boost::json::serialize(o);
    first = false;
  }
  return out + "\n]\n";
}

asio::awaitable<void> async_save_node_configs(std::shared_ptr<snapshot_job> job) {
  redis_target probe = job->target;
  probe.config.read_timeout = std::min(probe.config.read_timeout, probe.config.connect_timeout);
  std::map<std::string, node_view> views;  // node id -> its own view
  std::string problems;
  for (const auto& n : job->topology.nodes) {
    auto got = co_await async_node_view(probe, n.ep);
    if (got.view) {
      views.emplace(n.id, std::move(*got.view));
      continue;
    }
    job->log.warn(n.ep.address(), "cannot read its own CLUSTER NODES (" + got.problem +
                                      "); its nodes.conf is built from another node's view");
    problems += (problems.empty() ? "" : "; ") + got.problem;
  }
  if (views.empty()) fail(exit_code::redis, "no node answered CLUSTER NODES: " + problems);
  // A peer view for nodes that did not answer: the first master's, else any.
  const node_view* reference = &views.begin()->second;
  if (auto it = views.find(job->masters.front().id); it != views.end()) reference = &it->second;

  for (const auto& n : job->topology.nodes) {
    const auto own = views.find(n.id);
    const node_view& view = own != views.end() ? own->second : *reference;
    // lastVoteEpoch is not exposed by any command: currentEpoch is its upper bound, and the
    // safe side (the node will not vote twice in the epoch it restarts in).
    auto conf = proto::make_nodes_conf(view.lines, n.id, view.current_epoch, view.current_epoch);
    if (!conf)
      fail(exit_code::redis, "the CLUSTER NODES of " + view.address + " does not list node " +
                                 n.id + " (" + n.ep.address() +
                                 "); the cluster is changing, run the snapshot again");
    const std::string name = "nodes/" + n.id + ".conf";
    auto file = co_await async_put(job, name, std::move(*conf));
    job->node_configs.push_back({n.id, n.ep.address(), n.master ? "master" : "replica", n.master_id,
                                 name, file.bytes, file.sha256,
                                 own != views.end() ? "self" : "peer", view.address});
  }
  job->cluster_view = co_await async_put(job, "nodes.json", cluster_view_json(*job, *reference));
}

// A standalone server: one node, no slots, no nodes.conf.
std::string standalone_view_json(const snapshot_job& job) {
  const auto& m = job.masters.front();
  boost::json::object o{{"name", m.id},
                        {"host", m.ep.host},
                        {"port", m.ep.port},
                        {"replicate", nullptr},
                        {"slots", boost::json::array{}},
                        {"slots_count", 0},
                        {"flags", "master"},
                        {"current_epoch", 0},
                        {"role", "master"},
                        {"nodes_conf", ""},
                        {"rdb", rdb_object_name(0)}};
  return "[\n  " + boost::json::serialize(o) + "\n]\n";
}

asio::awaitable<void> async_save_standalone_view(std::shared_ptr<snapshot_job> job) {
  job->cluster_view = co_await async_put(job, "nodes.json", standalone_view_json(*job));
}

// ---- RDB transfers ---------------------------------------------------------------------------

asio::awaitable<void> async_snapshot_shard(std::shared_ptr<snapshot_job> job, std::size_t index) {
  const proto::node_info master = job->masters[index];
  auto& prog = job->progress->shards[index];
  const proto::node_info source = co_await async_pick_source(job->target, job->topology, master,
                                                             job->options.prefer_replica, job->log);
  prog.read_from = source.ep.address();
  prog.started = true;
  const std::string where = (source.master ? "master " : "replica ") + source.ep.address();
  const std::string slots = describe_slots(master.slots);

  auto conn = co_await async_connect(job->target, source.ep);
  const proto::reply info = co_await proto::exec(*conn, "INFO", "server");
  if (info.is_error()) fail(exit_code::redis, where + " refused INFO: " + info.value);
  const std::string version = proto::parse_info(info.value)["redis_version"];

  const std::string name = rdb_object_name(index);
  auto writer = co_await job->store->async_create(job->id + "/" + name);
  rdb_object_sink sink(*writer, prog);
  const std::int64_t started = unix_ms();
  job->log.debug(where, "SYNC for the RDB of slots " + slots);

  proto::rdb_transfer transfer;
  std::exception_ptr error;
  try {
    transfer = co_await proto::async_sync_rdb(*conn, sink);
  } catch (const failure&) {
    error = std::current_exception();
  }
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const failure& f) {
      if (f.code() != exit_code::redis) throw;
      fail(exit_code::redis, f.error(),
           "the snapshot of slots " + slots + " from " + where + " failed: " + f.what() +
               "; the snapshot was abandoned and no manifest was "
               "written");
    }
  }
  const auto verdict = sink.check.finish();
  if (!verdict.problem.empty())
    fail(exit_code::redis, "the RDB " + where + " sent for slots " + slots + " is not sound: " +
                               verdict.problem + "; the snapshot was abandoned");
  if (!transfer.rdb_only)
    job->log.warn(where, "does not take REPLCONF rdb-only (" + transfer.rdb_only_refusal +
                             "); used plain SYNC and closed the link after the RDB");
  co_await writer->async_commit();
  job->committed.push_back(job->id + "/" + name);

  storage::shard_object o;
  o.name = name;
  o.master_id = master.id;
  o.master_address = master.ep.address();
  o.read_from = source.ep.address();
  o.read_role = source.master ? "master" : "replica";
  o.slots = master.slots;
  o.bytes = o.uncompressed_bytes = writer->bytes_written();
  o.sha256 = sink.sha.hex_digest();
  o.node_id = source.id;
  o.redis_version = version;
  o.rdb_version = static_cast<std::uint64_t>(verdict.version);
  o.transfer = transfer.framing == proto::rdb_framing::eof_marker ? "diskless" : "disk";
  o.started_at = storage::rfc3339_ms(started);
  o.finished_at = storage::rfc3339_ms(unix_ms());
  job->objects[index] = std::move(o);
  prog.done = true;
}

// Takes shards one after another; `concurrency` of these run side by side.
asio::awaitable<void> async_snapshot_worker(std::shared_ptr<snapshot_job> job) {
  while (job->next_shard < job->masters.size()) {
    const std::size_t index = job->next_shard++;
    co_await async_snapshot_shard(job, index);
  }
}

asio::awaitable<void> async_run(std::shared_ptr<snapshot_job> job) {
  if (job->topology.cluster)
    co_await async_save_node_configs(job);
  else
    co_await async_save_standalone_view(job);
  const std::size_t shards = job->masters.size();
  const std::size_t workers =
      job->options.concurrency > 0
          ? std::min(shards, static_cast<std::size_t>(job->options.concurrency))
          : shards;
  task_group group(co_await asio::this_coro::executor);
  for (std::size_t i = 0; i < workers; ++i) group.spawn(async_snapshot_worker(job));
  co_await group.async_join();
  if (!job->options.pod_files.empty()) {
    job->pod_node_configs = co_await async_store_pod_files(
        job->store, job->id, std::move(job->options.pod_files), job->log);
    for (const auto& c : job->pod_node_configs) {
      if (!c.name.empty()) job->committed.push_back(job->id + "/" + c.name);
    }
  }
}

bool cancelled(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    return e.code() == asio::error::operation_aborted;
  } catch (...) {
    return false;
  }
}

}  // namespace

asio::awaitable<storage::manifest> async_snapshot(redis_target target, snapshot_options options,
                                                  std::shared_ptr<storage::store> store,
                                                  std::shared_ptr<snapshot_progress> progress,
                                                  logger log) {
  auto job = std::make_shared<snapshot_job>();
  co_await async_begin(*job, std::move(target), std::move(store), log);
  // The claim goes with the committed objects if the snapshot fails.
  job->committed.push_back(job->id + "/" + std::string(storage::claim_name));
  job->options = std::move(options);
  job->progress = progress;
  for (const auto* m : job->topology.masters()) job->masters.push_back(*m);
  job->objects.resize(job->masters.size());
  progress->id = job->id;
  progress->shards.assign(job->masters.size(), {});
  for (std::size_t i = 0; i < job->masters.size(); ++i)
    progress->shards[i].master = progress->shards[i].read_from = job->masters[i].ep.address();

  auto& st = job->status;
  st.id = job->id;
  st.kind = "snapshot";
  st.phase = "Running";
  st.pod = pod_name(job->options.pod);
  st.started_at = storage::rfc3339_ms(job->started_ms);
  st.backup_path = job->store->location() + "/" + job->id;
  co_await async_write_status(job);

  std::exception_ptr error;
  try {
    co_await async_run(job);
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    // Objects that were committed go, so no half snapshot is left; status.json stays and says why.
    // After SIGTERM the cancellation is set: reset it, or every await below throws at once.
    co_await asio::this_coro::reset_cancellation_state();
    try {
      if (!job->committed.empty()) co_await job->store->async_remove(job->committed);
    } catch (const std::exception& e) {
      log.warn(job->id, std::string("cleanup of the abandoned snapshot failed: ") + e.what());
    }
    st.phase = "Failed";
    st.error = describe(error);
    st.completed_at = storage::rfc3339_ms(unix_ms());
    try {
      co_await async_write_status(job);
    } catch (const std::exception& e) {
      log.warn(job->id, std::string("cannot record the failure in status.json: ") + e.what());
    }
    if (cancelled(error))
      fail(exit_code::interrupted, "snapshot " + job->id + " interrupted; nothing was kept");
    std::rethrow_exception(error);
  }

  storage::manifest m = manifest_begun(*job);
  m.kind = "snapshot";
  m.objects = job->objects;
  for (const auto& o : m.objects) m.total_bytes += o.bytes;
  m.node_configs = job->node_configs;
  m.cluster_view = job->cluster_view;
  m.pod_node_configs = job->pod_node_configs;
  m.finished_at = storage::rfc3339_ms(unix_ms());
  // The manifest is the commit point: written last, and only if no other run wrote one.
  const std::string manifest_json = storage::to_json(m);
  co_await async_commit_manifest(job->store, job->id, manifest_json);

  st.phase = "Completed";
  st.completed_at = m.finished_at;
  st.backup_size = m.total_bytes;
  st.checksum_sha256 = storage::sha256_hex(manifest_json);
  try {
    co_await async_write_status(job);
  } catch (const std::exception& e) {
    log.warn(job->id, std::string("the snapshot is complete, but status.json could not be "
                                  "updated: ") +
                          e.what());
  }
  co_return m;
}

}  // namespace kage::engine
