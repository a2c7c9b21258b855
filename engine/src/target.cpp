#include <kage/base/error.hpp>
#include <kage/engine/target.hpp>
#include <kage/proto/redis_error.hpp>

#include <boost/asio.hpp>

namespace kage::engine {

redis_target make_target(const std::vector<std::string>& nodes, proto::redis_config config) {
  redis_target t;
  for (const auto& n : nodes) {
    auto ep = parse_endpoint(n);
    if (!ep) {
      fail(exit_code::usage, ep.error(),
           "'" + n + "' is not a HOST:PORT Redis address (" + ep.error().message() + ")");
    }
    t.seeds.push_back(*ep);
  }
  if (t.seeds.empty()) {
    fail(exit_code::usage, "no Redis node given: pass --node HOST:PORT or set REDIS_NODE");
  }
  if (config.tls.enabled) t.tls = proto::make_tls_context(config.tls);
  t.config = std::move(config);
  return t;
}

asio::awaitable<std::unique_ptr<proto::connection>> async_connect(const redis_target& target,
                                                                  proto::endpoint ep) {
  auto conn = std::make_unique<proto::connection>(co_await asio::this_coro::executor, target.config,
                                                  target.tls);
  std::string diagnostic;
  if (auto ec = co_await conn->async_connect(ep, diagnostic)) {
    if (ec == asio::error::operation_aborted) throw boost::system::system_error(ec);  // SIGINT
    fail(exit_code::redis, ec, diagnostic);
  }
  co_return conn;
}

asio::awaitable<cluster_view> async_discover(const redis_target& target, const logger& log) {
  std::string tried;
  boost::system::error_code last;  // the last seed's, so the advice fits what went wrong
  for (const auto& seed : target.seeds) {
    std::unique_ptr<proto::connection> conn;
    try {
      conn = co_await async_connect(target, seed);
    } catch (const failure& f) {
      // A refused authentication (NOAUTH, WRONGPASS...) is the same on every seed: say it at once.
      if (f.error().category() == proto::redis_category()) throw;
      log.debug(seed.address(), f.what());  // reported once, below, with every seed
      tried += std::string(tried.empty() ? "" : "; ") + f.what();
      last = f.error();
      continue;
    }
    cluster_view view;
    view.topology = co_await proto::async_load_topology(*conn, target.config.tls.enabled);
    if (!view.topology.covers_all_slots()) {
      fail(exit_code::redis, "the cluster seen from " + seed.address() +
                                 " does not serve every slot (is cluster_state ok? check "
                                 "'redis-cli --cluster check " +
                                 seed.address() + "')");
    }
    // The version of the masters, not of the seed (which may be a replica).
    const auto* first = view.topology.masters().front();
    std::unique_ptr<proto::connection> master_conn;
    proto::connection* info_conn = conn.get();
    if (!(first->ep == seed)) {
      master_conn = co_await async_connect(target, first->ep);
      info_conn = master_conn.get();
    }
    auto info = co_await proto::exec(*info_conn, "INFO", "server");
    if (info.is_error()) {
      fail(exit_code::redis, info_conn->remote().address() + " refused INFO: " + info.value);
    }
    view.redis_version = proto::parse_info(info.value)["redis_version"];
    co_return view;
  }
  fail(exit_code::redis, last, "no Redis node answered: " + tried);
}

}  // namespace kage::engine
