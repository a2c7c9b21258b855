#include "heal_sentinel.hpp"

#include "heal_command.hpp"
#include "job_options.hpp"
#include "kube.hpp"

#include <kage/base/error.hpp>
#include <kage/engine/heal.hpp>
#include <kage/engine/sentinel_heal.hpp>
#include <kage/k8s/client.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <iostream>

namespace kage::cli {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;

std::string result_word(const engine::sentinel_heal_round& round, std::size_t i) {
  if (i >= round.results.size()) return "planned";
  return round.results[i].acted ? "done" : "not done";
}

}  // namespace

void print_sentinel_round(const engine::sentinel_heal_round& round, const std::string& master_name,
                          std::size_t pods, std::size_t sentinels, bool json_out) {
  const auto& plan = round.plan;
  if (json_out) {
    json::array actions;
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
      const auto& a = plan.actions[i];
      json::object o{{"action", engine::to_string(a.kind)},
                     {"rule", a.rule},
                     {"target", a.target},
                     {"primary", a.primary},
                     {"reason", a.reason},
                     {"result", result_word(round, i)},
                     {"text", engine::describe(a, master_name)}};
      if (i < round.results.size()) o["detail"] = round.results[i].detail;
      actions.push_back(std::move(o));
    }
    json::array findings;
    for (const auto& f : plan.findings) findings.push_back(json::string(f));
    json::object out{{"result", "ok"},
                     {"command", "heal"},
                     {"mode", "sentinel"},
                     {"master_name", master_name},
                     {"primary", plan.primary},
                     {"pods", pods},
                     {"sentinels", sentinels},
                     {"sentinels_answering", plan.answering},
                     {"sentinels_needed", plan.needed},
                     {"held", plan.held},
                     {"findings", std::move(findings)},
                     {"actions", std::move(actions)}};
    std::cout << json::serialize(out) << std::endl;
    return;
  }
  std::cout << "heal: '" << master_name << "' via " << plan.answering << " of " << sentinels
            << " sentinels, primary " << (plan.primary.empty() ? "unknown" : plan.primary) << ", "
            << pods << " pods; "
            << (plan.actions.empty() ? std::string("nothing to do")
                                     : std::to_string(plan.actions.size()) + " action(s)")
            << (plan.held ? " (holding still)" : "") << "\n";
  for (const auto& f : plan.findings) std::cout << "  seen: " << f << "\n";
  for (std::size_t i = 0; i < plan.actions.size(); ++i) {
    std::cout << "  " << result_word(round, i) << ": "
              << engine::describe(plan.actions[i], master_name);
    if (i < round.results.size()) std::cout << " -> " << round.results[i].detail;
    std::cout << "\n";
  }
  std::cout.flush();
}

asio::awaitable<int> run_sentinel_heal_once(settings s, logger log) {
  auto ex = co_await asio::this_coro::executor;
  auto api = make_kube_client(s, ex, log);
  const std::string ns = kube_namespace(s, *api);
  auto target = heal_target(s);
  const std::string master_name = target.sentinel->master_name;

  engine::sentinel_heal_options options;
  options.port = s.heal_redis_port;
  options.dry_run = s.dry_run;
  k8s::list_options lo;
  lo.label_selector = s.pod_selector;
  auto list = co_await api->async_list(k8s::pods_resource, ns, lo);
  if (!list) fail(exit_code::failure, list.ec, "cannot list the Redis pods: " + list.message);
  auto pods = engine::heal_pods_from(list.items);
  if (pods.empty()) {
    fail(exit_code::usage, "no pod in namespace '" + ns + "' matches --pods '" + s.pod_selector +
                               "': check the selector and the namespace");
  }
  auto round = co_await engine::async_sentinel_heal_once(target, pods, options);
  for (const auto& r : round.results) {
    (r.acted ? log.info("heal", r.detail + ": " + r.action.reason) : log.warn("heal", r.detail));
  }
  print_sentinel_round(round, master_name, pods.size(), target.sentinel->nodes.size(), s.json);
  co_return 0;
}

}  // namespace kage::cli
