#include <kage/base/error.hpp>
#include <kage/proto/redis_error.hpp>
#include <kage/proto/sentinel.hpp>

#include <algorithm>

namespace kage::proto {
namespace {

struct category final : boost::system::error_category {
  const char* name() const noexcept override { return "kage.sentinel"; }
  std::string message(int ev) const override {
    switch (static_cast<sentinel_errc>(ev)) {
      case sentinel_errc::unreachable:
        return "No sentinel answered.";
      case sentinel_errc::auth_refused:
        return "A sentinel refused the sentinel credentials.";
      case sentinel_errc::unknown_master:
        return "The sentinels monitor no master of that name.";
      case sentinel_errc::no_agreement:
        return "The sentinels do not agree on the primary.";
      case sentinel_errc::not_primary:
        return "The address the sentinels name does not answer as a primary.";
      case sentinel_errc::bad_reply:
        return "A sentinel sent a reply kage cannot read.";
      case sentinel_errc::primary_lost:
        return "The primary went away during the job.";
    }
    return "Unknown sentinel error.";
  }
};

boost::system::error_code bad() {
  return make_error_code(sentinel_errc::bad_reply);
}

std::optional<endpoint> endpoint_of(std::string_view host, std::string_view port_text) {
  std::int64_t port = 0;
  if (host.empty() || !to_int64(port_text, port) || port <= 0 || port > 65535) return std::nullopt;
  return endpoint{std::string(host), static_cast<std::uint16_t>(port)};
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool has_flag(std::string_view flags, std::string_view flag) {
  std::size_t start = 0;
  while (start <= flags.size()) {
    auto end = flags.find(',', start);
    if (end == std::string_view::npos) end = flags.size();
    if (flags.substr(start, end - start) == flag) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

const boost::system::error_category& sentinel_category() noexcept {
  static const category instance;
  return instance;
}

boost::system::error_code make_error_code(sentinel_errc e) noexcept {
  return {static_cast<int>(e), sentinel_category()};
}

boost::system::result<std::optional<endpoint>> parse_master_addr(const reply& r) {
  if (r.is_null()) return std::optional<endpoint>{};
  if (r.type != resp_type::array || r.elements.size() != 2 || !r.elements[0].is_string() ||
      !r.elements[1].is_string()) {
    return bad();
  }
  auto ep = endpoint_of(r.elements[0].value, r.elements[1].value);
  if (!ep) return bad();
  return std::optional<endpoint>(std::move(*ep));
}

boost::system::result<std::vector<sentinel_replica>> parse_sentinel_replicas(const reply& r) {
  if (r.type != resp_type::array && r.type != resp_type::set) return bad();
  std::vector<sentinel_replica> out;
  for (const auto& entry : r.elements) {
    auto text = [&](std::string_view key) -> std::string_view {
      const reply* v = entry.find(key);
      return v && v->is_string() ? std::string_view(v->value) : std::string_view();
    };
    auto ep = endpoint_of(text("ip"), text("port"));
    if (!ep) return bad();
    sentinel_replica s;
    s.ep = std::move(*ep);
    s.run_id = text("runid");
    s.flags = text("flags");
    s.master_link_status = text("master-link-status");
    if (auto v = text("master-link-down-time"); !v.empty() && !to_int64(v, s.master_link_down_ms))
      return bad();
    if (auto v = text("slave-repl-offset"); !v.empty() && !to_int64(v, s.replication_offset))
      return bad();
    out.push_back(std::move(s));
  }
  return out;
}

bool usable_replica(const sentinel_replica& r, std::int64_t max_link_down_ms) noexcept {
  for (std::string_view f : {"s_down", "o_down", "disconnected"}) {
    if (has_flag(r.flags, f)) return false;
  }
  if (!r.master_link_status.empty() && r.master_link_status != "ok") return false;
  return r.master_link_down_ms <= max_link_down_ms;
}

std::optional<sentinel_vote> vote_primary(const std::vector<endpoint>& answers) {
  if (answers.empty()) return std::nullopt;
  sentinel_vote best;
  for (const auto& candidate : answers) {
    const auto votes =
        static_cast<std::size_t>(std::count(answers.begin(), answers.end(), candidate));
    if (votes > best.votes) {  // strictly more: a tie stays with the one named first
      best.primary = candidate;
      best.votes = votes;
    }
  }
  best.answers = answers.size();
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (!(answers[i] == best.primary)) best.dissenters.push_back(i);
  }
  return best;
}

std::optional<switch_master> parse_switch_master(std::string_view payload) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < payload.size() && words.size() <= 5) {
    while (i < payload.size() && is_space(payload[i])) ++i;
    const auto start = i;
    while (i < payload.size() && !is_space(payload[i])) ++i;
    if (i > start) words.push_back(payload.substr(start, i - start));
  }
  if (words.size() != 5) return std::nullopt;
  auto from = endpoint_of(words[1], words[2]);
  auto to = endpoint_of(words[3], words[4]);
  if (!from || !to) return std::nullopt;
  return switch_master{std::string(words[0]), std::move(*from), std::move(*to)};
}

}  // namespace kage::proto
