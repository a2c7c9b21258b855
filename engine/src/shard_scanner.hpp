#pragma once
// Private, sans-IO: the commands one shard's logical backup sends and what each reply means.
// No I/O inside: the caller appends write_commands() to the connection, reads replies in order
// and feeds each to on_reply(), which says what to do with it (archive a key, count a vanished
// key, follow a redirect, read the shard again later, or give up). See the diagram in backup.cpp.
#include <kage/proto/redis_error.hpp>
#include <kage/proto/resp.hpp>

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kage::engine {

struct scan_settings {
  std::string where;                  // the node read from, for messages
  std::vector<std::string> patterns;  // SCAN MATCH patterns, one pass each; empty: every key
  int scan_count = 1000;              // SCAN COUNT, and how many keys may wait for their DUMP
  std::size_t window = 256;           // keys whose PEXPIRETIME/PTTL + DUMP are in flight
  std::size_t max_inflight_bytes = std::size_t{64} << 20;  // estimated DUMP bytes in flight
  std::string probe_key;    // a key of the shard, for the PEXPIRETIME probe
  int max_rdb_version = 0;  // newest RDB version a DUMP may name (0: not checked)
};

class shard_scanner {
 public:
  enum class step_kind : std::uint8_t {
    none,      // a SCAN page or a TTL was taken in; nothing to do
    ttl_mode,  // the PEXPIRETIME probe was answered: absolute_ttl() is decided
    key,       // archive key with expire_at_ms and payload
    vanished,  // the key was deleted or expired between SCAN and DUMP
    redirect,  // MOVED/ASK: read key from the node `error` names (redirect_commands, on_redirected)
    retry,     // the node cannot serve keys for now (CLUSTERDOWN, TRYAGAIN...): read it again later
    failed,    // the backup cannot go on: message, code
  };
  struct step {
    step_kind kind = step_kind::none;
    std::string_view key;            // key, vanished, redirect
    std::int64_t expire_at_ms = 0;   // key: absolute unix ms, 0 = none
    std::string_view payload;        // key: the DUMP payload
    proto::redis_error error;        // redirect, retry, failed by a Redis error
    boost::system::error_code code;  // failed
    std::string message;             // retry, failed
  };
  // Views in a step stay valid until the next on_reply/on_redirected and the next read.

  explicit shard_scanner(scan_settings settings);

  // Appends the commands that are due to `out` (the connection's output buffer): first the
  // probe alone, then SCAN pages and pairs of PEXPIRETIME|PTTL + DUMP within the windows.
  void write_commands(std::string& out);
  // No reply is awaited: after write_commands, the shard has been read completely.
  bool idle() const noexcept { return pending_.empty(); }

  // The next reply, in the order of the commands written. now_ms: the local clock, which
  // turns a PTTL into an absolute time.
  step on_reply(std::span<const proto::resp_node> reply, std::int64_t now_ms);

  // After a redirect step: the commands (RESP-encoded, one per element) that read the key on
  // the node named, and what their replies mean (a key, vanished, or failed).
  std::vector<std::string> redirect_commands(std::string_view key) const;
  step on_redirected(std::string_view key, std::string_view node, const proto::reply& ttl,
                     const proto::reply& dump, std::int64_t now_ms);

  bool absolute_ttl() const noexcept { return absolute_ttl_; }
  const std::string& ttl_refusal() const noexcept { return ttl_refusal_; }  // why PTTL is used
  const char* ttl_command() const noexcept { return absolute_ttl_ ? "PEXPIRETIME" : "PTTL"; }

 private:
  enum class kind : std::uint8_t { probe, scan, key };
  struct pending {
    kind k = kind::key;
    bool ttl_read = false;
    std::int64_t ttl = -2;  // the PEXPIRETIME / PTTL reply, once read
    std::string key;
    std::string redirect;  // the MOVED/ASK the TTL command got, if it did
  };

  step on_probe(const proto::resp_node& top);
  step on_scan(std::span<const proto::resp_node> reply);
  step on_ttl(pending& p, const proto::resp_node& top);
  step on_dump(pending& p, const proto::resp_node& top, std::int64_t now_ms);
  step failed(boost::system::error_code code, std::string message) const;
  step failed(const proto::redis_error& e, std::string message) const;
  // A key step for a DUMP reply, or failed when the reply is not a whole DUMP payload.
  step take_payload(std::string_view key, std::string_view node, const proto::resp_node& dump,
                    std::int64_t ttl, std::int64_t now_ms) const;

  scan_settings s_;
  std::string count_;
  std::deque<pending> pending_;     // one entry per command written, replies come in this order
  std::deque<std::string> queued_;  // keys SCAN returned, waiting for their turn
  std::size_t keys_in_flight_ = 0;
  std::string cursor_ = "0";
  std::size_t pattern_ = 0;
  bool probe_sent_ = false;
  bool probed_ = false;
  bool absolute_ttl_ = true;
  std::string ttl_refusal_;
  bool scan_in_flight_ = false;
  bool scan_done_ = false;
  double average_value_ = 256;  // recent DUMP sizes, for the byte window
  std::string current_key_;     // the key of the last step
  std::string current_error_;   // the redirect of the last step
};

// A record's absolute expiry (unix ms, 0 = none) from a PTTL reply (relative to `now`) or,
// with `absolute`, from a PEXPIRETIME reply. -1: no expiry; -2 is handled by the caller.
std::int64_t expire_at(std::int64_t ttl, bool absolute, std::int64_t now) noexcept;

}  // namespace kage::engine
