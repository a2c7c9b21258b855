#include <kage/base/endpoint.hpp>
#include <kage/engine/healer.hpp>
#include <kage/k8s/pod_fields.hpp>
#include <kage/k8s/reflector.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json.hpp>

#include <algorithm>

namespace kage::engine {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// An Event's reason: CamelCase, as Kubernetes wants it.
std::string event_reason(heal_action_kind kind) {
  switch (kind) {
    case heal_action_kind::meet:
      return "HealMeet";
    case heal_action_kind::replicate:
      return "HealReplicate";
    case heal_action_kind::forget:
      return "HealForget";
    case heal_action_kind::take_slots:
      return "HealTakeSlots";
    case heal_action_kind::restore_slots:
      return "HealRestoreSlots";
    case heal_action_kind::close_migration:
      return "HealCloseMigration";
    case heal_action_kind::create_cluster:
      return "HealCreateCluster";
  }
  return "Heal";
}

// The pod an action is about: the one MEETed (rule 1: the joining pod; rule 2: the pod at its
// new IP), else the pod whose node is acted on.
const heal_pod* concerned_pod(const heal_action& a, const std::vector<heal_pod>& pods) {
  if (a.kind == heal_action_kind::meet) {
    for (const auto& p : pods)
      if (!a.peer.empty() && p.ip == a.peer) return &p;
  }
  for (const auto& p : pods)
    if (!a.target.empty() && p.ip == a.target) return &p;
  return nullptr;
}

// The pod a Sentinel action is about: the replica's pod, or the pod a sentinel runs in (the
// Bitnami chart runs one beside each Redis); none for a sentinel outside the pods.
const heal_pod* concerned_pod(const sentinel_action& a, const std::vector<heal_pod>& pods) {
  const auto where = parse_endpoint(a.target);
  if (!where) return nullptr;
  for (const auto& p : pods)
    if (!p.ip.empty() && p.ip == where->host) return &p;
  return nullptr;
}

metric_labels action_labels(const heal_action& a) {
  return {{"action", to_string(a.kind)}};
}

std::string seconds_text(std::chrono::milliseconds ms) {
  return std::to_string(ms.count() / 1000) + "." + std::to_string(ms.count() % 1000 / 100) + " s";
}

}  // namespace

healer::healer(k8s::client& api, redis_target target, healer_config config, logger log,
               metrics_registry* metrics)
    : api_(api),
      target_(std::move(target)),
      config_(std::move(config)),
      log_(std::move(log)),
      metrics_(metrics),
      wake_(std::make_unique<asio::steady_timer>(api.get_executor())) {
  if (config_.namespace_.empty()) config_.namespace_ = api_.namespace_();
  k8s::reflector_options ro;
  ro.what = k8s::pods_resource;
  ro.namespace_ = config_.namespace_;
  ro.label_selector = config_.pod_selector;
  ro.backoff = backoff_policy{std::chrono::milliseconds(500), std::chrono::seconds(5)};
  // The cache keeps what a round reads (heal_pod_from) and the uid Events name, a few hundred
  // bytes a pod: whole Pods are ~36 KB each once parsed (bench/README.md, 5,000 pods).
  ro.transform = k8s::keep_pod_essentials;
  k8s::reflector_handlers h;
  h.on_add = [this](const json::value&) { wake(); };
  h.on_update = [this](const json::value&, const json::value&) { wake(); };
  h.on_delete = [this](const json::value&) { wake(); };
  h.on_synced = [this] { wake(); };
  reflector_ = std::make_unique<k8s::reflector>(api_, std::move(ro), std::move(h), log_);
  if (config_.lease) {
    if (config_.lease->namespace_.empty()) config_.lease->namespace_ = config_.namespace_;
    elector_ = std::make_unique<k8s::leader_elector>(api_, *config_.lease, log_);
  }
}

healer::~healer() = default;

void healer::describe_metrics(metrics_registry& m) {
  m.describe("kage_heal_actions_total", "counter",
             "Healing actions carried out, by action (meet, replicate, forget, ...)");
  m.describe("kage_heal_actions_not_done_total", "counter",
             "Planned healing actions not carried out (precondition gone, refused, not "
             "supported yet), by action");
  m.describe("kage_heal_rounds_total", "counter", "Healing rounds (observe, plan, act)");
  m.describe("kage_heal_last_success_timestamp_seconds", "gauge",
             "Unix time of the last round that read a fresh pod list and every node it needed, "
             "and carried out every action it planned");
  m.describe("kage_heal_leader", "gauge",
             "1 while this instance may act (holds the Lease, or no Lease is used)");
  m.describe("kage_heal_holding", "gauge",
             "1 while the healer holds still (rule 7: uncertain view; only joins and new IPs)");
  m.describe("kage_heal_api_fresh", "gauge",
             "1 while the pod list from the Kubernetes API server is fresh");
  m.describe("kage_heal_event_failures_total", "counter",
             "Kubernetes Events the healer could not post");
  m.describe("kage_cluster_pods", "gauge", "Pods the healer's selector matches");
  m.describe("kage_cluster_nodes_answering", "gauge",
             "Pods whose Redis node answered in the last round");
  m.describe("kage_cluster_slots_covered", "gauge",
             "Hash slots served by a live master, as the last round saw them (of 16384)");
  m.describe("kage_cluster_state_ok", "gauge", "1 when every answering node says cluster_state:ok");
  m.describe("kage_sentinels_answering", "gauge",
             "Sentinels that answered in the last round (Sentinel mode)");
}

bool healer::acting() const noexcept {
  return looping_;
}

bool healer::api_fresh() const {
  if (!reflector_->synced()) return false;
  const auto since = reflector_->failing_since();
  return !since || steady::now() - *since < config_.stale_after;
}

void healer::wake() {
  pending_ = true;
  if (waiting_) {
    woken_ = true;
    wake_->cancel();
  }
}

asio::awaitable<void> healer::async_run() {
  using namespace asio::experimental::awaitable_operators;
  set_leader(false);
  try {
    co_await (reflector_->async_run() || async_lead());
  } catch (const asio::multiple_exceptions& e) {
    // Both ended with an error (a stop cancels both): the first one says why, so that a
    // caller sees operation_aborted on SIGTERM, not "multiple exceptions".
    std::rethrow_exception(e.first_exception());
  }
}

asio::awaitable<void> healer::async_lead() {
  if (!elector_) {
    co_await async_act_loop();
    co_return;
  }
  log_.info("heal", config_.lease->identity + " campaigns for the lease " +
                        config_.lease->namespace_ + "/" + config_.lease->name +
                        "; only its holder acts");
  for (;;) {
    std::function<asio::awaitable<void>()> lead = [this] { return async_act_loop(); };
    co_await elector_->async_run(lead);
    log_.warn("heal", config_.lease->identity + " lost the lease " + config_.lease->name +
                          ": stopped acting; campaigning again");
  }
}

asio::awaitable<void> healer::async_act_loop() {
  struct stop_guard {
    explicit stop_guard(healer* x) : h(x) {}
    ~stop_guard() {
      h->looping_ = false;
      h->waiting_ = false;
      h->set_leader(false);
    }
    healer* h;
  };
  stop_guard guard(this);
  looping_ = true;
  set_leader(true);
  if (elector_) log_.info("heal", config_.lease->identity + " holds the lease: acting");
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer settle(ex);
  pending_ = true;  // a first round at once
  for (;;) {
    if (!pending_) {
      wake_->expires_after(config_.interval);
      waiting_ = true;
      woken_ = false;
      try {
        co_await wake_->async_wait(asio::deferred);
      } catch (const boost::system::system_error& e) {
        waiting_ = false;
        if (e.code() != asio::error::operation_aborted || !woken_) throw;
      }
      waiting_ = false;
      if (pending_ && config_.coalesce.count() > 0) {
        settle.expires_after(config_.coalesce);  // a burst of pod events: one round
        co_await settle.async_wait(asio::deferred);
      }
    }
    pending_ = false;
    co_await async_round();
  }
}

asio::awaitable<void> healer::async_round() {
  if (!reflector_->synced()) co_return;  // the first list wakes the loop
  std::vector<heal_pod> pods;
  pods.reserve(reflector_->cache().size());
  for (const auto& [key, object] : reflector_->cache()) {
    if (auto p = heal_pod_from(object)) pods.push_back(std::move(*p));
  }
  if (target_.sentinel) {
    co_await async_sentinel_round(std::move(pods));
    co_return;
  }
  const int port = config_.policy.port;
  if (!config_.node_timeout_known) {
    auto t = co_await async_read_node_timeout(target_, pods, port);
    if (t) {
      config_.policy.node_timeout = *t;
      config_.node_timeout_known = true;
      log_.info("heal", "cluster-node-timeout is " + std::to_string(t->count()) + " ms");
    }
  }
  // A node that does not answer within cluster-node-timeout is down to the planner too: a
  // paused node (SIGSTOP) must not hold every round for the default read timeout.
  auto& rc = target_.config;
  rc.read_timeout = std::min(rc.read_timeout, config_.policy.node_timeout);
  rc.connect_timeout = std::min(rc.connect_timeout, config_.policy.node_timeout);
  auto observed = co_await async_observe(target_, pods, port);
  observed.api_fresh = api_fresh();
  if (!observed.api_fresh)
    log_.warn("heal",
              "the pod list may be stale (the Kubernetes API server has not been read "
              "for a while): holding still, only joins and new IPs may act");
  heal_round round;
  round.views = observed.views.size();
  round.plan = plan_heal(observed, config_.policy, memory_, heal_clock::now());
  for (const auto& f : round.plan.findings) log_.debug("heal", "seen: " + f);
  if (!config_.dry_run) {
    memory_ = round.plan.memory;
    for (const auto& action : round.plan.actions) {
      auto r = co_await async_execute(target_, action, port, config_.backups);
      const std::string line = describe(action, port) + " -> " + r.detail;
      (r.acted ? log_.info("heal", line) : log_.warn("heal", line));
      count(r);
      round.results.push_back(r);
      if (config_.post_events) co_await async_post_event(r, observed.pods);
    }
    const bool acted = std::any_of(round.results.begin(), round.results.end(),
                                   [](const heal_result& x) { return x.acted; });
    if (acted) {
      auto deadline = config_.agree_deadline;
      if (deadline.count() == 0)
        deadline = std::max<std::chrono::milliseconds>(2 * config_.policy.node_timeout,
                                                       std::chrono::milliseconds(5000));
      const auto started = steady::now();
      auto missing =
          co_await async_await_agreement(target_, round.results, observed.pods, port, deadline);
      const auto took =
          std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started);
      if (missing.empty()) {
        log_.info("heal", "the cluster agrees with the actions after " + seconds_text(took));
      } else {
        log_.warn("heal", "the cluster does not agree yet after " + seconds_text(took) + ": " +
                              missing + " (the next round looks again)");
      }
    }
  }
  record(round, observed);
  if (on_round) on_round(round, observed.pods.size());
}

asio::awaitable<void> healer::async_post_event(heal_result r, std::vector<heal_pod> pods) {
  const heal_pod* pod = concerned_pod(r.action, pods);
  if (!pod) co_return;
  k8s::event_info e;
  e.type = r.acted ? "Normal" : "Warning";
  e.reason = event_reason(r.action.kind);
  e.message = describe(r.action, config_.policy.port) + " -> " + r.detail;
  co_await async_post(std::move(e), pod->name);
}

asio::awaitable<void> healer::async_post_event(sentinel_heal_result r, std::vector<heal_pod> pods) {
  const heal_pod* pod = concerned_pod(r.action, pods);
  if (!pod) co_return;
  k8s::event_info e;
  e.type = r.acted ? "Normal" : "Warning";
  e.reason = r.action.kind == sentinel_action_kind::reset ? "HealSentinelReset" : "HealReplicaOf";
  e.message = describe(r.action, target_.sentinel->master_name) + " -> " + r.detail;
  co_await async_post(std::move(e), pod->name);
}

asio::awaitable<void> healer::async_post(k8s::event_info e, std::string pod) {
  e.involved.namespace_ = config_.namespace_;
  e.involved.name = pod;
  if (const auto* object = reflector_->find(config_.namespace_, pod)) {
    if (const auto* o = object->if_object()) {
      if (const auto* m = o->if_contains("metadata"); m && m->is_object()) {
        if (const auto* uid = m->get_object().if_contains("uid"); uid && uid->is_string())
          e.involved.uid = std::string(uid->get_string());
      }
    }
  }
  if (e.message.size() > 1000) e.message.resize(1000);
  if (config_.lease) e.host = config_.lease->identity;
  auto posted = co_await api_.async_create_event(std::move(e));
  if (!posted) {
    log_.warn("heal",
              "could not post the Event on pod " + pod + " (healing goes on): " + posted.message);
    count_event_failure();
  }
}

// A Sentinel round: the planner holds still by itself (no quorum, a failover, the primary down);
// a stale pod list holds too, as the cluster rounds do: plan and report, act on nothing.
asio::awaitable<void> healer::async_sentinel_round(std::vector<heal_pod> pods) {
  const bool fresh = api_fresh();
  if (!fresh)
    log_.warn("heal",
              "the pod list may be stale (the Kubernetes API server has not been read "
              "for a while): planning only, nothing is changed until it is fresh");
  sentinel_heal_options options;
  options.port = config_.policy.port;
  options.dry_run = config_.dry_run || !fresh;
  auto round = co_await async_sentinel_heal_once(target_, pods, options);
  const std::string& name = target_.sentinel->master_name;
  for (const auto& f : round.plan.findings) log_.debug("heal", "seen: " + f);
  for (const auto& r : round.results) {
    const std::string line = describe(r.action, name) + " -> " + r.detail;
    (r.acted ? log_.info("heal", line) : log_.warn("heal", line));
    count(r);
    if (config_.post_events) co_await async_post_event(r, pods);
  }
  record(round, pods.size(), fresh);
  if (on_sentinel_round) on_sentinel_round(round, pods.size());
}

void healer::set_leader(bool on) {
  if (metrics_) metrics_->set("kage_heal_leader", {}, on ? 1 : 0);
}

void healer::count(const heal_result& r) {
  if (!metrics_) return;
  metrics_->add(r.acted ? "kage_heal_actions_total" : "kage_heal_actions_not_done_total",
                action_labels(r.action));
}

void healer::count(const sentinel_heal_result& r) {
  if (!metrics_) return;
  metrics_->add(r.acted ? "kage_heal_actions_total" : "kage_heal_actions_not_done_total",
                {{"action", to_string(r.action.kind)}});
}

void healer::record(const sentinel_heal_round& round, std::size_t pods, bool fresh) {
  if (!metrics_) return;
  auto& m = *metrics_;
  m.add("kage_heal_rounds_total", {});
  m.set("kage_cluster_pods", {}, static_cast<double>(pods));
  m.set("kage_sentinels_answering", {}, static_cast<double>(round.plan.answering));
  m.set("kage_heal_holding", {}, round.plan.held ? 1 : 0);
  m.set("kage_heal_api_fresh", {}, fresh ? 1 : 0);
  const bool all_done = std::all_of(round.results.begin(), round.results.end(),
                                    [](const sentinel_heal_result& x) { return x.acted; });
  if (fresh && !round.plan.held && all_done && !config_.dry_run)
    m.set("kage_heal_last_success_timestamp_seconds", {}, unix_now());
}

void healer::count_event_failure() {
  if (metrics_) metrics_->add("kage_heal_event_failures_total", {});
}

void healer::record(const heal_round& round, const heal_observed& observed) {
  if (!metrics_) return;
  auto& m = *metrics_;
  m.add("kage_heal_rounds_total", {});
  m.set("kage_cluster_pods", {}, static_cast<double>(observed.pods.size()));
  m.set("kage_cluster_nodes_answering", {}, static_cast<double>(observed.views.size()));
  int lost = 0;
  for (const auto& r : round.plan.lost_slots) lost += r.last - r.first + 1;
  m.set("kage_cluster_slots_covered", {}, observed.views.empty() ? 0 : 16384 - lost);
  const bool ok =
      !observed.views.empty() && std::all_of(observed.views.begin(), observed.views.end(),
                                             [](const heal_view& v) { return v.state_ok; });
  m.set("kage_cluster_state_ok", {}, ok ? 1 : 0);
  m.set("kage_heal_holding", {}, round.plan.holding ? 1 : 0);
  m.set("kage_heal_api_fresh", {}, observed.api_fresh ? 1 : 0);
  const bool all_done = std::all_of(round.results.begin(), round.results.end(),
                                    [](const heal_result& x) { return x.acted; });
  if (observed.api_fresh && !observed.views.empty() && all_done && !config_.dry_run)
    m.set("kage_heal_last_success_timestamp_seconds", {}, unix_now());
}

}  // namespace kage::engine
