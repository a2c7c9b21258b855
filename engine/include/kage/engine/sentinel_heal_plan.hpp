#pragma once
// The Sentinel healer's planner: pure. It joins what every sentinel says about one master
// (SENTINEL MASTER, REPLICAS, SENTINELS) with what every live pod's Redis says (INFO
// replication, DBSIZE) and decides which actions bring the sentinels' picture back in line with
// the pods, each with the reason a person reads. No IO, no clock: every rule is tested from a
// table (tests/unit/engine_sentinel_heal_plan.cpp).
//
// Why: after pods come back on new IPs, sentinels keep entries for the old replicas and
// sentinels for ever (SENTINEL RESET is the documented way to drop them: it clears a master's
// replicas, sentinels and any failover state, and the sentinel rediscovers the live ones from
// the primary's INFO and the other sentinels' hello messages), and a replica may still point
// at a primary that is gone (the sentinels never see it, so they never repoint it).
//
// Rules, in the order they are checked:
//  1 hold: fewer sentinels answer than the quorum needs (max of their configured quorum and a
//    majority of the sentinels kage was given): nothing is done;
//  2 hold: the answering sentinels do not name one primary by that quorum;
//  3 hold: a failover is in progress, or a sentinel sees the primary down (s_down/o_down);
//  4 hold: the named primary does not answer as role:master;
//  5 stray-replica: a live pod replicating from anything but the primary gets REPLICAOF the
//    primary; empty-master: a live pod that is a master other than the primary and holds no
//    keys gets the same; one with keys is reported, never overwritten;
//  6 hold resets: a sentinel does not yet know every other answering sentinel (it is still
//    rediscovering after a reset): no reset this round;
//  7 reset: a sentinel lists a replica that is no live pod and is flagged down or
//    disconnected, or a sentinel flagged down that is none of the answering ones: SENTINEL
//    RESET <master> on it, one sentinel at a time; the executor waits until it knows the other
//    answering sentinels and the live replicas again before the next.
// Nothing is planned when everything is consistent.
#include <cstdint>
#include <string>
#include <vector>

namespace kage::engine {

// One entry of SENTINEL REPLICAS or SENTINEL SENTINELS.
struct sentinel_peer {
  std::string address;  // ip:port as the sentinel lists it
  std::string run_id;   // runid ("" when the sentinel has not learnt it yet)
  std::string flags;    // "slave", "slave,s_down,disconnected", "sentinel", ...
};

// What one sentinel kage was given says about the master.
struct sentinel_state {
  std::string address;  // as given (--sentinel)
  bool reachable = false;
  std::string error;         // why it did not answer
  std::string run_id;        // its own (INFO server)
  std::string master;        // ip:port it names as the primary; "" when it monitors no such master
  std::string master_flags;  // SENTINEL MASTER flags: "master", "master,s_down,o_down", ...
  bool failover_in_progress = false;  // flags or failover-state say so
  int quorum = 0;                     // its configured quorum for the master
  std::vector<sentinel_peer> replicas;
  std::vector<sentinel_peer> sentinels;  // the others it knows (never itself)
};

// What one Redis server says about itself: a pod's, or the primary the sentinels name.
struct sentinel_server_state {
  std::string name;     // the pod's name; "" for a server that is no pod
  std::string address;  // ip:port
  bool answered = false;
  std::string error;
  std::string role;      // "master" or "slave"
  std::string master;    // a replica's master_host:master_port
  bool link_up = false;  // master_link_status:up
  std::uint64_t keys = 0;
};

struct sentinel_observed {
  std::string master_name;
  std::vector<sentinel_state> sentinels;         // every sentinel kage was given, in order
  std::vector<sentinel_server_state> pods;       // every selected pod with an IP
  std::vector<sentinel_server_state> primaries;  // each address a sentinel names, when no pod
};

enum class sentinel_action_kind {
  replicaof,  // target: a pod's ip:port; REPLICAOF primary
  reset,      // target: a sentinel's address; SENTINEL RESET master_name
};
const char* to_string(sentinel_action_kind k) noexcept;

struct sentinel_action {
  sentinel_action_kind kind{};
  std::string target;
  std::string primary;  // ip:port of the primary the sentinels agree on
  // reset: what the sentinel must know again before the next reset: the other answering
  // sentinels (run ids) and the live replicas (ip:port).
  std::vector<std::string> expect_sentinels;
  std::vector<std::string> expect_replicas;
  std::string rule;  // "stray-replica", "empty-master", "reset"
  std::string reason;
  bool operator==(const sentinel_action&) const = default;
};

struct sentinel_plan {
  std::string primary;                // "" when the sentinels do not agree on one
  std::size_t needed = 0;             // sentinels that must answer
  std::size_t answering = 0;          // sentinels that answered
  bool held = false;                  // a hold rule stopped every action (findings say why)
  std::vector<std::string> findings;  // what is wrong but not acted on, and every hold
  std::vector<sentinel_action> actions;
};

sentinel_plan plan_sentinel_heal(const sentinel_observed& o);

// One line: the command and its reason, e.g. "SENTINEL RESET mymaster on 10.0.0.5:26379 (...)".
std::string describe(const sentinel_action& a, const std::string& master_name);

// Whether a comma-separated flags text holds `flag`.
bool has_sentinel_flag(const std::string& flags, const std::string& flag);

}  // namespace kage::engine
