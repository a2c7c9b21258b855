#include "shard_scanner.hpp"

#include <kage/proto/error.hpp>
#include <kage/proto/redis_text.hpp>

#include <algorithm>

namespace kage::engine {

using proto::resp_node;
using proto::resp_type;

std::int64_t expire_at(std::int64_t ttl, bool absolute, std::int64_t now) noexcept {
  if (ttl < 0) return 0;
  return std::max<std::int64_t>(1, absolute ? ttl : now + ttl);
}

shard_scanner::shard_scanner(scan_settings settings)
    : s_(std::move(settings)), count_(std::to_string(s_.scan_count)) {
  if (s_.patterns.empty()) s_.patterns.push_back("");
}

void shard_scanner::write_commands(std::string& out) {
  if (!probed_) {
    // PEXPIRETIME (Redis 7.0+) answers with the expiry the server holds. PTTL's relative
    // answer is turned into an absolute time when its reply is read, later by however long the
    // reply waited behind a slow store, stretching every TTL by that much. Servers without it
    // (6.2), or an ACL user not allowed it, get PTTL.
    if (!probe_sent_) {
      proto::append_command(out, {"PEXPIRETIME", s_.probe_key});
      pending_.emplace_back().k = kind::probe;
      probe_sent_ = true;
    }
    return;
  }
  // DUMPs go out while the replies in flight are estimated (from recent sizes) to stay under
  // max_inflight_bytes, so a keyspace of large values does not pile up in Redis' output
  // buffer while the store is slow.
  const auto byte_window = static_cast<std::size_t>(
      std::max(1.0, static_cast<double>(s_.max_inflight_bytes) / average_value_));
  const char* const ttl = ttl_command();
  while (!queued_.empty() && keys_in_flight_ < std::min(s_.window, byte_window)) {
    proto::append_command(out, {ttl, queued_.front()});
    proto::append_command(out, {"DUMP", queued_.front()});
    pending_.emplace_back().key = std::move(queued_.front());
    queued_.pop_front();
    ++keys_in_flight_;
  }
  // SCAN runs ahead of the DUMPs so the server always has work queued.
  if (!scan_in_flight_ && !scan_done_ && queued_.size() < static_cast<std::size_t>(s_.scan_count)) {
    const std::string& pattern = s_.patterns[pattern_];
    if (pattern.empty()) {
      proto::append_command(out, {"SCAN", cursor_, "COUNT", count_});
    } else {
      proto::append_command(out, {"SCAN", cursor_, "MATCH", pattern, "COUNT", count_});
    }
    pending_.emplace_back().k = kind::scan;
    scan_in_flight_ = true;
  }
}

shard_scanner::step shard_scanner::failed(boost::system::error_code code,
                                          std::string message) const {
  step st;
  st.kind = step_kind::failed;
  st.code = code;
  st.message = std::move(message);
  return st;
}

shard_scanner::step shard_scanner::failed(const proto::redis_error& e, std::string message) const {
  step st = failed(make_error_code(e.code), std::move(message));
  st.error = e;
  return st;
}

shard_scanner::step shard_scanner::on_reply(std::span<const resp_node> reply, std::int64_t now_ms) {
  pending& p = pending_.front();
  const resp_node& top = reply[0];
  switch (p.k) {
    case kind::probe:
      pending_.pop_front();
      return on_probe(top);
    case kind::scan:
      pending_.pop_front();
      return on_scan(reply);
    case kind::key:
      if (!p.ttl_read) return on_ttl(p, top);
      return on_dump(p, top, now_ms);
  }
  return {};
}

shard_scanner::step shard_scanner::on_probe(const resp_node& top) {
  probed_ = true;
  if (top.type == resp_type::error &&
      proto::classify_redis_error(top.value).command_unavailable()) {
    absolute_ttl_ = false;
    ttl_refusal_.assign(top.value);
  }
  step st;
  st.kind = step_kind::ttl_mode;
  return st;
}

shard_scanner::step shard_scanner::on_scan(std::span<const resp_node> r) {
  scan_in_flight_ = false;
  const resp_node& top = r[0];
  if (top.type == resp_type::error) {
    const auto e = proto::classify_redis_error(top.value);
    return failed(e, "SCAN on " + s_.where + " failed: " + std::string(top.value));
  }
  if (top.type != resp_type::array || top.size != 2 || r.size() < 3 ||
      r[2].type != resp_type::array || r.size() != 3 + r[2].size) {
    return failed(proto::errc::protocol_error,
                  s_.where + " answered SCAN with an unexpected reply");
  }
  cursor_.assign(r[1].value);
  for (std::size_t i = 3; i < r.size(); ++i) {
    const std::string_view key = r[i].value;
    bool seen = false;  // a key matching an earlier pattern was taken in that pass
    for (std::size_t q = 0; q < pattern_ && !seen; ++q)
      seen = proto::glob_match(s_.patterns[q], key);
    if (!seen) queued_.emplace_back(key);
  }
  if (cursor_ == "0" && ++pattern_ == s_.patterns.size()) scan_done_ = true;
  return {};
}

shard_scanner::step shard_scanner::on_ttl(pending& p, const resp_node& top) {
  p.ttl_read = true;
  if (top.type == resp_type::error) {
    const auto e = proto::classify_redis_error(top.value);
    if (e.is_transient()) {
      step st;
      st.kind = step_kind::retry;
      st.error = e;
      st.message = s_.where + " answered " + std::string(top.value);
      return st;
    }
    if (!e.is_redirect()) {
      return failed(e, std::string(ttl_command()) + " of '" + proto::printable(p.key) + "' on " +
                           s_.where + " failed: " + std::string(top.value));
    }
    p.redirect.assign(top.value);  // followed once the DUMP's reply is in
    return {};
  }
  if (!proto::to_int64(top.value, p.ttl)) {
    return failed(proto::errc::protocol_error,
                  s_.where + " answered " + ttl_command() + " with an unexpected reply");
  }
  return {};
}

shard_scanner::step shard_scanner::on_dump(pending& p, const resp_node& top, std::int64_t now_ms) {
  current_key_ = std::move(p.key);
  current_error_ = std::move(p.redirect);
  const std::int64_t ttl = p.ttl;
  pending_.pop_front();
  --keys_in_flight_;
  step st;
  st.key = current_key_;
  if (top.type == resp_type::error) {
    st.error = proto::classify_redis_error(top.value);
    if (st.error.is_transient()) {
      st.kind = step_kind::retry;
      st.message = s_.where + " answered " + std::string(top.value);
      return st;
    }
  }
  if (top.type == resp_type::error || !current_error_.empty()) {
    // A redirect of the TTL command wins: the key is read again there, TTL and DUMP together.
    if (current_error_.empty()) current_error_.assign(top.value);
    st.error = proto::classify_redis_error(current_error_);
    if (!st.error.is_redirect()) {
      return failed(st.error, "DUMP of '" + proto::printable(current_key_) + "' on " + s_.where +
                                  " failed: " + current_error_);
    }
    st.kind = step_kind::redirect;
    return st;
  }
  if (top.type == resp_type::null || ttl == -2) {
    st.kind = step_kind::vanished;  // deleted or expired between SCAN and DUMP
    return st;
  }
  average_value_ = average_value_ * 0.9 + static_cast<double>(top.value.size()) * 0.1;
  return take_payload(current_key_, s_.where, top, ttl, now_ms);
}

shard_scanner::step shard_scanner::take_payload(std::string_view key, std::string_view node,
                                                const resp_node& dump, std::int64_t ttl,
                                                std::int64_t now_ms) const {
  // Archived as it comes: a payload that is not what Redis writes makes a backup that only
  // verify or restore would reject, later.
  const std::string what = "DUMP of '" + proto::printable(key) + "' on " + std::string(node);
  if (dump.type != resp_type::bulk_string)
    return failed(proto::errc::protocol_error,
                  what + " answered " +
                      (proto::is_aggregate(dump.type) ? std::string("an aggregate reply")
                                                      : "'" + proto::printable(dump.value) + "'") +
                      ", not a DUMP payload (a bulk string); the backup was abandoned");
  if (const auto problem = proto::dump_payload_problem(dump.value, s_.max_rdb_version);
      !problem.empty())
    return failed(proto::errc::protocol_error,
                  what + " returned a payload that " + problem +
                      "; the node or the connection corrupted it, so the backup was abandoned");
  step st;
  st.key = key;
  st.kind = step_kind::key;
  st.expire_at_ms = expire_at(ttl, absolute_ttl_, now_ms);
  st.payload = dump.value;
  return st;
}

std::vector<std::string> shard_scanner::redirect_commands(std::string_view key) const {
  std::vector<std::string> out(2);
  proto::append_command(out[0], {ttl_command(), key});
  proto::append_command(out[1], {"DUMP", key});
  return out;
}

shard_scanner::step shard_scanner::on_redirected(std::string_view key, std::string_view node,
                                                 const proto::reply& ttl, const proto::reply& dump,
                                                 std::int64_t now_ms) {
  step st;
  st.key = key;
  for (const proto::reply* r : {&ttl, &dump}) {
    if (r->is_error()) {
      return failed(proto::classify_redis_error(r->value),
                    "reading key '" + proto::printable(key) + "' from " + std::string(node) +
                        " after a redirect failed: " + r->value);
    }
  }
  std::int64_t t = -2;
  proto::to_int64(ttl.value, t);
  if (dump.type == resp_type::null || t == -2) {
    st.kind = step_kind::vanished;
    return st;
  }
  resp_node node_reply;
  node_reply.type = dump.type;
  node_reply.value = dump.value;
  return take_payload(key, node, node_reply, t, now_ms);
}

}  // namespace kage::engine
