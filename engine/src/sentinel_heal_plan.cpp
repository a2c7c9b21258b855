#include <kage/engine/sentinel_heal_plan.hpp>

#include <algorithm>
#include <map>

namespace kage::engine {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool looks_down(const std::string& flags) {
  return has_sentinel_flag(flags, "s_down") || has_sentinel_flag(flags, "o_down") ||
         has_sentinel_flag(flags, "disconnected");
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void hold(sentinel_plan& p, std::string why) {
  p.held = true;
  p.findings.push_back(std::move(why));
}

}  // namespace

bool has_sentinel_flag(const std::string& flags, const std::string& flag) {
  std::size_t start = 0;
  while (start <= flags.size()) {
    auto end = flags.find(',', start);
    if (end == std::string::npos) end = flags.size();
    if (flags.compare(start, end - start, flag) == 0) return true;
    start = end + 1;
  }
  return false;
}

const char* to_string(sentinel_action_kind k) noexcept {
  switch (k) {
    case sentinel_action_kind::replicaof:
      return "replicaof";
    case sentinel_action_kind::reset:
      return "reset";
  }
  return "unknown";
}

std::string describe(const sentinel_action& a, const std::string& master_name) {
  std::string command;
  if (a.kind == sentinel_action_kind::replicaof) {
    const auto colon = a.primary.rfind(':');
    command = "REPLICAOF " + a.primary.substr(0, colon) + " " +
              (colon == std::string::npos ? std::string() : a.primary.substr(colon + 1));
  } else {
    command = "SENTINEL RESET " + master_name;
  }
  return command + " on " + a.target + " (" + a.reason + ")";
}

namespace {

using sentinel_list = std::vector<const sentinel_state*>;

// Rule 1: a quorum of the sentinels must answer. Fills up with those that do.
bool quorum_answers(const sentinel_observed& o, sentinel_plan& p, sentinel_list& up) {
  int configured_quorum = 0;
  for (const auto& s : o.sentinels) {
    if (!s.reachable) {
      p.findings.push_back("sentinel " + s.address + " does not answer: " + s.error);
      continue;
    }
    up.push_back(&s);
    configured_quorum = std::max(configured_quorum, s.quorum);
  }
  p.answering = up.size();
  p.needed = std::max<std::size_t>(static_cast<std::size_t>(std::max(configured_quorum, 0)),
                                   o.sentinels.size() / 2 + 1);
  if (p.answering < p.needed) {
    hold(p, "only " + std::to_string(p.answering) + " of " + std::to_string(o.sentinels.size()) +
                " sentinels answer and " + std::to_string(p.needed) +
                " are needed: nothing is changed until a quorum answers");
    return false;
  }
  return true;
}

// Rule 2: they name one primary by that quorum.
bool one_primary(const sentinel_observed& o, const sentinel_list& up, sentinel_plan& p) {
  std::map<std::string, std::size_t> votes;
  for (const auto* s : up) {
    if (s->master.empty()) {
      p.findings.push_back("sentinel " + s->address + " monitors no master named '" +
                           o.master_name + "'");
      continue;
    }
    ++votes[s->master];
  }
  std::size_t best = 0;
  for (const auto& [address, n] : votes) {
    if (n > best) {
      best = n;
      p.primary = address;
    }
  }
  if (best < p.needed) {
    std::string said;
    for (const auto* s : up)
      said += (said.empty() ? "" : ", ") + s->address + " names " +
              (s->master.empty() ? std::string("none") : s->master);
    p.primary.clear();
    hold(p, "the sentinels do not name one primary by a quorum of " + std::to_string(p.needed) +
                " (" + said + "): nothing is changed");
    return false;
  }
  return true;
}

// Rule 3: never while a failover runs or the primary is seen down.
bool no_failover(const sentinel_observed& o, const sentinel_list& up, sentinel_plan& p) {
  for (const auto* s : up) {
    if (s->failover_in_progress) {
      hold(p, "sentinel " + s->address + " has a failover of '" + o.master_name +
                  "' in progress: nothing is changed until it ends");
      return false;
    }
    if (s->master == p.primary && (has_sentinel_flag(s->master_flags, "s_down") ||
                                   has_sentinel_flag(s->master_flags, "o_down"))) {
      hold(p, "sentinel " + s->address + " sees the primary " + p.primary + " down (" +
                  s->master_flags + "): a failover may start; nothing is changed");
      return false;
    }
  }

  return true;
}

// Rule 4: the primary answers as one.
bool primary_answers(const sentinel_observed& o, sentinel_plan& p) {
  const sentinel_server_state* primary = nullptr;
  for (const auto* list : {&o.pods, &o.primaries}) {
    for (const auto& server : *list) {
      if (server.address == p.primary && !primary) primary = &server;
    }
  }
  if (!primary || !primary->answered || primary->role != "master") {
    hold(p, "the primary the sentinels name, " + p.primary + ", " +
                (!primary || !primary->answered
                     ? std::string("does not answer") +
                           (primary && !primary->error.empty() ? ": " + primary->error : "")
                     : "answers as role:" + primary->role) +
                ": nothing is changed");
    return false;
  }
  return true;
}

// Rule 5: live pods that are not the primary replicate from it. live: every answering pod;
// replicas: answering pods replicating from the primary, link up.
void plan_replicaof(const sentinel_observed& o, sentinel_plan& p, std::vector<std::string>& live,
                    std::vector<std::string>& replicas) {
  for (const auto& pod : o.pods) {
    const std::string who =
        "pod " + (pod.name.empty() ? pod.address : pod.name + " (" + pod.address + ")");
    if (!pod.answered) {
      p.findings.push_back(who + " does not answer: " + pod.error);
      continue;
    }
    live.push_back(pod.address);
    if (pod.address == p.primary) continue;
    sentinel_action a;
    a.kind = sentinel_action_kind::replicaof;
    a.target = pod.address;
    a.primary = p.primary;
    if (pod.role == "slave") {
      if (pod.master == p.primary) {
        if (pod.link_up) replicas.push_back(pod.address);
        continue;
      }
      a.rule = "stray-replica";
      a.reason = who + " replicates from " + pod.master + " (link " +
                 (pod.link_up ? "up" : "down") + "), but the sentinels name " + p.primary +
                 " as the primary of '" + o.master_name + "'";
    } else if (pod.role == "master") {
      if (pod.keys != 0) {
        p.findings.push_back(who + " is a master apart from the primary " + p.primary +
                             " and holds " + std::to_string(pod.keys) +
                             " keys: kage does not overwrite them; make it a replica by hand "
                             "(REPLICAOF) once they are saved");
        continue;
      }
      a.rule = "empty-master";
      a.reason = who + " is an empty master apart from the primary " + p.primary +
                 ": it joins as a replica";
    } else {
      p.findings.push_back(who + " answers as role '" + pod.role + "'");
      continue;
    }
    p.actions.push_back(std::move(a));
  }
}

// Rule 6: no reset while a sentinel is still rediscovering the others.
bool sentinels_settling(const sentinel_list& up, sentinel_plan& p) {
  bool settling = false;
  for (const auto* s : up) {
    std::vector<std::string> missing;
    for (const auto* other : up) {
      if (other == s || other->run_id.empty()) continue;
      const bool known =
          std::any_of(s->sentinels.begin(), s->sentinels.end(), [&](const sentinel_peer& e) {
            return e.run_id == other->run_id && !looks_down(e.flags);
          });
      if (!known) missing.push_back(other->address);
    }
    if (!missing.empty()) {
      settling = true;
      p.findings.push_back("sentinel " + s->address + " does not know (or sees down) " +
                           join(missing) +
                           " yet: no SENTINEL RESET this round (sentinels find each other "
                           "through hello messages within seconds)");
    }
  }
  return settling;
}

// Rule 7: reset the sentinels that keep entries for what is gone, one at a time.
void plan_resets(const sentinel_observed& o, const sentinel_list& up,
                 const std::vector<std::string>& live, const std::vector<std::string>& replicas,
                 bool settling, sentinel_plan& p) {
  std::vector<std::string> up_ids;
  std::vector<std::string> given;
  for (const auto* s : up) {
    if (!s->run_id.empty()) up_ids.push_back(s->run_id);
  }
  for (const auto& s : o.sentinels) given.push_back(s.address);
  for (const auto* s : up) {
    std::vector<std::string> stale;
    for (const auto& r : s->replicas) {
      if (contains(live, r.address) || !looks_down(r.flags)) continue;
      stale.push_back("replica " + r.address + " (" + r.flags + ")");
    }
    for (const auto& e : s->sentinels) {
      // One kage was given may be restarting: it finds its way back through hello messages.
      const bool ours = contains(up_ids, e.run_id) || contains(given, e.address);
      if (ours || !looks_down(e.flags)) continue;
      stale.push_back("sentinel " + e.address + " (" + e.flags + ")");
    }
    if (stale.empty()) continue;
    if (settling) {
      p.findings.push_back("sentinel " + s->address + " keeps entries for what is gone (" +
                           join(stale) + "); it is reset once every sentinel knows the others");
      continue;
    }
    sentinel_action a;
    a.kind = sentinel_action_kind::reset;
    a.target = s->address;
    a.primary = p.primary;
    for (const auto* other : up) {
      if (other != s && !other->run_id.empty()) a.expect_sentinels.push_back(other->run_id);
    }
    a.expect_replicas = replicas;
    a.rule = "reset";
    a.reason = "sentinel " + s->address + " keeps entries for what is gone: " + join(stale);
    p.actions.push_back(std::move(a));
  }
}

}  // namespace

sentinel_plan plan_sentinel_heal(const sentinel_observed& o) {
  sentinel_plan p;
  sentinel_list up;
  if (!quorum_answers(o, p, up) || !one_primary(o, up, p) || !no_failover(o, up, p) ||
      !primary_answers(o, p))
    return p;
  std::vector<std::string> live;
  std::vector<std::string> replicas;
  plan_replicaof(o, p, live, replicas);
  const bool settling = sentinels_settling(up, p);
  plan_resets(o, up, live, replicas, settling, p);
  return p;
}

}  // namespace kage::engine
