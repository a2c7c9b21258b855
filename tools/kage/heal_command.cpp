#include "heal_command.hpp"
#include "kube.hpp"

#include "heal_sentinel.hpp"
#include "job_options.hpp"

#include <kage/base/error.hpp>
#include <kage/engine/heal.hpp>
#include <kage/engine/healer.hpp>
#include <kage/engine/http_server.hpp>
#include <kage/engine/metrics.hpp>
#include <kage/k8s/client.hpp>
#include <kage/storage/multi_store.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <unistd.h>

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
  p.stuck_migration_after = std::chrono::seconds(s.heal_stuck_migration_after_seconds);
  p.bootstrap = s.heal_bootstrap;
  p.bootstrap_masters = s.heal_bootstrap_masters;
  p.refill_from_backup = s.heal_refill_from_backup;
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

// kage heal without --once: the healer runs until SIGTERM/SIGINT.
asio::awaitable<int> run_healer(settings s, logger log, k8s::client& api,
                                engine::redis_target target,
                                std::shared_ptr<storage::store> backups) {
  auto ex = co_await asio::this_coro::executor;
  auto metrics = std::make_shared<engine::metrics_registry>();
  engine::healer::describe_metrics(*metrics);
  std::shared_ptr<asio::ip::tcp::acceptor> acceptor;
  if (!s.listen.empty()) {
    acceptor = std::make_shared<asio::ip::tcp::acceptor>(engine::bind_http(ex, s.listen));
    asio::co_spawn(ex, engine::async_serve_http(acceptor, metrics_handler(metrics), log),
                   [log](std::exception_ptr e) {
                     if (e) log.error("heal", "the HTTP server stopped: " + describe(e));
                   });
  }
  auto c = healer_config_from(s, api);
  c.backups = std::move(backups);
  const std::string master_name = target.sentinel ? target.sentinel->master_name : "";
  const std::size_t sentinels = target.sentinel ? target.sentinel->nodes.size() : 0;
  engine::healer h(api, std::move(target), std::move(c), log, metrics.get());
  const bool json_out = s.json;
  const int port = s.heal_redis_port;
  h.on_round = [json_out, port](const engine::heal_round& round, std::size_t pods) {
    print_round(round, pods, round.views, port, json_out);
  };
  h.on_sentinel_round = [=](const engine::sentinel_heal_round& round, std::size_t pods) {
    print_sentinel_round(round, master_name, pods, sentinels, json_out);
  };
  std::exception_ptr error;
  try {
    co_await h.async_run();
  } catch (...) {
    error = std::current_exception();
  }
  if (acceptor) {
    boost::system::error_code ignored;
    acceptor->close(ignored);
  }
  try {
    if (error) std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::operation_aborted) throw;
  }
  co_return 0;  // SIGTERM/SIGINT
}

}  // namespace

std::string instance_identity(const settings& s) {
  if (!s.heal_identity.empty()) return s.heal_identity;
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "kage";
  return name;
}

// heal.lease: auto means on when kage runs in a pod (in-cluster credentials).
std::optional<k8s::leader_election_config> lease_from(const settings& s, const k8s::client& api,
                                                      const std::string& ns,
                                                      const std::string& lease_name) {
  const bool on =
      s.heal_lease == "on" || (s.heal_lease == "auto" && api.config().source == "in-cluster");
  if (!on) return std::nullopt;
  k8s::leader_election_config c;
  c.namespace_ = s.heal_lease_namespace.empty() ? ns : s.heal_lease_namespace;
  c.name = lease_name;
  c.identity = instance_identity(s);
  // client-go's 15 s / 10 s / 2 s, scaled to the configured duration.
  c.lease_duration = std::chrono::seconds(s.heal_lease_duration_seconds);
  c.renew_deadline = c.lease_duration * 2 / 3;
  c.retry_period = std::max<std::chrono::milliseconds>(c.lease_duration * 2 / 15,
                                                       std::chrono::milliseconds(100));
  return c;
}

engine::http_handler metrics_handler(std::shared_ptr<engine::metrics_registry> m) {
  return [m](std::string_view target) {
    const auto path = target.substr(0, target.find('?'));
    engine::http_reply r;
    if (path == "/metrics") {
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = m->render();
    } else if (path == "/healthz" || path == "/readyz") {
      r.body = "ok\n";
    } else {
      r.status = 404;
      r.body = "not found; try /metrics or /healthz\n";
    }
    return r;
  };
}

engine::redis_target heal_target(const settings& s) {
  if (!s.sentinel_nodes.empty()) {
    const std::vector<std::string> no_seeds;  // the sentinels name the primary, the pods the rest
    return engine::make_target(no_seeds, redis_config_from(s), sentinel_options_from(s));
  }
  engine::redis_target target;  // a cluster: the pods are the nodes, no seed
  target.config = redis_config_from(s);
  if (target.config.tls.enabled) target.tls = proto::make_tls_context(target.config.tls);
  return target;
}

engine::healer_config healer_config_from(const settings& s, const k8s::client& api) {
  engine::healer_config c;
  c.namespace_ = s.k8s_namespace.empty() ? api.namespace_() : s.k8s_namespace;
  c.pod_selector = s.pod_selector;
  c.policy = policy_from(s);
  c.node_timeout_known = s.heal_node_timeout_ms > 0;
  c.interval = std::chrono::seconds(s.heal_interval_seconds);
  c.stale_after = std::chrono::seconds(s.heal_api_stale_after_seconds);
  c.lease = lease_from(s, api, c.namespace_, s.heal_lease_name);
  return c;
}

std::shared_ptr<storage::store> heal_backups(const settings& s, asio::any_io_executor ex,
                                             const logger& log, const store_opener& open_store) {
  if (!s.heal_refill_from_backup) return nullptr;
  const auto locations = store_locations(s);
  if (locations.empty()) {
    fail(exit_code::usage,
         "heal.refill_from_backup needs the backups to refill from: give --from LOCATION (or "
         "store.locations in the config file)");
  }
  std::vector<std::shared_ptr<storage::store>> stores;
  for (const auto& l : locations) stores.push_back(open_store(l, ex));
  return std::make_shared<storage::multi_store>(std::move(stores), log);
}

asio::awaitable<int> run_heal(settings s, logger log, store_opener open_store) {
  const bool sentinel_once = !s.sentinel_nodes.empty() && (s.once || s.dry_run);
  if (sentinel_once) co_return co_await run_sentinel_heal_once(std::move(s), log);
  auto ex = co_await asio::this_coro::executor;
  auto client = make_kube_client(s, ex, log);
  k8s::client& api = *client;
  const std::string ns = s.k8s_namespace.empty() ? api.namespace_() : s.k8s_namespace;
  auto target = heal_target(s);

  auto policy = policy_from(s);
  auto backups = heal_backups(s, ex, log, open_store);
  const bool once = s.once || s.dry_run;
  if (!once) {
    co_return co_await run_healer(std::move(s), log, api, std::move(target), std::move(backups));
  }
  // --once / --dry-run: one round from a plain list.
  bool timeout_known = s.heal_node_timeout_ms > 0;
  k8s::list_options lo;
  lo.label_selector = s.pod_selector;
  auto list = co_await api.async_list(k8s::pods_resource, ns, lo);
  if (!list) fail(exit_code::failure, list.ec, "cannot list the Redis pods: " + list.message);
  auto pods = engine::heal_pods_from(list.items);
  if (pods.empty()) {
    fail(exit_code::usage, "no pod in namespace '" + ns + "' matches --pods '" + s.pod_selector +
                               "': check the selector and the namespace");
  }
  if (!timeout_known) {
    if (auto t = co_await engine::async_read_node_timeout(target, pods, policy.port))
      policy.node_timeout = *t;
  }
  engine::heal_memory memory;
  auto round = co_await engine::async_heal_once(target, pods, policy, memory, s.dry_run, backups);
  for (const auto& r : round.results) {
    const std::string line = engine::describe(r.action, policy.port) + " -> " + r.detail;
    (r.acted ? log.info("heal", line) : log.warn("heal", line));
  }
  print_round(round, pods.size(), round.views, policy.port, s.json);
  co_return 0;
}

}  // namespace kage::cli
