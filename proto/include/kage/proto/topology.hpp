#pragma once
// Cluster topology: who owns which slots, who replicates whom. Parsers are sans-IO; one
// coroutine asks a live node.
#include <kage/base/slot_range.hpp>
#include <kage/proto/connection.hpp>

#include <array>
#include <map>

namespace kage::proto {

using kage::slot_range;

struct node_info {
  std::string id;
  endpoint ep;
  bool master = false;
  std::string master_id;                 // replicas: their master
  std::vector<slot_range> slots;         // masters
  bool healthy = true;                   // not failing, not in handshake, reachable, loaded
  std::int64_t replication_offset = -1;  // -1 when unknown
};

struct topology {
  bool cluster = true;  // false: a standalone server, modelled as one master owning every slot
  std::vector<node_info> nodes;

  // Masters that own slots, ordered by their first slot.
  std::vector<const node_info*> masters() const;
  std::vector<const node_info*> replicas_of(std::string_view master_id) const;
  const node_info* find(std::string_view id) const;
  // Index into masters() for each slot; -1 where no master owns the slot.
  std::array<std::int16_t, 16384> slot_owners() const;
  bool covers_all_slots() const;
};

// `CLUSTER NODES` text. `queried` fills in the address of the "myself" line when it has none.
boost::system::result<topology> parse_cluster_nodes(std::string_view text, const endpoint& queried);
// `CLUSTER SHARDS` reply (Redis 7.0+). tls picks "tls-port" over "port".
boost::system::result<topology> parse_cluster_shards(const reply& r, bool tls);
// `INFO` text as field -> value.
std::map<std::string, std::string> parse_info(std::string_view text);

// RDB version that a Redis version writes (and the newest it reads): 6.2 -> 9, 7.0 -> 10,
// 7.2 -> 11, 7.4 -> 12. 0 when the version text is not understood.
int rdb_version_for(std::string_view redis_version) noexcept;

// Asks the node behind conn. Uses CLUSTER SHARDS, falling back to CLUSTER NODES on servers
// older than 7.0, and a one-master topology for a standalone server. Throws
// kage::failure(exit_code::redis) with the server's words when neither works.
asio::awaitable<topology> async_load_topology(connection& conn, bool tls);

}  // namespace kage::proto
