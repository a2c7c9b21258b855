#pragma once
// The healer's planner: pure. It joins the pods (from the Kubernetes watch) with what every
// reachable node says (CLUSTER NODES, its key count) and decides, by the rules below, which
// actions keep the cluster whole, each with the reason a person reads. No IO, no clock: the
// caller passes `now` and the memory the previous plan returned, so a plan is a function of
// its arguments and every rule is tested from a table.
//
//   pods ─┐
//   views ┴─► model (who is where, who is failed, which slots are served) ─► rules ─► plan
//   memory (fail_since, forgetting, last change, recent actions) ──────────────────┘  + memory
//
// Rules (numbers as in the issue): 1 join an empty pod (MEET, then REPLICATE to the master
// with the fewest replicas); 2 MEET a known node at its new IP; 3 forget a node only when a
// majority of masters see it FAIL for forget_after, no pod carries it and it holds no slots;
// 4 report slots no live node serves (and refill them from a backup when allowed); 5 close
// migrations stuck for stuck_migration_after; 6 bootstrap a cluster of empty pods, never
// over a node with keys, peers, slots or an epoch; 7 hold still (only rules 1 and 2) while
// the view is uncertain, and never more than max_actions_per_minute.
#include <kage/base/slot_range.hpp>
#include <kage/proto/cluster_config.hpp>

#include <boost/json/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kage::engine {

using heal_clock = std::chrono::system_clock;

// A pod as the watch shows it. The pod's Redis listens on policy.port at its IP.
struct heal_pod {
  std::string name;
  std::string ip;  // empty while the pod has none
  bool ready = false;
  bool deleting = false;  // metadata.deletionTimestamp set
  std::string host;       // spec.nodeName: the Kubernetes node it runs on
  std::string zone;       // topology.kubernetes.io/zone of that node, when known
};

// A pod as the Kubernetes API lists it (a core/v1 Pod object): name, status.podIP, the Ready
// condition, metadata.deletionTimestamp, spec.nodeName, the topology.kubernetes.io/zone label
// (what k8s::keep_pod_essentials keeps). nullopt for a value that is no object.
std::optional<heal_pod> heal_pod_from(const boost::json::value& item);
std::vector<heal_pod> heal_pods_from(const std::vector<boost::json::value>& items);

// What one reachable node says about the cluster.
struct heal_view {
  std::string ip;                                // the address it was read at (a pod's IP)
  std::vector<proto::cluster_nodes_line> nodes;  // its CLUSTER NODES, "myself" included
  std::uint64_t keys = 0;                        // its DBSIZE
  bool state_ok = false;                         // its CLUSTER INFO says cluster_state:ok
};

// What the planner remembers between plans (returned in heal_plan::memory, passed back in).
struct heal_memory {
  std::map<std::string, heal_clock::time_point> fail_since;  // node id -> first seen FAIL
  std::map<std::string, heal_clock::time_point> forgetting;  // node id -> FORGET started
  std::map<int, heal_clock::time_point> open_since;          // slot -> first seen open
  std::string fingerprint;                                   // the topology last seen
  std::optional<heal_clock::time_point> last_change;         // when it last changed
  std::vector<heal_clock::time_point> recent_actions;        // for the rate limit
};

struct heal_observed {
  std::vector<heal_pod> pods;    // the selected pods
  std::vector<heal_view> views;  // one per node that answered
  bool api_fresh = true;         // false when the pod list could not be read lately
};

struct heal_policy {
  int port = 6379;
  int replicas_per_master = 1;
  std::chrono::milliseconds node_timeout{15000};       // the cluster's cluster-node-timeout
  std::chrono::milliseconds forget_after{0};           // 0: 2 x node_timeout
  std::chrono::milliseconds stuck_migration_after{0};  // 0: 2 x node_timeout
  double max_unready_fraction = 0.34;
  int max_actions_per_minute = 30;
  bool bootstrap = false;
  int bootstrap_masters = 3;
  bool refill_from_backup = false;
};

enum class heal_action_kind {
  meet,             // target: MEET peer_ip:port
  replicate,        // target: CLUSTER REPLICATE peer (a master id)
  forget,           // target: CLUSTER FORGET peer (a node id)
  take_slots,       // target: serve `slots` (no live node serves them)
  restore_slots,    // restore `slots` into target from the latest complete backup
  close_migration,  // slots[0] open from node `source` to node `peer`; `finish` says which way
  create_cluster,   // the layout below
};

struct heal_layout_node {
  std::string ip;
  std::vector<slot_range> slots;  // empty for a replica
  std::string replica_of;         // a master's ip, for a replica
};

struct heal_action {
  heal_action_kind kind{};
  int rule = 0;         // which rule decided it
  std::string target;   // the ip of the node acted on
  std::string peer;     // meet: an ip; replicate/forget: a node id; close_migration: importer id
  std::string source;   // close_migration: the migrating node's id
  bool finish = false;  // close_migration: move the keys and hand the slot over (else roll back)
  std::vector<slot_range> slots;
  std::vector<heal_layout_node> layout;  // create_cluster
  std::string reason;                    // one sentence: what was seen and why this is safe
};

struct heal_plan {
  std::vector<heal_action> actions;
  std::vector<std::string> findings;   // what was seen and not acted on, and why (held back)
  bool holding = false;                // rule 7: only rules 1 and 2 may act
  std::vector<slot_range> lost_slots;  // rule 4: served by no live node
  heal_memory memory;                  // pass to the next plan
};

heal_plan plan_heal(const heal_observed& observed, const heal_policy& policy,
                    const heal_memory& memory, heal_clock::time_point now);

// "meet", "replicate", ...
const char* to_string(heal_action_kind kind) noexcept;
// One line: "meet: 10.0.0.7 MEET 10.0.0.9:6379 (rule 1: ...reason...)".
std::string describe(const heal_action& action, int port);

}  // namespace kage::engine
