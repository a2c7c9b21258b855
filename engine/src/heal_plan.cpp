#include <kage/engine/heal_plan.hpp>

#include <algorithm>
#include <array>
#include <bitset>
#include <set>
#include <sstream>

namespace kage::engine {

namespace {

using proto::cluster_nodes_line;
using proto::slot_field;

constexpr std::size_t slot_count = max_slot + 1;
constexpr auto forget_ban = std::chrono::seconds(60);  // Redis keeps a forgotten node out 60 s

// One node of the cluster as the views, taken together, describe it.
struct model_node {
  std::string id;
  std::string ip;  // where it is believed to be (its own view's address when reachable)
  bool master = false;
  std::string master_id;
  std::vector<slot_range> slots;
  std::uint64_t epoch = 0;
  int fail_votes = 0;               // voting masters whose view flags it FAIL
  int pfail_votes = 0;              // ... PFAIL
  bool failed = false;              // FAIL in the view of a majority of the masters
  const heal_view* view = nullptr;  // its own view, when it answered
  const heal_pod* pod = nullptr;    // the pod carrying it (by IP or by id)
};

struct model {
  std::map<std::string, model_node> nodes;  // by id
  std::map<std::string, const heal_view*> view_by_ip;
  std::map<std::string, std::string> id_at_ip;  // a view's ip -> its own node id
  int voters = 0;                               // masters that serve slots
};

const cluster_nodes_line* myself(const heal_view& v) {
  for (const auto& line : v.nodes) {
    if (line.has_flag("myself")) return &line;
  }
  return nullptr;
}

std::vector<slot_range> served_slots(const cluster_nodes_line& line) {
  std::vector<slot_range> out;
  for (const auto& text : line.slots) {
    auto f = proto::parse_slot_field(text);
    if (f && f->state == slot_field::kind::served) out.push_back(f->range);
  }
  return out;
}

std::vector<slot_range> to_ranges(const std::bitset<slot_count>& set) {
  std::vector<slot_range> out;
  for (int s = 0; s <= max_slot; ++s) {
    if (!set[static_cast<std::size_t>(s)]) continue;
    if (!out.empty() && out.back().last == s - 1) {
      out.back().last = s;
    } else {
      out.push_back({s, s});
    }
  }
  return out;
}

bool ignored(const cluster_nodes_line& line) {
  // Nodes in handshake carry a random id until the handshake ends; noaddr has no address.
  return line.has_flag("handshake") || line.has_flag("noflags");
}

// Joins the views: one entry per node id, its own view's word first, else the line with the
// highest config epoch (the newest claim); then the FAIL votes of the masters serving slots.
model build_model(const heal_observed& observed) {
  model m;
  for (const auto& v : observed.views) {
    m.view_by_ip[v.ip] = &v;
    if (const auto* self = myself(v)) m.id_at_ip[v.ip] = self->id;
  }
  for (const auto& v : observed.views) {
    for (const auto& line : v.nodes) {
      if (ignored(line)) continue;
      const bool own = line.has_flag("myself");
      auto [it, fresh] = m.nodes.try_emplace(line.id);
      model_node& n = it->second;
      if (!fresh && (n.view || (!own && line.config_epoch < n.epoch))) continue;
      n.id = line.id;
      n.ip = own ? v.ip : line.host();
      n.master = line.has_flag("master");
      n.master_id = line.master == "-" ? std::string() : line.master;
      n.slots = served_slots(line);
      n.epoch = line.config_epoch;
      if (own) n.view = &v;
    }
  }
  for (const auto& [id, n] : m.nodes) {
    if (n.master && !n.slots.empty()) ++m.voters;
  }
  for (const auto& v : observed.views) {
    const auto* self = myself(v);
    if (!self) continue;
    auto voter = m.nodes.find(self->id);
    if (voter == m.nodes.end() || !voter->second.master || voter->second.slots.empty()) continue;
    for (const auto& line : v.nodes) {
      if (line.has_flag("myself") || ignored(line)) continue;
      auto n = m.nodes.find(line.id);
      if (n == m.nodes.end()) continue;
      if (line.has_flag("fail")) ++n->second.fail_votes;
      if (line.has_flag("fail?")) ++n->second.pfail_votes;
    }
  }
  for (auto& [id, n] : m.nodes) n.failed = m.voters > 0 && n.fail_votes * 2 > m.voters;
  // A pod that answers carries the node it says it is; one that does not answer may still
  // carry whatever node was last seen at its IP.
  for (const auto& pod : observed.pods) {
    if (pod.ip.empty()) continue;
    if (auto at = m.id_at_ip.find(pod.ip); at != m.id_at_ip.end()) {
      if (auto n = m.nodes.find(at->second); n != m.nodes.end()) n->second.pod = &pod;
      continue;
    }
    for (auto& [id, n] : m.nodes) {
      if (!n.pod && n.ip == pod.ip) n.pod = &pod;
    }
  }
  return m;
}

// Everything a person would call a change of the cluster or of the pods.
std::string fingerprint(const heal_observed& observed, const model& m) {
  std::ostringstream out;
  for (const auto& [id, n] : m.nodes) {
    out << id << ' ' << n.ip << ' ' << n.master << ' ' << n.master_id << ' ' << n.failed << ' '
        << (n.pfail_votes > 0) << ' ' << describe_slots(n.slots) << ';';
  }
  std::vector<std::string> pods;
  for (const auto& p : observed.pods) {
    pods.push_back(p.name + ' ' + p.ip + ' ' + (p.ready ? "r" : "-") + (p.deleting ? "d" : "-"));
  }
  std::sort(pods.begin(), pods.end());
  for (const auto& p : pods) out << p << ';';
  return out.str();
}

struct planner {
  planner(const heal_observed& o, const heal_policy& p, heal_clock::time_point t)
      : observed(o), policy(p), now(t) {}

  const heal_observed& observed;
  const heal_policy& policy;
  heal_clock::time_point now;
  model m;
  heal_plan out;
  std::set<std::string> busy;  // ips already acted on in this plan

  std::chrono::milliseconds forget_after() const {
    return policy.forget_after.count() > 0 ? policy.forget_after : 2 * policy.node_timeout;
  }
  std::chrono::milliseconds stuck_after() const {
    return policy.stuck_migration_after.count() > 0 ? policy.stuck_migration_after
                                                    : 2 * policy.node_timeout;
  }
  std::string addr(const std::string& ip) const {
    return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" +
           std::to_string(policy.port);
  }

  void add(heal_action a) {
    busy.insert(a.target);
    if (a.kind == heal_action_kind::meet) busy.insert(a.peer);
    out.actions.push_back(std::move(a));
  }

  // A node every other node can be introduced to: a master serving slots that answers and is
  // not failed (a group of empty nodes that met each other is not a cluster to join).
  const model_node* healthy_node(const std::string& not_ip) const {
    for (const auto& [id, n] : m.nodes) {
      if (n.view && !n.failed && n.ip != not_ip && n.master && !n.slots.empty()) return &n;
    }
    return nullptr;
  }

  void hold_checks() {
    std::vector<std::string> why;
    if (!observed.api_fresh) why.push_back("the pod list could not be read lately");
    for (const auto& [id, n] : m.nodes) {
      if (!n.master || n.slots.empty()) continue;
      if (n.pfail_votes > 0 && !n.failed) {
        why.push_back("master " + id.substr(0, 8) + " at " + n.ip +
                      " is suspected down (PFAIL): a failover may be under way");
        break;
      }
      if (n.failed) {
        for (const auto& [rid, r] : m.nodes) {
          if (r.master_id == id && !r.failed && r.view) {
            why.push_back("master " + id.substr(0, 8) + " is FAIL and its replica " +
                          rid.substr(0, 8) + " is live: a failover is under way");
            break;
          }
        }
      }
    }
    if (out.memory.last_change && now - *out.memory.last_change < policy.node_timeout) {
      why.push_back("the cluster or the pods changed less than cluster-node-timeout ago");
    }
    std::size_t unready = 0;
    for (const auto& p : observed.pods) unready += (!p.ready || p.deleting) ? 1 : 0;
    if (!observed.pods.empty() &&
        static_cast<double>(unready) >
            policy.max_unready_fraction * static_cast<double>(observed.pods.size())) {
      why.push_back(std::to_string(unready) + " of " + std::to_string(observed.pods.size()) +
                    " pods are not ready (more than heal.max_unready_fraction)");
    }
    out.holding = !why.empty();
    for (const auto& w : why) out.findings.push_back("holding still (rule 7): " + w);
  }

  // Rule 2: a node known elsewhere at an old address, reachable at its pod's new IP. The MEET
  // goes from a node the others do not see as failed; when every pod moved at once, all of them
  // are FAIL at their old addresses, and any node that answers may introduce the others.
  void new_ips() {
    for (const auto& pod : observed.pods) {
      if (pod.ip.empty() || pod.deleting) continue;
      auto at = m.id_at_ip.find(pod.ip);
      if (at == m.id_at_ip.end()) continue;
      const std::string& id = at->second;
      bool met = false;
      for (int pass = 0; pass < 2 && !met; ++pass) {
        for (const auto& v : observed.views) {
          if (v.ip == pod.ip) continue;
          auto stale = std::find_if(v.nodes.begin(), v.nodes.end(), [&](const auto& line) {
            return line.id == id && !ignored(line) && line.host() != pod.ip;
          });
          if (stale == v.nodes.end()) continue;
          const auto voter = m.id_at_ip.find(v.ip);
          const auto holder =
              voter == m.id_at_ip.end() ? m.nodes.end() : m.nodes.find(voter->second);
          if (holder == m.nodes.end() || (pass == 0 && holder->second.failed)) continue;
          heal_action a;
          a.kind = heal_action_kind::meet;
          a.rule = 2;
          a.target = v.ip;
          a.peer = pod.ip;
          a.reason = "pod " + pod.name + " carries node " + id.substr(0, 8) + " at " + pod.ip +
                     ", which " + v.ip + " still knows at " + stale->host() +
                     ": the node keeps its id, role and slots";
          add(std::move(a));
          met = true;  // one MEET; gossip tells the others
          break;
        }
      }
    }
  }

  // Rule 1, first half: a Ready pod whose node knows nobody, holds no slots and no keys.
  void joins() {
    for (const auto& pod : observed.pods) {
      if (pod.ip.empty() || !pod.ready || pod.deleting || busy.count(pod.ip)) continue;
      auto v = m.view_by_ip.find(pod.ip);
      if (v == m.view_by_ip.end()) continue;
      const heal_view& view = *v->second;
      const auto* self = myself(view);
      if (!self || view.nodes.size() != 1 || !served_slots(*self).empty() || view.keys != 0) {
        continue;
      }
      const model_node* from = healthy_node(pod.ip);
      if (!from) {
        out.findings.push_back("pod " + pod.name + " is empty and alone, but no healthy node " +
                               "can introduce it (rule 1)");
        continue;
      }
      heal_action a;
      a.kind = heal_action_kind::meet;
      a.rule = 1;
      a.target = from->ip;
      a.peer = pod.ip;
      a.reason = "pod " + pod.name + " is Ready and its node knows no other node, holds no " +
                 "slots and no keys: it joins, then becomes a replica";
      add(std::move(a));
    }
  }

  bool empty_joined_master(const model_node& n) const {
    return n.view && n.master && n.slots.empty() && n.view->keys == 0 && !n.failed &&
           n.view->nodes.size() > 1 && n.pod && n.pod->ready && !n.pod->deleting &&
           !busy.count(n.ip) && !has_open_slots(*n.view);
  }

  static bool has_open_slots(const heal_view& v) {
    const auto* self = myself(v);
    return self && std::any_of(self->slots.begin(), self->slots.end(),
                               [](const std::string& s) { return !s.empty() && s[0] == '['; });
  }

  bool master_in_doubt() const {
    return std::any_of(m.nodes.begin(), m.nodes.end(), [](const auto& e) {
      const model_node& n = e.second;
      return n.master && !n.slots.empty() && (n.failed || n.pfail_votes > 0);
    });
  }

  // Rule 1, second half (and a master left without slots): the master, among those this node
  // knows, with the fewest live replicas; ties go to a master on another host, then zone.
  void replicate_spares() {
    // While slots are lost, or a master is in doubt (PFAIL or FAIL: its replicas may be gone
    // too), keep one empty node for rule 4's refill unless it already has one.
    const bool refill_planned =
        std::any_of(out.actions.begin(), out.actions.end(),
                    [](const heal_action& a) { return a.kind == heal_action_kind::take_slots; });
    bool keep_one = policy.refill_from_backup && !refill_planned &&
                    (!out.lost_slots.empty() || master_in_doubt());
    for (auto& [id, n] : m.nodes) {
      if (!empty_joined_master(n)) continue;
      const bool refilling = std::any_of(out.actions.begin(), out.actions.end(), [&](auto& a) {
        return a.kind == heal_action_kind::take_slots && a.target == n.ip;
      });
      if (refilling) continue;  // rule 4 gives it the lost slots
      if (keep_one) {
        keep_one = false;
        out.findings.push_back("node " + id.substr(0, 8) + " is kept empty to refill the lost " +
                               "slots, should a shard be lost (rule 4)");
        continue;
      }
      const model_node* best = nullptr;
      int best_count = 0;
      int best_spread = 0;
      for (const auto& line : n.view->nodes) {
        auto cand = m.nodes.find(line.id);
        if (cand == m.nodes.end() || cand->second.id == id) continue;
        const model_node& c = cand->second;
        // Never a master that is down or may be: a replica of it could not forget it later
        // ("Can't forget my master") and would follow it into the failover.
        if (!c.master || c.slots.empty() || c.failed || c.pfail_votes > 0 || !c.view) continue;
        int count = 0;
        for (const auto& [rid, r] : m.nodes) count += (r.master_id == c.id && !r.failed) ? 1 : 0;
        int spread = 0;
        if (c.pod && n.pod) {
          spread += (!n.pod->host.empty() && c.pod->host != n.pod->host) ? 2 : 0;
          spread += (!n.pod->zone.empty() && c.pod->zone != n.pod->zone) ? 1 : 0;
        }
        if (!best || count < best_count || (count == best_count && spread > best_spread)) {
          best = &c;
          best_count = count;
          best_spread = spread;
        }
      }
      if (!best) continue;
      heal_action a;
      a.kind = heal_action_kind::replicate;
      a.rule = 1;
      a.target = n.ip;
      a.peer = best->id;
      a.reason = "node " + id.substr(0, 8) + " (pod " + n.pod->name + ") is an empty master " +
                 "with no slots; master " + best->id.substr(0, 8) + " at " + best->ip + " has " +
                 std::to_string(best_count) + " live replica(s)" +
                 (best_count >= policy.replicas_per_master
                      ? " (every master has heal.replicas_per_master; this one is a spare)"
                      : " (below heal.replicas_per_master = " +
                            std::to_string(policy.replicas_per_master) + ")");
      add(std::move(a));
    }
  }

  // Rule 3. A FORGET under way is finished (on the nodes that missed it) even while holding
  // still: its decision was taken when the view was certain, and half a forget is undone by
  // gossip once Redis's 60 s ban ends.
  void forgets(bool retries_only) {
    for (auto& [id, n] : m.nodes) {
      const auto started = out.memory.forgetting.find(id);
      const bool in_ban =
          started != out.memory.forgetting.end() && now - started->second < forget_ban;
      if (retries_only && !in_ban) continue;
      if (n.pod) {
        if (n.failed) {
          out.findings.push_back("node " + id.substr(0, 8) + " is FAIL but pod " + n.pod->name +
                                 " carries it: not forgotten (rule 3)");
        }
        continue;
      }
      if (!in_ban) {
        if (!n.failed || !n.slots.empty()) continue;
        const auto since = out.memory.fail_since.find(id);
        if (since == out.memory.fail_since.end() || now - since->second < forget_after()) {
          out.findings.push_back("node " + id.substr(0, 8) + " at " + n.ip + " is FAIL; it is " +
                                 "forgotten once it has been FAIL for heal.forget_after");
          continue;
        }
      }
      for (const auto& v : observed.views) {
        const auto self = m.id_at_ip.find(v.ip);
        if (self == m.id_at_ip.end() || self->second == id) continue;
        const bool knows = std::any_of(v.nodes.begin(), v.nodes.end(),
                                       [&](const auto& line) { return line.id == id; });
        if (!knows) continue;
        heal_action a;
        a.kind = heal_action_kind::forget;
        a.rule = 3;
        a.target = v.ip;
        a.peer = id;
        a.reason = in_ban ? "node " + id.substr(0, 8) + " is being forgotten and " + v.ip +
                                " still knows it: forget it there too, within Redis's 60 s ban"
                          : "node " + id.substr(0, 8) + " (last at " + n.ip + ") is FAIL for a " +
                                "majority of masters for longer than heal.forget_after, holds " +
                                "no slots and no pod carries it";
        out.actions.push_back(std::move(a));
      }
      if (!in_ban) out.memory.forgetting[id] = now;
    }
  }

  // Rule 4: slots served by no live node. A failed master with a live replica is not lost:
  // Redis promotes the replica.
  void lost_slots() {
    std::bitset<slot_count> served;
    for (const auto& [id, n] : m.nodes) {
      if (!n.master) continue;
      bool live = !n.failed;
      if (!live) {
        // A replica that neither answers nor has a pod is gone, FAIL or not yet.
        for (const auto& [rid, r] : m.nodes)
          live = live || (r.master_id == id && !r.failed && (r.view || r.pod));
      }
      if (!live) continue;
      for (const auto& r : n.slots) {
        for (int s = r.first; s <= r.last; ++s) served.set(static_cast<std::size_t>(s));
      }
    }
    if (m.nodes.empty() || served.all()) return;
    out.lost_slots = to_ranges(~served);
    out.findings.push_back(
        "slots " + describe_slots(out.lost_slots) + " are served by no live node (rule 4)" +
        (policy.refill_from_backup ? ""
                                   : "; heal.refill_from_backup is off: restore them by hand"));
  }

  // A pod that still carries a lost shard's master or replica may bring it back with its
  // volume and writes newer than any backup: then the shard waits for it, never a refill.
  std::string lost_node_with_a_pod() const {
    for (const auto& [id, n] : m.nodes) {
      if (!n.master || n.slots.empty() || !n.failed) continue;
      bool lost = false;
      for (const auto& r : n.slots) {
        for (const auto& l : out.lost_slots)
          lost = lost || (r.first <= l.last && l.first <= r.last);
      }
      if (!lost) continue;
      if (n.pod) return "pod " + n.pod->name + " still carries its master " + id.substr(0, 8);
      for (const auto& [rid, r] : m.nodes) {
        if (r.master_id == id && r.pod)
          return "pod " + r.pod->name + " still carries its replica " + rid.substr(0, 8);
      }
    }
    return {};
  }

  void refill() {
    if (out.lost_slots.empty() || !policy.refill_from_backup) return;
    if (auto pod = lost_node_with_a_pod(); !pod.empty()) {
      out.findings.push_back("the lost slots are not refilled while " + pod +
                             " (it may come back with its data, newer than any backup); "
                             "delete that pod for a refill (rule 4)");
      return;
    }
    for (const auto& [id, n] : m.nodes) {
      if (!empty_joined_master(n)) continue;
      heal_action take;
      take.kind = heal_action_kind::take_slots;
      take.rule = 4;
      take.target = n.ip;
      take.slots = out.lost_slots;
      take.reason = "no live node serves these slots; node " + id.substr(0, 8) + " (pod " +
                    n.pod->name + ") is empty and joined";
      heal_action restore = take;
      restore.kind = heal_action_kind::restore_slots;
      restore.reason = "heal.refill_from_backup is on: the keys of exactly these slots come " +
                       std::string("back from the latest complete backup");
      add(std::move(take));
      out.actions.push_back(std::move(restore));
      return;
    }
    out.findings.push_back("no empty joined node to refill the lost slots into yet (rule 4)");
  }

  struct open_slot {
    std::string migrating_node, migrating_to, importing_node, importing_from;
  };
  std::map<int, open_slot> open;

  // Per slot, who migrates it and who imports it, from each node's own line; remembered while
  // it stays open, whether or not the planner may act.
  void track_open_slots() {
    for (const auto& [id, n] : m.nodes) {
      if (!n.view) continue;
      for (const auto& text : myself(*n.view)->slots) {
        auto f = proto::parse_slot_field(text);
        if (!f || f->state == slot_field::kind::served) continue;
        auto& e = open[f->range.first];
        if (f->state == slot_field::kind::migrating) {
          e.migrating_node = id;
          e.migrating_to = f->peer;
        } else {
          e.importing_node = id;
          e.importing_from = f->peer;
        }
      }
    }
    std::map<int, heal_clock::time_point> since;
    for (const auto& [slot, e] : open) {
      auto was = out.memory.open_since.find(slot);
      since[slot] = was == out.memory.open_since.end() ? now : was->second;
    }
    out.memory.open_since = std::move(since);
  }

  // Rule 5.
  void close_migrations() {
    for (const auto& [slot, e] : open) {
      if (now - out.memory.open_since[slot] < stuck_after()) {
        out.findings.push_back("slot " + std::to_string(slot) + " is being migrated; it is " +
                               "closed if it makes no progress for heal.stuck_migration_after");
        continue;
      }
      heal_action a;
      a.kind = heal_action_kind::close_migration;
      a.rule = 5;
      a.slots = {{slot, slot}};
      const bool both = !e.migrating_node.empty() && !e.importing_node.empty() &&
                        e.migrating_to == e.importing_node && e.importing_from == e.migrating_node;
      a.finish = both;
      a.source = e.migrating_node.empty() ? e.importing_from : e.migrating_node;
      a.peer = e.importing_node.empty() ? e.migrating_to : e.importing_node;
      const auto src = m.nodes.find(a.source);
      a.target = src != m.nodes.end() ? src->second.ip : std::string();
      a.reason = both ? "slot " + std::to_string(slot) + " has been open for longer than " +
                            "heal.stuck_migration_after on both ends: finish the move (keys " +
                            "moved, slot handed over), as redis-cli --cluster fix does"
                      : "slot " + std::to_string(slot) + " is open on one end only: give it " +
                            "back to the node that serves it, moving any keys back first";
      out.actions.push_back(std::move(a));
    }
  }

  // Rule 6.
  void bootstrap() {
    if (!policy.bootstrap || observed.pods.empty()) return;
    const std::size_t masters = static_cast<std::size_t>(std::max(1, policy.bootstrap_masters));
    const std::size_t need = masters * static_cast<std::size_t>(1 + policy.replicas_per_master);
    std::vector<const heal_pod*> pods;
    for (const auto& p : observed.pods) {
      auto v = m.view_by_ip.find(p.ip);
      if (p.ip.empty() || !p.ready || p.deleting || v == m.view_by_ip.end()) return;
      const auto* self = myself(*v->second);
      if (!self || v->second->nodes.size() != 1 || !self->slots.empty() || v->second->keys != 0 ||
          self->config_epoch != 0) {
        return;  // a node with peers, slots, keys or an epoch: never (re-)create
      }
      pods.push_back(&p);
    }
    if (pods.size() < need) {
      out.findings.push_back("bootstrap waits for " + std::to_string(need) + " empty Ready pods (" +
                             std::to_string(pods.size()) + " now)");
      return;
    }
    std::sort(pods.begin(), pods.end(), [](auto* a, auto* b) { return a->name < b->name; });
    heal_action a;
    a.kind = heal_action_kind::create_cluster;
    a.rule = 6;
    a.target = pods.front()->ip;
    const int per = static_cast<int>(slot_count / masters);
    int next = 0;
    for (std::size_t i = 0; i < masters; ++i) {
      const int extra = i < slot_count % masters ? 1 : 0;
      a.layout.push_back({pods[i]->ip, {{next, next + per + extra - 1}}, {}});
      next += per + extra;
    }
    std::vector<int> replicas(masters, 0);
    for (std::size_t i = masters; i < pods.size(); ++i) {
      std::size_t best = 0;
      for (std::size_t k = 1; k < masters; ++k) {
        const auto other_host = [&](std::size_t j) {
          return pods[j]->host.empty() || pods[j]->host != pods[i]->host;
        };
        if (replicas[k] < replicas[best] ||
            (replicas[k] == replicas[best] && other_host(k) && !other_host(best))) {
          best = k;
        }
      }
      ++replicas[best];
      a.layout.push_back({pods[i]->ip, {}, pods[best]->ip});
    }
    a.reason = "heal.bootstrap is on and all " + std::to_string(pods.size()) + " pods are " +
               "Ready and empty (no keys, peers, slots or epoch): create " +
               std::to_string(masters) + " masters with their replicas";
    out.actions.push_back(std::move(a));
  }

  void rate_limit() {
    auto& recent = out.memory.recent_actions;
    recent.erase(std::remove_if(recent.begin(), recent.end(),
                                [&](auto t) { return now - t >= std::chrono::minutes(1); }),
                 recent.end());
    const auto room = static_cast<std::size_t>(
        std::max<int>(0, policy.max_actions_per_minute - static_cast<int>(recent.size())));
    if (out.actions.size() > room) {
      out.findings.push_back(std::to_string(out.actions.size() - room) +
                             " action(s) deferred: heal.max_actions_per_minute reached");
      out.actions.resize(room);
    }
    for (std::size_t i = 0; i < out.actions.size(); ++i) recent.push_back(now);
  }

  void run(const heal_memory& memory) {
    out.memory = memory;
    m = build_model(observed);
    const auto print = fingerprint(observed, m);
    if (print != out.memory.fingerprint || !out.memory.last_change) {
      out.memory.fingerprint = print;
      out.memory.last_change = now;
    }
    for (auto it = out.memory.fail_since.begin(); it != out.memory.fail_since.end();) {
      auto n = m.nodes.find(it->first);
      it = (n == m.nodes.end() || !n->second.failed) ? out.memory.fail_since.erase(it) : ++it;
    }
    for (const auto& [id, n] : m.nodes) {
      if (n.failed) out.memory.fail_since.try_emplace(id, now);
    }
    for (auto it = out.memory.forgetting.begin(); it != out.memory.forgetting.end();) {
      it = now - it->second >= forget_ban ? out.memory.forgetting.erase(it) : ++it;
    }
    hold_checks();
    lost_slots();
    new_ips();
    joins();
    track_open_slots();
    if (!out.holding) refill();
    replicate_spares();
    forgets(out.holding);
    const auto before = out.actions.size();
    close_migrations();
    bootstrap();
    if (out.holding) {
      // Rules 5 and 6 wait for a still view; a dry run still shows what they would do then.
      for (auto i = before; i < out.actions.size(); ++i) {
        out.findings.push_back("once the view has been still for cluster-node-timeout (rule 7): " +
                               describe(out.actions[i], policy.port));
      }
      out.actions.resize(before);
    }
    rate_limit();
  }
};

}  // namespace

heal_plan plan_heal(const heal_observed& observed, const heal_policy& policy,
                    const heal_memory& memory, heal_clock::time_point now) {
  planner p{observed, policy, now};
  p.run(memory);
  return std::move(p.out);
}

const char* to_string(heal_action_kind kind) noexcept {
  switch (kind) {
    case heal_action_kind::meet:
      return "meet";
    case heal_action_kind::replicate:
      return "replicate";
    case heal_action_kind::forget:
      return "forget";
    case heal_action_kind::take_slots:
      return "take-slots";
    case heal_action_kind::restore_slots:
      return "restore-slots";
    case heal_action_kind::close_migration:
      return "close-migration";
    case heal_action_kind::create_cluster:
      return "create-cluster";
  }
  return "unknown";
}

std::string describe(const heal_action& a, int port) {
  std::string what;
  switch (a.kind) {
    case heal_action_kind::meet:
      what = "CLUSTER MEET " + a.peer + " " + std::to_string(port);
      break;
    case heal_action_kind::replicate:
      what = "CLUSTER REPLICATE " + a.peer;
      break;
    case heal_action_kind::forget:
      what = "CLUSTER FORGET " + a.peer;
      break;
    case heal_action_kind::take_slots:
      what = "serve slots " + describe_slots(a.slots);
      break;
    case heal_action_kind::restore_slots:
      what = "restore slots " + describe_slots(a.slots) + " from the latest backup";
      break;
    case heal_action_kind::close_migration:
      what = std::string(a.finish ? "finish" : "roll back") + " the migration of slot " +
             describe_slots(a.slots);
      break;
    case heal_action_kind::create_cluster:
      what = "create the cluster over " + std::to_string(a.layout.size()) + " nodes";
      break;
  }
  return std::string(to_string(a.kind)) + ": " + a.target + " " + what + " (rule " +
         std::to_string(a.rule) + ": " + a.reason + ")";
}

}  // namespace kage::engine
