#pragma once
// manifest.json: written last, the commit point of a backup (storage/FORMAT.md).
#include <kage/base/slot_range.hpp>
#include <kage/storage/backup_id.hpp>  // ids and times of manifests

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kage::storage {

inline constexpr int format_version = 1;

using kage::slot_range;

struct topology_node {
  std::string id;                 // CLUSTER node id (40 hex); for a standalone server, its run_id
  std::string address;            // host:port
  std::string role;               // "master" | "replica"
  std::string master_id;          // for replicas
  std::vector<slot_range> slots;  // masters only
};

struct shard_object {
  std::string name;       // object name inside the backup, e.g. "shard-00.resp.zst"
  std::string master_id;  // the master whose slots this object holds
  std::string master_address;
  std::string read_from;  // address actually read (a replica with prefer-replica)
  std::string read_role;  // "master" | "replica"
  std::vector<slot_range> slots;
  std::uint64_t bytes = 0;  // object size in the store (compressed)
  std::uint64_t uncompressed_bytes = 0;
  std::uint64_t keys = 0;
  std::uint64_t vanished = 0;  // keys SCAN returned that were gone before DUMP
  bool functions = false;      // holds a FUNCTION RESTORE record
  std::string sha256;          // of the stored (compressed) bytes, lowercase hex

  // Kind "snapshot" only (written and required there, absent from logical manifests): where
  // the RDB came from. A snapshot's logical fields hold: uncompressed_bytes = bytes, keys = 0
  // (not counted), vanished = 0, functions = false.
  std::string node_id;            // cluster id of the node read (read_from)
  std::string redis_version;      // redis_version of that node
  std::uint64_t rdb_version = 0;  // the 4 digits after "REDIS" at the start of the RDB
  std::string transfer;           // "diskless" (EOF-marked) or "disk" (length-prefixed)
  std::string started_at;         // when SYNC was sent, RFC 3339 UTC with milliseconds
  std::string finished_at;        // when the last RDB byte was stored
};

// Kind "snapshot": the nodes.conf kept for one cluster node, "nodes/<node_id>.conf".
struct node_config {
  std::string node_id;
  std::string address;    // host:port
  std::string role;       // "master" | "replica"
  std::string master_id;  // replicas: their master; "" for masters
  std::string name;       // "nodes/<node_id>.conf"
  std::uint64_t bytes = 0;
  std::string sha256;
  std::string source;          // "self": the node's own CLUSTER NODES; "peer": another node's view
  std::string source_address;  // the node whose CLUSTER NODES it was built from
};

// An auxiliary object of a backup (the snapshot's nodes.json).
struct stored_file {
  std::string name;
  std::uint64_t bytes = 0;
  std::string sha256;
};

// Any kind, with --pods: the nodes.conf read from one Kubernetes pod by exec, byte for byte, as
// "pods/<pod>.nodes.conf"; or, when it could not be read, why (name, bytes, sha256 empty).
struct pod_node_config {
  std::string pod;      // the pod's name
  std::string path;     // the file read in the pod (NODECONF_FILE_PATH)
  std::string node_id;  // the "myself" line's node id; "" when the file has none
  std::string name;     // "pods/<pod>.nodes.conf"; "" when it could not be read
  std::uint64_t bytes = 0;
  std::string sha256;  // "" when it could not be read
  std::string error;   // "" when read
};

struct manifest {
  int format = format_version;
  std::string kind = "logical";  // "logical" | "snapshot" (RDB files + nodes.conf per node)
  std::string id;
  std::string kage_version;
  std::string started_at;  // RFC 3339 UTC with milliseconds
  std::string finished_at;
  std::string redis_version;
  bool cluster = true;  // false: a standalone server backed up as one shard
  std::vector<std::string> patterns;
  std::vector<topology_node> topology;
  std::vector<shard_object> objects;
  // totals
  std::uint64_t total_keys = 0;
  std::uint64_t total_bytes = 0;
  std::uint64_t total_vanished = 0;
  // kind "snapshot" only
  std::vector<node_config> node_configs;  // one per cluster node; [] for a standalone server
  stored_file cluster_view;               // "nodes.json"
  // Optional (absent from manifests written without --pods, and then empty).
  std::vector<pod_node_config> pod_node_configs;
};

enum class manifest_errc {
  bad_json = 1,        // not JSON, or not a JSON object
  missing_field,       // a required field is absent
  wrong_type,          // a field has the wrong JSON type
  bad_value,           // a field's value is out of range or malformed
  unsupported_format,  // "format" names a version this kage does not read
};
const boost::system::error_category& manifest_category() noexcept;
boost::system::error_code make_error_code(manifest_errc e) noexcept;

std::string to_json(const manifest& m);  // pretty-printed, stable key order
// Strict: every field to_json writes is required and type-checked; unknown fields are ignored.
// On error, *error_message (when not null) gets a sentence naming the field, e.g.
// "manifest.json: field 'objects[2].sha256' is missing".
boost::system::result<manifest> parse_manifest(std::string_view json, std::string* error_message);

inline constexpr std::string_view manifest_name = "manifest.json";

}  // namespace kage::storage

template <>
struct boost::system::is_error_code_enum<kage::storage::manifest_errc> : std::true_type {};
