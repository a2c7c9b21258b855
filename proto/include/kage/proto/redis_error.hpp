#pragma once
// Redis error replies, classified once by their leading word so callers decide by value, never
// by searching the text. The text itself stays with the value: a user reads the server's words.
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <string_view>

namespace kage::proto {

enum class redis_errc {
  moved = 1,         // MOVED <slot> <host:port>: the slot lives on another master
  ask,               // ASK <slot> <host:port>: the slot is migrating; ask there, after ASKING
  clusterdown,       // CLUSTERDOWN: the cluster cannot serve this slot right now
  tryagain,          // TRYAGAIN: a multi-key command during resharding
  loading,           // LOADING: the server is loading its dataset
  masterdown,        // MASTERDOWN: a replica whose link to its master is down
  busy,              // BUSY: a script or function is running
  readonly,          // READONLY: a write sent to a replica
  noperm,            // NOPERM: the ACL user may not run this command or touch this key
  noauth,            // NOAUTH: the server requires a password
  wrongpass,         // WRONGPASS / invalid password: authentication refused
  no_password_set,   // AUTH sent to a server that has no password configured
  busykey,           // BUSYKEY: RESTORE without REPLACE of a key that exists
  unknown_command,   // unknown command or subcommand (an older server)
  bad_payload,       // DUMP payload version or checksum are wrong
  library_exists,    // FUNCTION RESTORE: a library of the dump is already loaded
  cluster_disabled,  // a cluster command sent to a server without cluster support
  other,             // any other error reply
};

const boost::system::error_category& redis_category() noexcept;
boost::system::error_code make_error_code(redis_errc e) noexcept;

struct redis_error {
  redis_errc code = redis_errc::other;
  std::string_view text;  // the whole reply, e.g. "MOVED 3999 127.0.0.1:6381"
  // MOVED/ASK only: the slot and the node that serves it (an IPv6 host without brackets).
  int slot = -1;
  std::string_view host;
  std::uint16_t port = 0;

  bool is_redirect() const noexcept { return code == redis_errc::moved || code == redis_errc::ask; }
  // The cluster or node cannot serve keys for now (a failover, a restart): try again later.
  bool is_transient() const noexcept;
  // The server lacks the command, or the user may not run it, as opposed to an error about
  // the key or the cluster's state (which say the command itself works).
  bool command_unavailable() const noexcept {
    return code == redis_errc::unknown_command || code == redis_errc::noperm;
  }
};

// The text of an error reply (without the leading '-'). A MOVED/ASK whose slot or address
// cannot be read is `other`, so it cannot be followed by mistake.
redis_error classify_redis_error(std::string_view text) noexcept;

}  // namespace kage::proto

template <>
struct boost::system::is_error_code_enum<kage::proto::redis_errc> : std::true_type {};
