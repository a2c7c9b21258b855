#include "switch_watch.hpp"

#include <kage/base/error.hpp>
#include <kage/proto/resp.hpp>
#include <kage/proto/sentinel.hpp>

#include <boost/asio.hpp>

#include <algorithm>

namespace kage::engine {

namespace {

void forget(switch_watch& w, proto::connection* c) {
  w.open.erase(std::remove(w.open.begin(), w.open.end(), c), w.open.end());
}

// Listens on one sentinel until stopped, cancelled, or the subscription is lost (then the job
// still has its re-ask on connection loss and READONLY).
asio::awaitable<void> watch_one(redis_target side, proto::endpoint ep, std::string name,
                                std::shared_ptr<switch_watch> w, logger log) {
  std::unique_ptr<proto::connection> conn;
  try {
    conn = co_await async_connect(side, ep);
  } catch (const failure& f) {
    log.debug(ep.address(), std::string("no +switch-master subscription here: ") + f.what());
    co_return;
  }
  if (w->stopped) co_return;
  w->open.push_back(conn.get());
  proto::append_command(conn->output(), {"SUBSCRIBE", "+switch-master"});
  auto ec = co_await conn->async_flush();
  for (;;) {
    if (ec) {
      forget(*w, conn.get());
      if (!w->stopped && ec != asio::error::operation_aborted)
        log.debug(ep.address(), "the +switch-master subscription ended: " +
                                    proto::describe_transport_error(ep, ec));
      co_return;
    }
    std::span<const proto::resp_node> nodes;
    ec = co_await conn->async_read(nodes);
    if (ec) continue;
    const proto::reply msg = proto::to_reply(nodes);
    if (msg.elements.size() != 3 || msg.elements[0].value != "message" ||
        msg.elements[1].value != "+switch-master")
      continue;  // the SUBSCRIBE confirmation
    auto m = parse_switch_master(msg.elements[2].value);
    if (!m || m->name != name || m->to == w->following) continue;
    const std::string text = "+switch-master from sentinel " + ep.address() + ": the primary of '" +
                             name + "' moved from " + m->from.address() + " to " + m->to.address();
    log.info(ep.address(), text);
    w->to = m->to;
    w->news = text;
    if (w->fail_work) {
      forget(*w, conn.get());
      fail(exit_code::redis, make_error_code(proto::sentinel_errc::primary_lost), text);
    }
  }
}

asio::awaitable<void> join_then_stop(task_group& work, std::shared_ptr<switch_watch> w) {
  try {
    co_await work.async_join();
  } catch (...) {
    w->stop();
    throw;
  }
  w->stop();
}

}  // namespace

void switch_watch::stop() noexcept {
  stopped = true;
  auto conns = open;
  open.clear();
  for (auto* c : conns) c->close();
}

asio::awaitable<void> async_join_watched(task_group& work, redis_target target,
                                         std::shared_ptr<switch_watch> watch, logger log) {
  if (!target.sentinel) {
    co_await work.async_join();
    co_return;
  }
  redis_target side;
  side.config = target.sentinel->config;
  side.tls = target.tls;
  // A subscription is quiet for as long as no failover happens.
  side.config.read_timeout = std::chrono::hours(24 * 365);
  auto ex = co_await asio::this_coro::executor;
  task_group all(ex);
  all.spawn(join_then_stop(work, watch));
  for (const auto& ep : target.sentinel->nodes) {
    all.spawn(watch_one(side, ep, target.sentinel->master_name, watch, log));
  }
  co_await all.async_join();
}

}  // namespace kage::engine
