#include "heal_command.hpp"

#include "heal_sentinel.hpp"
#include "job_options.hpp"

#include <kage/base/error.hpp>
#include <kage/engine/heal.hpp>
#include <kage/k8s/client.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <iostream>

namespace kage::cli {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;

engine::heal_policy policy_from(const settings& s) {
  engine::heal_policy p;
  p.port = s.heal_redis_port;
  p.replicas_per_master = s.heal_replicas_per_master;
  p.forget_after = std::chrono::seconds(s.heal_forget_after_seconds);
  p.max_actions_per_minute = s.heal_max_actions_per_minute;
  if (s.heal_node_timeout_ms > 0)
    p.node_timeout = std::chrono::milliseconds(s.heal_node_timeout_ms);
  return p;
}

std::string result_word(const engine::heal_round& round, std::size_t i) {
  if (i >= round.results.size()) return "planned";
  return round.results[i].acted ? "done" : "not done";
}

json::object round_json(const engine::heal_round& round, std::size_t pods, int port) {
  json::array actions;
  for (std::size_t i = 0; i < round.plan.actions.size(); ++i) {
    const auto& a = round.plan.actions[i];
    json::object o{{"action", engine::to_string(a.kind)},
                   {"rule", a.rule},
                   {"target", a.target},
                   {"peer", a.peer},
                   {"reason", a.reason},
                   {"result", result_word(round, i)},
                   {"text", engine::describe(a, port)}};
    if (!a.slots.empty()) o["slots"] = describe_slots(a.slots);
    if (i < round.results.size()) o["detail"] = round.results[i].detail;
    actions.push_back(std::move(o));
  }
  json::array findings;
  for (const auto& f : round.plan.findings) findings.push_back(json::string(f));
  return {{"result", "ok"},
          {"command", "heal"},
          {"pods", pods},
          {"holding", round.plan.holding},
          {"lost_slots", describe_slots(round.plan.lost_slots)},
          {"findings", std::move(findings)},
          {"actions", std::move(actions)}};
}

void print_round(const engine::heal_round& round, std::size_t pods, std::size_t answered, int port,
                 bool json_out) {
  if (json_out) {
    auto o = round_json(round, pods, port);
    o["nodes_answered"] = answered;
    std::cout << json::serialize(o) << std::endl;
    return;
  }
  std::cout << "heal: " << pods << " pods, " << answered << " answered; "
            << (round.plan.actions.empty()
                    ? std::string("nothing to do")
                    : std::to_string(round.plan.actions.size()) + " action(s)")
            << (round.plan.holding ? " (holding still: only joins and new IPs)" : "") << "\n";
  for (const auto& f : round.plan.findings) std::cout << "  seen: " << f << "\n";
  for (std::size_t i = 0; i < round.plan.actions.size(); ++i) {
    std::cout << "  " << result_word(round, i) << ": "
              << engine::describe(round.plan.actions[i], port);
    if (i < round.results.size()) std::cout << " -> " << round.results[i].detail;
    std::cout << "\n";
  }
  std::cout.flush();
}

}  // namespace

asio::awaitable<int> run_heal(settings s, logger log) {
  if (!s.sentinel_nodes.empty()) co_return co_await run_sentinel_heal(std::move(s), log);
  auto ex = co_await asio::this_coro::executor;
  k8s::connection_settings where;
  where.kubeconfig = s.kubeconfig;
  where.context = s.kube_context;
  k8s::client_options copts;
  copts.log = log;
  k8s::client api(ex, k8s::load_rest_config(where), copts);
  const std::string ns = s.k8s_namespace.empty() ? api.namespace_() : s.k8s_namespace;

  engine::redis_target target;
  target.config = redis_config_from(s);
  if (target.config.tls.enabled) target.tls = proto::make_tls_context(target.config.tls);

  auto policy = policy_from(s);
  const bool once = s.once || s.dry_run;
  engine::heal_memory memory;
  bool timeout_known = s.heal_node_timeout_ms > 0;
  asio::steady_timer timer(ex);
  for (;;) {
    k8s::list_options lo;
    lo.label_selector = s.pod_selector;
    auto list = co_await api.async_list(k8s::pods_resource, ns, lo);
    if (!list) {
      if (once) fail(exit_code::failure, list.ec, "cannot list the Redis pods: " + list.message);
      log.warn("heal", "cannot list the Redis pods (nothing is done this round): " + list.message);
    } else {
      auto pods = engine::heal_pods_from(list.items);
      if (pods.empty() && once) {
        fail(exit_code::usage, "no pod in namespace '" + ns + "' matches --pods '" +
                                   s.pod_selector + "': check the selector and the namespace");
      }
      if (!timeout_known) {
        if (auto t = co_await engine::async_read_node_timeout(target, pods, policy.port)) {
          policy.node_timeout = *t;
          timeout_known = true;
        }
      }
      auto round = co_await engine::async_heal_once(target, pods, policy, memory, s.dry_run);
      if (!s.dry_run) memory = round.plan.memory;
      for (const auto& r : round.results) {
        (r.acted ? log.info("heal", r.detail + ": " + r.action.reason)
                 : log.warn("heal", r.detail));
      }
      print_round(round, pods.size(), round.views, policy.port, s.json);
    }
    if (once) co_return 0;
    timer.expires_after(std::chrono::seconds(s.heal_interval_seconds));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::deferred));
    if (ec) co_return 0;  // SIGTERM/SIGINT: stop between rounds
  }
}

}  // namespace kage::cli
