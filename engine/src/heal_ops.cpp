// The healer's multi-step actions, each carried out the way redis-cli --cluster does it, after
// re-reading every node it touches:
//
//   create_cluster (rule 6): every layout node still empty and alone ─► ADDSLOTSRANGE on the
//     masters ─► SET-CONFIG-EPOCH 1..n ─► MEET all from the first ─► wait until all know all ─►
//     REPLICATE each replica to its master's id
//   close_migration (rule 5), one slot:
//     both ends open (MIGRATING on the owner, IMPORTING on the peer): MIGRATE the owner's keys
//       in the slot to the peer, then SETSLOT NODE peer on the peer, the owner and every master
//     only the owner open: SETSLOT STABLE on it (no key can have reached a peer not importing)
//     only the peer open: ASKING + MIGRATE its keys in the slot back to the owner, then STABLE
//   A MIGRATE the peer refuses (BUSYKEY: the key exists on both) stops with nothing overwritten.
//   take_slots (rule 4): the empty joined master drops the dead owner's claim from its own
//     table (DELSLOTSRANGE), claims the slots (ADDSLOTSRANGE) and takes a new config epoch
//     (BUMPEPOCH), so every node accepts it as the owner over the failed one
//   restore_slots (rule 4): a restore of the newest complete backup limited to those slots,
//     into the cluster through that node
#include <kage/base/error.hpp>
#include <kage/engine/heal.hpp>
#include <kage/engine/restore.hpp>
#include <kage/proto/connection.hpp>

#include "heal_io.hpp"

#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>

namespace kage::engine::heal_io {

namespace {

using steady = std::chrono::steady_clock;

asio::awaitable<std::unique_ptr<proto::connection>> async_open(const redis_target& target,
                                                               std::string ip, int port,
                                                               std::string& why) {
  const proto::endpoint ep = pod_endpoint(ip, port);
  std::unique_ptr<proto::connection> conn;
  try {
    conn = co_await async_connect(target, ep);
  } catch (const failure& f) {
    why = f.what();
  }
  co_return conn;
}

// Sends one command; true when the node answered without an error reply, else why says so.
asio::awaitable<bool> async_ok(proto::connection& conn, std::vector<std::string> command,
                               proto::reply& reply, std::string& why) {
  const auto name = command.size() > 1 && (command[0] == "CLUSTER" || command[0] == "CONFIG")
                        ? command[0] + " " + command[1]
                        : command[0];
  auto ec = co_await conn.async_exec(std::move(command), reply);
  if (ec) {
    why = name + ": " + proto::describe_transport_error(conn.remote(), ec);
    co_return false;
  }
  if (reply.is_error()) {
    why = name + " refused by " + conn.remote().address() + ": " + reply.value;
    co_return false;
  }
  co_return true;
}

// One command on the node at ip (a connection of its own).
asio::awaitable<bool> async_ok_at(const redis_target& target, std::string ip, int port,
                                  std::vector<std::string> command, std::string& why) {
  auto conn = co_await async_open(target, ip, port, why);
  if (!conn) co_return false;
  proto::reply reply;
  auto ok = co_await async_ok(*conn, std::move(command), reply, why);
  co_return ok;
}

// Whether the node at v is still what rule 6 may build on: alone, no slots, no keys, epoch 0.
std::string not_empty(const heal_view& v) {
  const auto* self = self_line(v);
  if (!self) return v.ip + " has no 'myself' line";
  if (v.nodes.size() != 1) return v.ip + " knows " + std::to_string(v.nodes.size() - 1) + " peers";
  if (!self->slots.empty()) return v.ip + " serves slots";
  if (v.keys != 0) return v.ip + " holds " + std::to_string(v.keys) + " keys";
  if (self->config_epoch != 0)
    return v.ip + " has config epoch " + std::to_string(self->config_epoch);
  return {};
}

// The open-slot marker of `slot` in the node's own line: migrating or importing, and the peer.
std::optional<proto::slot_field> open_field(const heal_view& v, int slot) {
  const auto* self = self_line(v);
  if (!self) return std::nullopt;
  for (const auto& text : self->slots) {
    auto f = proto::parse_slot_field(text);
    if (f && f->state != proto::slot_field::kind::served && f->range.first == slot) return f;
  }
  return std::nullopt;
}

// Moves every key of `slot` from `from` to the node at to_ip, 100 at a time; `asking` when
// `from` imports the slot (it answers for keys it does not own only after ASKING).
asio::awaitable<bool> async_move_keys(const redis_target& target, proto::connection& from,
                                      std::string to_ip, int port, int slot, bool asking,
                                      std::uint64_t& moved, std::string& why) {
  const auto until = steady::now() + std::chrono::minutes(10);
  for (;;) {
    proto::reply keys;
    auto listed = co_await async_ok(
        from, words("CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "100"), keys, why);
    if (!listed) co_return false;
    if (keys.elements.empty()) co_return true;
    if (steady::now() > until) {
      why = "slot " + std::to_string(slot) + " still holds keys after 10 minutes of MIGRATE";
      co_return false;
    }
    std::vector<std::string> migrate =
        words("MIGRATE", to_ip, std::to_string(port), "", "0", "60000");
    if (target.config.password) {
      if (target.config.user.empty()) {
        migrate.push_back("AUTH");
      } else {
        migrate.push_back("AUTH2");
        migrate.push_back(target.config.user);
      }
      migrate.push_back(*target.config.password);
    }
    migrate.push_back("KEYS");
    for (const auto& k : keys.elements) migrate.push_back(k.value);
    proto::reply reply;
    if (asking) {
      auto asked = co_await async_ok(from, words("ASKING"), reply, why);
      if (!asked) co_return false;
    }
    auto ok = co_await async_ok(from, std::move(migrate), reply, why);
    if (!ok) co_return false;
    moved += keys.elements.size();
  }
}

// The slots the line's node serves (ranges and single slots; open-slot markers skipped).
std::vector<slot_range> served_by(const proto::cluster_nodes_line& line) {
  std::vector<slot_range> out;
  for (const auto& text : line.slots) {
    auto f = proto::parse_slot_field(text);
    if (f && f->state == proto::slot_field::kind::served) out.push_back(f->range);
  }
  return out;
}

std::vector<slot_range> served_by_self(const heal_view& v) {
  const auto* self = self_line(v);
  if (!self) return {};
  return served_by(*self);
}

// The cluster as reached through one node (its CLUSTER SLOTS names the rest).
redis_target through_node(const redis_target& target, const std::string& ip, int port) {
  redis_target out = target;
  out.seeds.clear();
  out.seeds.push_back(pod_endpoint(ip, port));
  out.sentinel.reset();
  return out;
}

bool overlaps(const std::vector<slot_range>& a, const std::vector<slot_range>& b) {
  for (const auto& x : a) {
    for (const auto& y : b) {
      if (x.first <= y.last && y.first <= x.last) return true;
    }
  }
  return false;
}

bool covers(const std::vector<slot_range>& have, const slot_range& want) {
  for (int s = want.first; s <= want.last; ++s) {
    if (std::none_of(have.begin(), have.end(),
                     [s](const slot_range& r) { return s >= r.first && s <= r.last; }))
      return false;
  }
  return true;
}

}  // namespace

asio::awaitable<heal_result> async_create_cluster(const redis_target& target, heal_result r,
                                                  int port) {
  const auto layout = r.action.layout;
  // Just before acting: every node is still alone, empty and without an epoch.
  for (const auto& node : layout) {
    std::string why;
    auto v = co_await async_read_view(target, node.ip, port, why);
    if (!v) {
      r.detail = "not done: " + why;
      co_return r;
    }
    if (auto no = not_empty(*v); !no.empty()) {
      r.detail = "not done: " + no + " now: a cluster is never created over it";
      co_return r;
    }
  }
  std::string why;
  const auto failed_at = [&](const std::string& step) {
    r.detail = "failed at " + step + ": " + why +
               " (the next rounds join the rest by rule 1; a node with slots is never "
               "bootstrapped again)";
  };
  for (std::size_t i = 0; i < layout.size(); ++i) {
    const auto& node = layout[i];
    auto conn = co_await async_open(target, node.ip, port, why);
    if (!conn) {
      failed_at("connecting to " + node.ip);
      co_return r;
    }
    proto::reply reply;
    for (const auto& range : node.slots) {
      auto ok = co_await async_ok(*conn,
                                  words("CLUSTER", "ADDSLOTSRANGE", std::to_string(range.first),
                                        std::to_string(range.last)),
                                  reply, why);
      if (!ok) {
        failed_at("assigning slots");
        co_return r;
      }
      r.acted = true;
    }
    auto epoch = co_await async_ok(
        *conn, words("CLUSTER", "SET-CONFIG-EPOCH", std::to_string(i + 1)), reply, why);
    if (!epoch) {
      failed_at("setting config epochs");
      co_return r;
    }
  }
  for (std::size_t i = 1; i < layout.size(); ++i) {
    auto met =
        co_await async_ok_at(target, layout.front().ip, port,
                             words("CLUSTER", "MEET", layout[i].ip, std::to_string(port)), why);
    if (!met) {
      failed_at("MEET");
      co_return r;
    }
  }
  // Every node must know every other (no handshake) before a replica can name its master.
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer pause(ex);
  const auto until = steady::now() + std::chrono::seconds(60);
  for (;;) {
    std::string missing;
    for (const auto& node : layout) {
      auto v = co_await async_read_view(target, node.ip, port, why);
      const bool joined = v && v->nodes.size() == layout.size() &&
                          std::none_of(v->nodes.begin(), v->nodes.end(),
                                       [](const auto& line) { return line.has_flag("handshake"); });
      if (!joined) {
        missing = node.ip;
        break;
      }
    }
    if (missing.empty()) break;
    if (steady::now() > until) {
      why = missing + " does not know all " + std::to_string(layout.size()) + " nodes after 60 s";
      failed_at("waiting for the nodes to meet");
      co_return r;
    }
    pause.expires_after(std::chrono::milliseconds(200));
    co_await pause.async_wait(asio::deferred);
  }
  std::size_t replicas = 0;
  for (const auto& node : layout) {
    if (node.replica_of.empty()) continue;
    auto master = co_await async_open(target, node.replica_of, port, why);
    if (!master) {
      failed_at("reading the id of " + node.replica_of);
      co_return r;
    }
    proto::reply id;
    auto read = co_await async_ok(*master, words("CLUSTER", "MYID"), id, why);
    if (!read) {
      failed_at("reading the id of " + node.replica_of);
      co_return r;
    }
    auto made =
        co_await async_ok_at(target, node.ip, port, words("CLUSTER", "REPLICATE", id.value), why);
    if (!made) {
      failed_at("making " + node.ip + " a replica");
      co_return r;
    }
    ++replicas;
  }
  r.acted = true;
  r.detail = "done: created the cluster on " + std::to_string(layout.size()) + " nodes (" +
             std::to_string(layout.size() - replicas) + " masters, " + std::to_string(replicas) +
             " replicas) from " + layout.front().ip;
  co_return r;
}

asio::awaitable<heal_result> async_close_migration(const redis_target& target, heal_result r,
                                                   int port) {
  const auto& a = r.action;
  const int slot = a.slots.empty() ? -1 : a.slots.front().first;
  const std::string s = std::to_string(slot);
  std::string why;
  // Just before acting: read the owner (a.target) and find the peer's address in its view.
  auto owner = co_await async_read_view(target, a.target, port, why);
  if (!owner || slot < 0) {
    r.detail = "not done: " + (slot < 0 ? std::string("no slot in the action") : why);
    co_return r;
  }
  const auto* peer_line = find_line(*owner, a.peer);
  if (!peer_line) {
    r.detail = "not done: " + a.target + " does not know node " + a.peer.substr(0, 8);
    co_return r;
  }
  const std::string peer_ip = peer_line->host();
  auto peer = co_await async_read_view(target, peer_ip, port, why);
  if (!peer) {
    r.detail = "not done: " + why;
    co_return r;
  }
  const auto out = open_field(*owner, slot);
  const auto in = open_field(*peer, slot);
  const bool migrating =
      out && out->state == proto::slot_field::kind::migrating && out->peer == a.peer;
  const bool importing =
      in && in->state == proto::slot_field::kind::importing && in->peer == a.source;
  std::uint64_t moved = 0;
  if (migrating && importing) {
    auto from = co_await async_open(target, a.target, port, why);
    if (!from) {
      r.detail = "not done: " + why;
      co_return r;
    }
    auto all_moved =
        co_await async_move_keys(target, *from, peer_ip, port, slot, false, moved, why);
    r.acted = moved > 0;
    if (!all_moved) {
      r.detail = "failed after moving " + std::to_string(moved) + " keys of slot " + s + ": " +
                 why + " (nothing was overwritten; the slot stays open on both ends)";
      co_return r;
    }
    // Hand the slot over: the importer first (it then owns it), the owner, then every master.
    std::vector<std::string> order{peer_ip, a.target};
    for (const auto& line : owner->nodes) {
      if (line.has_flag("master") && !line.has_flag("fail") && line.host() != peer_ip &&
          line.host() != a.target)
        order.push_back(line.host());
    }
    for (std::size_t i = 0; i < order.size(); ++i) {
      auto set = co_await async_ok_at(target, order[i], port,
                                      words("CLUSTER", "SETSLOT", s, "NODE", a.peer), why);
      if (!set && i < 2) {
        r.acted = true;
        r.detail = "failed handing slot " + s + " to " + peer_ip + ": " + why;
        co_return r;
      }
    }
    r.acted = true;
    r.detail = "done: moved " + std::to_string(moved) + " keys of slot " + s + " from " + a.target +
               " to " + peer_ip + " and handed the slot over";
    co_return r;
  }
  if (migrating) {
    // The peer does not import the slot, so it cannot hold keys of it; make sure before STABLE.
    auto conn = co_await async_open(target, peer_ip, port, why);
    proto::reply count;
    bool counted = false;
    if (conn) {
      counted = co_await async_ok(*conn, words("CLUSTER", "COUNTKEYSINSLOT", s), count, why);
    }
    if (!counted || count.value != "0") {
      r.detail = "not done: " + (counted ? peer_ip + " holds " + count.value + " keys of slot " +
                                               s + ": move them back by hand"
                                         : why);
      co_return r;
    }
    auto stable =
        co_await async_ok_at(target, a.target, port, words("CLUSTER", "SETSLOT", s, "STABLE"), why);
    r.acted = stable;
    r.detail = stable ? "done: slot " + s + " is stable again on " + a.target : "failed: " + why;
    co_return r;
  }
  if (importing) {
    auto from = co_await async_open(target, peer_ip, port, why);
    if (!from) {
      r.detail = "not done: " + why;
      co_return r;
    }
    auto all_back = co_await async_move_keys(target, *from, a.target, port, slot, true, moved, why);
    r.acted = moved > 0;
    if (!all_back) {
      r.detail = "failed after moving " + std::to_string(moved) + " keys of slot " + s +
                 " back to " + a.target + ": " + why + " (nothing was overwritten)";
      co_return r;
    }
    proto::reply reply;
    auto stable = co_await async_ok(*from, words("CLUSTER", "SETSLOT", s, "STABLE"), reply, why);
    r.acted = r.acted || stable;
    r.detail = stable ? "done: moved " + std::to_string(moved) + " keys of slot " + s +
                            " back to " + a.target + "; the slot is stable again on " + peer_ip
                      : "failed: " + why;
    co_return r;
  }
  r.detail = "not done: slot " + s + " is no longer open between " + a.target + " and " + peer_ip;
  co_return r;
}

asio::awaitable<heal_result> async_take_slots(const redis_target& target, heal_result r, int port) {
  const auto& a = r.action;
  std::string why;
  // Just before acting: the node is an empty master that knows the cluster, and no live node
  // serves any of the slots (only failed ones may still claim them).
  auto now = co_await async_read_view(target, a.target, port, why);
  if (!now) {
    r.detail = "not done: " + why;
    co_return r;
  }
  const auto* self = self_line(*now);
  if (!self || !self->has_flag("master") || !self->slots.empty() || now->keys != 0 ||
      now->nodes.size() < 2) {
    r.detail = "not done: " + a.target + " is no longer an empty master that knows the cluster";
    co_return r;
  }
  for (const auto& line : now->nodes) {
    if (line.has_flag("fail") || line.has_flag("noaddr")) continue;
    if (overlaps(served_by(line), a.slots)) {
      r.detail = "not done: node " + line.id.substr(0, 8) + " at " + line.host() +
                 " serves some of slots " + describe_slots(a.slots) + " now";
      co_return r;
    }
  }
  auto conn = co_await async_open(target, a.target, port, why);
  if (!conn) {
    r.detail = "not done: " + why;
    co_return r;
  }
  proto::reply reply;
  for (const auto& range : a.slots) {
    const auto first = std::to_string(range.first);
    const auto last = std::to_string(range.last);
    // Drop the failed owner's claim from this node's table (an unassigned slot answers an
    // error, which is fine: there is nothing to drop), then claim the slots.
    co_await conn->async_exec(words("CLUSTER", "DELSLOTSRANGE", first, last), reply);
    auto added =
        co_await async_ok(*conn, words("CLUSTER", "ADDSLOTSRANGE", first, last), reply, why);
    if (!added) {
      r.detail = "failed claiming slots " + describe_slots(a.slots) + ": " + why;
      co_return r;
    }
    r.acted = true;
  }
  auto bumped = co_await async_ok(*conn, words("CLUSTER", "BUMPEPOCH"), reply, why);
  if (!bumped) {
    r.detail = "claimed slots " + describe_slots(a.slots) + " but " + why +
               ": the other nodes may keep the failed owner until its epoch is passed";
    co_return r;
  }
  r.detail =
      "done: " + a.target + " serves slots " + describe_slots(a.slots) + " (" + reply.value + ")";
  co_return r;
}

asio::awaitable<heal_result> async_restore_slots(const redis_target& target, heal_result r,
                                                 int port,
                                                 std::shared_ptr<storage::store> backups) {
  const auto& a = r.action;
  if (!backups) {
    r.detail =
        "not done: no backup location to refill from (heal.refill_from_backup needs "
        "store.locations)";
    co_return r;
  }
  std::string why;
  auto now = co_await async_read_view(target, a.target, port, why);
  if (!now) {
    r.detail = "not done: " + why;
    co_return r;
  }
  const auto mine = served_by_self(*now);
  for (const auto& range : a.slots) {
    if (!covers(mine, range)) {
      r.detail = "not done: " + a.target + " does not serve slots " + describe_slots(a.slots);
      co_return r;
    }
  }
  const redis_target through = through_node(target, a.target, port);
  restore_options o;
  o.slots = a.slots;
  auto progress = std::make_shared<restore_progress>();
  try {
    auto m = co_await async_restore(through, o, backups, progress, logger{});
    r.acted = true;  // an empty shard refilled is still a refill
    r.detail = "done: restored " + std::to_string(progress->totals.restored) + " keys of slots " +
               describe_slots(a.slots) + " from backup " + m.id + " through " + a.target + " (" +
               std::to_string(progress->totals.present) + " already there, " +
               std::to_string(progress->totals.expired) + " expired since)";
  } catch (const failure& f) {
    r.acted = progress->totals.restored > 0;
    r.detail = "failed after restoring " + std::to_string(progress->totals.restored) +
               " keys: " + f.what() + " (the next round tries again: keys already there stay)";
  }
  co_return r;
}

std::string take_disagreement(const heal_action& a, const heal_view& v) {
  for (const auto& line : v.nodes) {
    if (line.host() != a.target) continue;
    const auto serves = served_by(line);
    for (const auto& range : a.slots) {
      if (!covers(serves, range))
        return v.ip + " does not show " + a.target + " serving the slots yet";
    }
    return {};
  }
  return v.ip + " does not know " + a.target + " yet";
}

std::string create_disagreement(const heal_action& a, const heal_view& v) {
  for (const auto& node : a.layout) {
    if (node.ip == v.ip && !v.state_ok) return v.ip + " does not say cluster_state:ok yet";
  }
  return {};
}

std::string migration_disagreement(const heal_action& a, const heal_view& v) {
  if (a.slots.empty() || !open_field(v, a.slots.front().first)) return {};
  return v.ip + " still shows slot " + std::to_string(a.slots.front().first) + " open";
}

}  // namespace kage::engine::heal_io
