#include "controller_command.hpp"

#include "heal_command.hpp"
#include "job_options.hpp"
#include "kube.hpp"

#include <kage/base/error.hpp>
#include <kage/engine/http_server.hpp>
#include <kage/engine/metrics.hpp>
#include <kage/k8s/client.hpp>

#include <boost/asio.hpp>

#include <unistd.h>

namespace kage::cli {

namespace {

namespace asio = boost::asio;

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "kage";
  return name;
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

engine::backup_controller_config controller_config_from(const settings& s, const k8s::client& api,
                                                        engine::store_opener open) {
  engine::backup_controller_config c;
  c.namespace_ = s.controller_all_namespaces ? std::string() : kube_namespace(s, api);
  c.pods_label_key = s.controller_pods_label_key;
  c.redis_port = s.heal_redis_port;
  c.max_concurrent = s.controller_max_concurrent;
  c.identity = s.heal_identity.empty() ? host_name() : s.heal_identity;
  c.redis = redis_config_from(s);
  c.open_store = std::move(open);
  const bool lease =
      s.heal_lease == "on" || (s.heal_lease == "auto" && api.config().source == "in-cluster");
  if (lease) {
    k8s::leader_election_config l;
    l.namespace_ = s.heal_lease_namespace.empty() ? kube_namespace(s, api) : s.heal_lease_namespace;
    l.name = s.controller_lease_name;
    l.identity = c.identity;
    l.lease_duration = std::chrono::seconds(s.heal_lease_duration_seconds);
    l.renew_deadline = l.lease_duration * 2 / 3;
    l.retry_period = std::max<std::chrono::milliseconds>(l.lease_duration * 2 / 15,
                                                         std::chrono::milliseconds(100));
    c.lease = l;
  }
  return c;
}

// Cancelled by SIGTERM/SIGINT: operation_aborted, alone or first of the several that the
// watch and the job loop end with together (awaitable operators' multiple_exceptions).
bool cancelled(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const boost::asio::multiple_exceptions& m) {
    return cancelled(m.first_exception());
  } catch (const boost::system::system_error& s) {
    return s.code() == boost::asio::error::operation_aborted;
  } catch (...) {
  }
  return false;
}

void log_start(const logger& log, const engine::backup_controller_config& c) {
  log.info(
      "controller",
      c.identity + " runs the RedisBackups (redis.io/v1) of " +
          (c.namespace_.empty() ? std::string("every namespace") : "namespace " + c.namespace_) +
          ", at most " + std::to_string(c.max_concurrent) + " at once; pods: " + c.pods_label_key +
          "=<clusterName>, port " + std::to_string(c.redis_port));
}

}  // namespace

asio::awaitable<int> run_controller(settings s, logger log, engine::store_opener open) {
  auto ex = co_await asio::this_coro::executor;
  auto client = make_kube_client(s, ex, log);
  k8s::client& api = *client;
  auto metrics = std::make_shared<engine::metrics_registry>();
  engine::backup_controller::describe_metrics(*metrics);
  std::shared_ptr<asio::ip::tcp::acceptor> acceptor;
  if (!s.listen.empty()) {
    acceptor = std::make_shared<asio::ip::tcp::acceptor>(engine::bind_http(ex, s.listen));
    asio::co_spawn(ex, engine::async_serve_http(acceptor, metrics_handler(metrics), log),
                   [log](std::exception_ptr e) {
                     if (e) log.error("controller", "the HTTP server stopped: " + describe(e));
                   });
  }
  auto config = controller_config_from(s, api, std::move(open));
  log_start(log, config);
  engine::backup_controller controller(api, std::move(config), log, metrics.get());
  std::exception_ptr error;
  try {
    co_await controller.async_run();
  } catch (...) {
    error = std::current_exception();
  }
  if (acceptor) {
    boost::system::error_code ignored;
    acceptor->close(ignored);
  }
  if (error && !cancelled(error)) std::rethrow_exception(error);
  co_return 0;  // SIGTERM/SIGINT
}

}  // namespace kage::cli
