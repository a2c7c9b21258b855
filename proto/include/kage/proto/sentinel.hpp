#pragma once
// Redis Sentinel: what kage asks the sentinels (the primary's address and its replicas) and how
// it decides whom to believe. Parsers and the vote are sans-IO; one coroutine asks a sentinel.
#include <kage/proto/connection.hpp>

#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kage::proto {

enum class sentinel_errc {
  unreachable = 1,  // no sentinel answered
  auth_refused,     // a sentinel refused the sentinel user/password
  unknown_master,   // the sentinels monitor no master of that name
  no_agreement,     // the sentinels that answered name different primaries, none a majority
  not_primary,      // the address the sentinels name does not answer as a primary (yet)
  bad_reply,        // a SENTINEL reply kage cannot read
  primary_lost,     // the primary went away during a job (a failover); the job follows it
};

const boost::system::error_category& sentinel_category() noexcept;
boost::system::error_code make_error_code(sentinel_errc e) noexcept;

struct sentinel_replica {
  endpoint ep;
  std::string run_id;
  std::string flags;                     // "slave", "slave,s_down,disconnected", ...
  std::int64_t master_link_down_ms = 0;  // master-link-down-time
  std::int64_t replication_offset = -1;  // slave-repl-offset
  std::string master_link_status;        // "ok" or "err"
};

// SENTINEL GET-MASTER-ADDR-BY-NAME: the address, or nullopt for a null reply (unknown name).
boost::system::result<std::optional<endpoint>> parse_master_addr(const reply& r);
// SENTINEL REPLICAS (alias SLAVES): one entry per replica the sentinel knows.
boost::system::result<std::vector<sentinel_replica>> parse_sentinel_replicas(const reply& r);

// One "+switch-master" pub/sub message: "<name> <old-ip> <old-port> <new-ip> <new-port>"
// (words separated by spaces or tabs). nullopt for anything else, ports outside 1-65535 included.
struct switch_master {
  std::string name;
  endpoint from;
  endpoint to;
};
std::optional<switch_master> parse_switch_master(std::string_view payload);

// A replica worth reading from: not flagged down or disconnected, its link to the primary up,
// and down no longer than max_link_down_ms.
bool usable_replica(const sentinel_replica& r, std::int64_t max_link_down_ms) noexcept;

// The answers of the sentinels that answered, in the order they were asked. The primary is the
// address most of them name; a tie goes to the one named first. A sentinel whose answer the
// others outvote is not trusted. nullopt when there are no answers.
struct sentinel_vote {
  endpoint primary;
  std::size_t votes = 0;
  std::size_t answers = 0;
  std::vector<std::size_t> dissenters;  // indexes into the answers
};
std::optional<sentinel_vote> vote_primary(const std::vector<endpoint>& answers);

// What one sentinel says about master `name`. Throws kage::failure(exit_code::redis) on a
// transport failure (as connection::async_exec) or a reply kage cannot read; unknown_master
// is a value (primary nullopt, known_masters lists the names the sentinel does monitor).
struct sentinel_answer {
  std::optional<endpoint> primary;
  std::vector<sentinel_replica> replicas;
  std::vector<std::string> known_masters;  // filled only when primary is nullopt
};
asio::awaitable<sentinel_answer> async_ask_sentinel(connection& conn, std::string name);

}  // namespace kage::proto

template <>
struct boost::system::is_error_code_enum<kage::proto::sentinel_errc> : std::true_type {};
