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

engine::backup_controller_config controller_config_from(const settings& s, const k8s::client& api,
                                                        engine::store_opener open) {
  engine::backup_controller_config c;
  c.namespace_ = s.controller_all_namespaces ? std::string() : kube_namespace(s, api);
  c.pods_label_key = s.controller_pods_label_key;
  c.redis_port = s.heal_redis_port;
  c.max_concurrent = s.controller_max_concurrent;
  c.identity = instance_identity(s);
  c.redis = redis_config_from(s);
  c.open_store = std::move(open);
  c.lease = lease_from(s, api, kube_namespace(s, api), s.controller_lease_name);
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
