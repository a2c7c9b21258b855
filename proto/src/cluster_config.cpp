#include <kage/base/endpoint.hpp>
#include <kage/proto/cluster_config.hpp>
#include <kage/proto/error.hpp>

#include <algorithm>
#include <charconv>

namespace kage::proto {

namespace {

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (at < line.size()) {
    const auto end = std::min(line.find(' ', at), line.size());
    if (end > at) out.push_back(line.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

}  // namespace

std::optional<slot_field> parse_slot_field(std::string_view field) {
  const auto number = [](std::string_view text, int& v) {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    return ec == std::errc{} && p == text.data() + text.size() && v >= 0 && v <= max_slot;
  };
  slot_field out;
  if (!field.empty() && field.front() == '[') {
    if (field.size() < 2 || field.back() != ']') return std::nullopt;
    const auto body = field.substr(1, field.size() - 2);
    auto arrow = body.find("->-");
    out.state = slot_field::kind::migrating;
    if (arrow == std::string_view::npos) {
      arrow = body.find("-<-");
      out.state = slot_field::kind::importing;
    }
    if (arrow == std::string_view::npos || !number(body.substr(0, arrow), out.range.first)) {
      return std::nullopt;
    }
    out.range.last = out.range.first;
    out.peer = std::string(body.substr(arrow + 3));
    return out;
  }
  const auto dash = field.find('-');
  if (dash == std::string_view::npos) {
    if (!number(field, out.range.first)) return std::nullopt;
    out.range.last = out.range.first;
  } else if (!number(field.substr(0, dash), out.range.first) ||
             !number(field.substr(dash + 1), out.range.last) || out.range.first > out.range.last) {
    return std::nullopt;
  }
  return out;
}

bool valid_node_id(std::string_view id) noexcept {
  return id.size() == 40 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool cluster_nodes_line::has_flag(std::string_view flag) const noexcept {
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

std::string cluster_nodes_line::host() const {
  auto ep = parse_redis_address(address);
  return ep ? ep->host : std::string();
}

int cluster_nodes_line::port() const {
  auto ep = parse_redis_address(address);
  return ep ? ep->port : 0;
}

std::string cluster_nodes_line::text() const {
  std::string flag_text;
  for (const auto& f : flags) flag_text += (flag_text.empty() ? "" : ",") + f;
  std::string out = id + " " + address + " " + (flag_text.empty() ? "noflags" : flag_text) + " " +
                    master + " " + ping_sent + " " + pong_recv + " " +
                    std::to_string(config_epoch) + " " + link_state;
  for (const auto& s : slots) out += " " + s;
  return out;
}

boost::system::result<std::vector<cluster_nodes_line>> parse_cluster_nodes_lines(
    std::string_view text) {
  std::vector<cluster_nodes_line> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const auto f = words(line);
    if (f.size() < 8) return make_error_code(errc::protocol_error);
    cluster_nodes_line n;
    n.id = std::string(f[0]);
    n.address = std::string(f[1]);
    for (std::string_view flags = f[2]; !flags.empty();) {
      const auto comma = std::min(flags.find(','), flags.size());
      const auto flag = flags.substr(0, comma);
      if (!flag.empty() && flag != "noflags") n.flags.emplace_back(flag);
      flags.remove_prefix(std::min(comma + 1, flags.size()));
    }
    n.master = std::string(f[3]);
    if (!valid_node_id(n.id) || (n.master != "-" && !valid_node_id(n.master)))
      return make_error_code(errc::bad_node_id);
    n.ping_sent = std::string(f[4]);
    n.pong_recv = std::string(f[5]);
    auto [p, ec] = std::from_chars(f[6].data(), f[6].data() + f[6].size(), n.config_epoch);
    if (ec != std::errc{} || p != f[6].data() + f[6].size())
      return make_error_code(errc::protocol_error);
    n.link_state = std::string(f[7]);
    for (std::size_t i = 8; i < f.size(); ++i) n.slots.emplace_back(f[i]);
    out.push_back(std::move(n));
  }
  return out;
}

boost::system::result<std::string> make_nodes_conf(const std::vector<cluster_nodes_line>& view,
                                                   std::string_view node_id,
                                                   std::uint64_t current_epoch,
                                                   std::uint64_t last_vote_epoch) {
  std::string out;
  bool found = false;
  for (auto line : view) {
    if (line.has_flag("handshake")) continue;
    std::erase(line.flags, "myself");
    if (line.id == node_id) {
      found = true;
      line.flags.insert(line.flags.begin(), "myself");
      line.ping_sent = "0";
      line.pong_recv = "0";
    }
    out += line.text() + "\n";
  }
  if (!found) return make_error_code(errc::protocol_error);
  out += "vars currentEpoch " + std::to_string(current_epoch) + " lastVoteEpoch " +
         std::to_string(last_vote_epoch) + "\n";
  return out;
}

}  // namespace kage::proto
