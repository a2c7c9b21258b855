#include <kage/base/error.hpp>
#include <kage/proto/cluster_config.hpp>
#include <kage/proto/redis_error.hpp>
#include <kage/proto/topology.hpp>

#include <boost/asio/awaitable.hpp>

#include <algorithm>
#include <charconv>

namespace kage::proto {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto end = s.find(sep, start);
    if (end == std::string_view::npos) {
      parts.push_back(s.substr(start));
      break;
    }
    parts.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool to_int(std::string_view s, int& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc{} && p == s.data() + s.size();
}

boost::system::error_code bad() {
  return make_error_code(errc::protocol_error);
}

}  // namespace

std::vector<const node_info*> topology::masters() const {
  std::vector<const node_info*> out;
  for (const auto& n : nodes) {
    if (n.master && !n.slots.empty()) out.push_back(&n);
  }
  std::sort(out.begin(), out.end(), [](const node_info* a, const node_info* b) {
    return a->slots[0].first < b->slots[0].first;
  });
  return out;
}

std::vector<const node_info*> topology::replicas_of(std::string_view master_id) const {
  std::vector<const node_info*> out;
  for (const auto& n : nodes) {
    if (!n.master && n.master_id == master_id) out.push_back(&n);
  }
  return out;
}

const node_info* topology::find(std::string_view id) const {
  for (const auto& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

std::array<std::int16_t, 16384> topology::slot_owners() const {
  std::array<std::int16_t, 16384> owners;
  owners.fill(-1);
  const auto ms = masters();
  for (std::size_t i = 0; i < ms.size(); ++i) {
    for (const auto& r : ms[i]->slots) {
      for (int s = r.first; s <= r.last; ++s) owners[s] = static_cast<std::int16_t>(i);
    }
  }
  return owners;
}

bool topology::covers_all_slots() const {
  const auto owners = slot_owners();
  return std::none_of(owners.begin(), owners.end(), [](std::int16_t o) { return o < 0; });
}

boost::system::result<topology> parse_cluster_nodes(std::string_view text,
                                                    const endpoint& queried) {
  auto lines = parse_cluster_nodes_lines(text);
  if (!lines) return lines.error();
  topology t;
  for (const auto& line : *lines) {
    node_info n;
    n.id = line.id;
    // ip:port@cport[,hostname]; IPv6 unbracketed ("::1:7000@17000")
    auto address = parse_redis_address(line.address);
    if (!address) return bad();
    n.ep = std::move(*address);
    const bool myself = line.has_flag("myself");
    if (n.ep.host.empty() && myself) n.ep.host = queried.host;
    if (myself && n.ep.port == 0) n.ep.port = queried.port;
    n.master = line.has_flag("master");
    if (!n.master && !line.has_flag("slave")) continue;  // "noflags" entries in handshake
    n.healthy = !(line.has_flag("fail") || line.has_flag("fail?") || line.has_flag("handshake") ||
                  line.has_flag("noaddr")) &&
                line.link_state == "connected";
    if (myself) n.healthy = !line.has_flag("fail");
    if (line.master != "-") n.master_id = line.master;
    for (std::string_view slot : line.slots) {
      auto field = parse_slot_field(slot);
      if (!field) return bad();
      if (field->state == slot_field::kind::served) n.slots.push_back(field->range);
    }
    std::sort(n.slots.begin(), n.slots.end(),
              [](const slot_range& a, const slot_range& b) { return a.first < b.first; });
    t.nodes.push_back(std::move(n));
  }
  if (t.nodes.empty()) return bad();
  return t;
}

boost::system::result<topology> parse_cluster_shards(const reply& r, bool tls) {
  if (r.type != resp_type::array) return bad();
  topology t;
  for (const auto& shard : r.elements) {
    const reply* slots = shard.find("slots");
    const reply* nodes = shard.find("nodes");
    if (!slots || !nodes || nodes->type != resp_type::array) return bad();
    std::vector<slot_range> ranges;
    for (std::size_t i = 0; i + 1 < slots->elements.size(); i += 2) {
      std::int64_t a, b;
      if (!to_int64(slots->elements[i].value, a) || !to_int64(slots->elements[i + 1].value, b) ||
          a < 0 || b >= 16384 || a > b) {
        return bad();
      }
      ranges.push_back({static_cast<int>(a), static_cast<int>(b)});
    }
    std::sort(ranges.begin(), ranges.end(),
              [](const slot_range& a, const slot_range& b) { return a.first < b.first; });
    std::string master_id;
    std::vector<node_info> members;
    for (const auto& node : nodes->elements) {
      node_info n;
      auto text = [&](std::string_view key) -> std::string {
        const reply* v = node.find(key);
        return v ? v->value : std::string();
      };
      n.id = text("id");
      n.ep.host = text("ip");
      if (n.ep.host.empty()) n.ep.host = text("endpoint");
      std::int64_t port = 0, tls_port = 0, offset = -1;
      if (const reply* p = node.find("port")) to_int64(p->value, port);
      if (const reply* p = node.find("tls-port")) to_int64(p->value, tls_port);
      if (const reply* p = node.find("replication-offset")) to_int64(p->value, offset);
      std::int64_t chosen = tls ? (tls_port ? tls_port : port) : (port ? port : tls_port);
      if (chosen <= 0 || chosen > 65535) return bad();
      if (!valid_node_id(n.id)) return make_error_code(errc::bad_node_id);
      n.ep.port = static_cast<std::uint16_t>(chosen);
      n.master = text("role") == "master";
      // Redis 7.0 reports replicas at offset 0 as "loading"; only "failed" is conclusive here.
      n.healthy = text("health") != "failed";
      n.replication_offset = offset;
      if (n.master) {
        master_id = n.id;
        n.slots = ranges;
      }
      members.push_back(std::move(n));
    }
    // Redis 7.2 can list a failed old master beside the promoted one: the healthy one owns
    // the slots, the other is kept as a (failed) replica of it.
    const auto healthy_master = std::find_if(
        members.begin(), members.end(), [](const node_info& n) { return n.master && n.healthy; });
    if (healthy_master != members.end()) master_id = healthy_master->id;
    for (auto& n : members) {
      if (n.master && n.id != master_id) {
        n.master = false;
        n.slots.clear();
      }
      if (!n.master) n.master_id = master_id;
      t.nodes.push_back(std::move(n));
    }
  }
  if (t.nodes.empty()) return bad();
  return t;
}

std::map<std::string, std::string> parse_info(std::string_view text) {
  std::map<std::string, std::string> fields;
  for (auto line : split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    fields.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  return fields;
}

int rdb_version_for(std::string_view v) noexcept {
  int major = 0, minor = 0;
  const auto dot = v.find('.');
  if (dot == std::string_view::npos || !to_int(v.substr(0, dot), major)) return 0;
  auto rest = v.substr(dot + 1);
  if (!to_int(rest.substr(0, rest.find('.')), minor)) return 0;
  if (major > 7 || (major == 7 && minor >= 4)) return 12;
  if (major == 7 && minor >= 2) return 11;
  if (major == 7) return 10;
  if (major == 6) return 9;
  if (major == 5) return 9;
  if (major == 4) return 8;
  return 0;
}

asio::awaitable<topology> async_load_topology(connection& conn, bool tls) {
  const std::string where = conn.remote().address();
  reply shards = co_await exec(conn, "CLUSTER", "SHARDS");
  if (!shards.is_error()) {
    auto t = parse_cluster_shards(shards, tls);
    if (!t)
      fail(exit_code::redis, where + " answered CLUSTER SHARDS with a reply kage cannot read: " +
                                 t.error().message());
    co_return std::move(*t);
  }
  if (classify_redis_error(shards.value).code == redis_errc::cluster_disabled) {
    reply info = co_await exec(conn, "INFO", "server");
    if (info.is_error()) fail(exit_code::redis, where + " refused INFO: " + info.value);
    auto fields = parse_info(info.value);
    topology t;
    t.cluster = false;
    node_info n;
    n.id = fields["run_id"];
    n.ep = conn.remote();
    n.master = true;
    n.slots = {{0, 16383}};
    t.nodes.push_back(std::move(n));
    co_return t;
  }
  // Older than 7.0: no CLUSTER SHARDS.
  reply nodes = co_await exec(conn, "CLUSTER", "NODES");
  if (nodes.is_error()) {
    fail(exit_code::redis,
         where + " refused CLUSTER SHARDS (" + shards.value + ") and CLUSTER NODES (" +
             nodes.value + "); the user needs the +cluster|shards or +cluster|nodes permission");
  }
  auto t = parse_cluster_nodes(nodes.value, conn.remote());
  if (!t)
    fail(exit_code::redis,
         where + " answered CLUSTER NODES with text kage cannot read: " + t.error().message());
  co_return std::move(*t);
}

}  // namespace kage::proto
