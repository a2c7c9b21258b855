#pragma once
// Physical snapshots: every master's RDB, taken the way a replica takes it (REPLCONF rdb-only +
// SYNC), streamed straight into the store with its SHA-256; the nodes.conf of every node; and
// the init-container side, fetch, which puts one node's files into a Redis data directory.
#include <kage/base/log.hpp>
#include <kage/engine/pod_files.hpp>
#include <kage/engine/target.hpp>
#include <kage/storage/manifest.hpp>
#include <kage/storage/store.hpp>

namespace kage::engine {

struct snapshot_options {
  bool prefer_replica = false;      // read each shard from a healthy replica when there is one
  int concurrency = 0;              // shards transferred at once; 0 = all
  std::string pod;                  // status.json "pod": $POD_NAME or the host name when empty
  std::vector<pod_file> pod_files;  // --pods: each pod's nodes.conf, stored beside the RDBs
};

struct snapshot_shard_progress {
  std::string master;     // address of the master whose slots this shard holds
  std::string read_from;  // address being read
  std::uint64_t bytes = 0;
  bool started = false;
  bool done = false;
};

struct snapshot_progress {
  std::string id;
  std::vector<snapshot_shard_progress> shards;
};

// Takes a snapshot of every master (at most `concurrency` at once) into a new backup in
// `store`: <id>/shard-NN.rdb, <id>/nodes/<node-id>.conf, <id>/nodes.json, manifest.json last;
// <id>/status.json says Running, then Completed or Failed. On failure nothing that looks
// complete is left (committed RDBs are removed, status.json keeps the error); throws
// kage::failure (redis when a source fails or refuses, store, integrity).
asio::awaitable<storage::manifest> async_snapshot(redis_target target, snapshot_options options,
                                                  std::shared_ptr<storage::store> store,
                                                  std::shared_ptr<snapshot_progress> progress,
                                                  logger log);

struct fetch_options {
  std::string id;        // empty: the newest complete snapshot
  std::string node_id;   // whose files to fetch
  std::string data_dir;  // the Redis data directory (created when missing)
  std::string rdb_name = "dump.rdb";
  std::string conf_name = "nodes.conf";
  bool force = false;  // replace a non-empty dump / nodes.conf
};

struct fetch_result {
  std::string id;
  std::string role;   // of the node: "master" | "replica"
  std::string shard;  // the RDB object fetched, e.g. "shard-01.rdb"
  std::string rdb_path;
  std::string conf_path;  // "" for a standalone server's snapshot (no nodes.conf)
  std::uint64_t rdb_bytes = 0;
};

// Puts node_id's shard RDB (a replica gets its master's) and its own nodes.conf into data_dir:
// each downloaded under a temporary name, checked against the manifest (size and SHA-256; the
// RDB's frame and CRC-64 too), and only when both are sound renamed into place. Throws
// failure: usage (would overwrite a non-empty file without force), integrity (checksum), the
// store's, incompatible (no such snapshot or node), failure (the data directory).
asio::awaitable<fetch_result> async_fetch(std::shared_ptr<storage::store> store,
                                          fetch_options options);

}  // namespace kage::engine
