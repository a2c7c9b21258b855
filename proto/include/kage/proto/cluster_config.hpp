#pragma once
// CLUSTER NODES lines as text fields, and the nodes.conf a node reads at start-up to come back
// with its identity. Sans-IO.
#include <kage/base/slot_range.hpp>

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kage::proto {

// One line of CLUSTER NODES (the same format as a nodes.conf line):
// <id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch>
// <link-state> <slot>...
struct cluster_nodes_line {
  std::string id;
  std::string address;             // "ip:port@cport[,hostname]" verbatim
  std::vector<std::string> flags;  // "myself", "master", "slave", "fail?", ...
  std::string master;              // master id, "-" for masters
  std::string ping_sent;
  std::string pong_recv;
  std::uint64_t config_epoch = 0;
  std::string link_state;
  std::vector<std::string> slots;  // "0-5460", "7", "[93->-<id>]" verbatim

  bool has_flag(std::string_view flag) const noexcept;
  std::string host() const;  // the ip before ":port"
  int port() const;          // 0 when unreadable
  std::string text() const;  // the line, without a newline
};

// One slot field of a CLUSTER NODES line: "0-5460" or "7" (served), "[93->-<id>]" (migrating
// slot 93 to node id), "[93-<-<id>]" (importing it from node id). nullopt when malformed or a
// slot is outside 0-16383.
struct slot_field {
  enum class kind { served, migrating, importing };
  kind state = kind::served;
  slot_range range;
  std::string peer;  // the other node's id, for migrating and importing
};
std::optional<slot_field> parse_slot_field(std::string_view field);

// A Redis Cluster node id: exactly 40 lowercase hex characters. Ids become object keys and file
// names, so nothing else (no "/", no "..") may pass.
bool valid_node_id(std::string_view id) noexcept;

// errc::protocol_error on a line with fewer than 8 fields or a non-numeric config epoch;
// errc::bad_node_id when a node id, or a replica's master id, is not valid_node_id.
boost::system::result<std::vector<cluster_nodes_line>> parse_cluster_nodes_lines(
    std::string_view text);

// The nodes.conf of `node_id` from a view of the cluster (one node's CLUSTER NODES): that view's
// lines with "myself" moved to node_id's own line (first among its flags, as Redis writes it,
// with ping-sent/pong-recv 0 0), nodes in handshake left out (Redis does not save them), then
// "vars currentEpoch <current_epoch> lastVoteEpoch <last_vote_epoch>". errc::protocol_error
// when node_id is not in the view.
boost::system::result<std::string> make_nodes_conf(const std::vector<cluster_nodes_line>& view,
                                                   std::string_view node_id,
                                                   std::uint64_t current_epoch,
                                                   std::uint64_t last_vote_epoch);

}  // namespace kage::proto
