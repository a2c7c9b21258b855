#include <kage/base/error.hpp>
#include <kage/engine/target.hpp>
#include <kage/proto/redis_error.hpp>
#include <kage/proto/sentinel.hpp>

#include <boost/asio.hpp>

#include <algorithm>

namespace kage::engine {

redis_target make_target(const std::vector<std::string>& nodes, proto::redis_config config,
                         const sentinel_options& sentinel) {
  redis_target t;
  if (!sentinel.nodes.empty()) {
    if (!nodes.empty()) {
      fail(exit_code::usage,
           "both Redis nodes (--node/REDIS_NODE) and sentinels (--sentinel/SENTINEL_NODES) are "
           "given; name the sentinels alone for a Sentinel deployment, the nodes alone for a "
           "cluster or a single server");
    }
    sentinel_target st;
    for (const auto& n : sentinel.nodes) {
      auto ep = parse_endpoint(n);
      if (!ep) {
        fail(exit_code::usage, ep.error(),
             "'" + n + "' is not a HOST:PORT sentinel address (" + ep.error().message() + ")");
      }
      st.nodes.push_back(*ep);
    }
    st.master_name = sentinel.master_name.empty() ? "mymaster" : sentinel.master_name;
    st.config = config;  // TLS, timeouts and limits as for Redis; credentials of their own
    st.config.user = sentinel.user;
    st.config.password = sentinel.password;
    t.sentinel = std::move(st);
  }
  for (const auto& n : nodes) {
    auto ep = parse_endpoint(n);
    if (!ep) {
      fail(exit_code::usage, ep.error(),
           "'" + n + "' is not a HOST:PORT Redis address (" + ep.error().message() + ")");
    }
    t.seeds.push_back(*ep);
  }
  if (t.seeds.empty() && !t.sentinel) {
    fail(exit_code::usage,
         "no Redis node given: pass --node HOST:PORT or set REDIS_NODE (or --sentinel "
         "HOST:PORT for a Sentinel deployment)");
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

namespace {

using proto::sentinel_errc;

// Asks every sentinel (in order) and believes the majority; see proto::vote_primary.
asio::awaitable<cluster_view> async_discover_sentinel(const redis_target& target,
                                                      const logger& log) {
  const sentinel_target& sn = *target.sentinel;
  redis_target sentinels;
  sentinels.config = sn.config;
  sentinels.tls = target.tls;
  std::string tried;
  std::vector<std::string> asked;  // addresses of the sentinels that answered, in order
  std::vector<proto::endpoint> primaries;
  std::vector<proto::sentinel_answer> answers;
  std::vector<std::string> known_masters;
  std::size_t unknown = 0;
  for (const auto& ep : sn.nodes) {
    std::unique_ptr<proto::connection> conn;
    proto::sentinel_answer answer;
    try {
      conn = co_await async_connect(sentinels, ep);
      answer = co_await proto::async_ask_sentinel(*conn, sn.master_name);
    } catch (const failure& f) {
      // A refused password is the same on every sentinel: say it at once.
      if (f.error().category() == proto::redis_category() && !conn) {
        fail(exit_code::redis, make_error_code(sentinel_errc::auth_refused),
             "sentinel " + ep.address() + " refused kage's credentials (" + f.what() + ")");
      }
      log.debug(ep.address(), f.what());
      tried += std::string(tried.empty() ? "" : "; ") + f.what();
      continue;
    }
    if (!answer.primary) {
      ++unknown;
      for (auto& m : answer.known_masters) {
        if (std::find(known_masters.begin(), known_masters.end(), m) == known_masters.end())
          known_masters.push_back(std::move(m));
      }
      log.warn(ep.address(), "this sentinel monitors no master named '" + sn.master_name + "'");
      continue;
    }
    asked.push_back(ep.address());
    primaries.push_back(*answer.primary);
    answers.push_back(std::move(answer));
  }
  if (primaries.empty() && unknown == 0) {
    fail(exit_code::redis, make_error_code(sentinel_errc::unreachable),
         "no sentinel answered: " + tried);
  }
  if (primaries.empty()) {
    std::string names;
    for (const auto& m : known_masters) names += (names.empty() ? "'" : ", '") + m + "'";
    fail(exit_code::redis, make_error_code(sentinel_errc::unknown_master),
         "the sentinels monitor no master named '" + sn.master_name + "' (they monitor " +
             (names.empty() ? std::string("none") : names) + ")");
  }
  const auto vote = *proto::vote_primary(primaries);
  for (std::size_t i : vote.dissenters) {
    log.warn(asked[i], "this sentinel names " + primaries[i].address() + " as the primary of '" +
                           sn.master_name + "' but " + std::to_string(vote.votes) + " of " +
                           std::to_string(vote.answers) + " name " + vote.primary.address() +
                           "; not trusted");
  }
  if (vote.answers > 1 && vote.votes * 2 <= vote.answers) {
    std::string said;
    for (std::size_t i = 0; i < asked.size(); ++i) {
      said += (i ? "; " : "") + asked[i] + " names " + primaries[i].address();
    }
    fail(exit_code::redis, make_error_code(sentinel_errc::no_agreement),
         "the sentinels do not agree on the primary of '" + sn.master_name + "' (" + said +
             "); a failover may be under way");
  }
  // The replicas as the first trusted sentinel sees them.
  std::size_t trusted = 0;
  while (!(primaries[trusted] == vote.primary)) ++trusted;

  auto conn = co_await async_connect(target, vote.primary);
  auto info = co_await proto::exec(*conn, "INFO", "server");
  auto repl = co_await proto::exec(*conn, "INFO", "replication");
  if (info.is_error() || repl.is_error()) {
    fail(exit_code::redis, conn->remote().address() +
                               " refused INFO: " + (info.is_error() ? info.value : repl.value));
  }
  auto server = proto::parse_info(info.value);
  const std::string role = proto::parse_info(repl.value)["role"];
  if (role != "master") {
    fail(exit_code::redis, make_error_code(sentinel_errc::not_primary),
         "the sentinels name " + vote.primary.address() + " as the primary of '" + sn.master_name +
             "' but it answers as a " + role + "; a failover may be under way");
  }
  cluster_view view;
  view.redis_version = server["redis_version"];
  view.topology.cluster = false;
  proto::node_info primary;
  primary.id = server["run_id"].empty() ? vote.primary.address() : server["run_id"];
  primary.ep = vote.primary;
  primary.master = true;
  primary.slots = {{0, 16383}};
  view.topology.nodes.push_back(primary);
  for (const auto& r : answers[trusted].replicas) {
    if (!proto::usable_replica(r, sn.max_link_down.count())) {
      log.debug(r.ep.address(), "replica skipped: flags " + r.flags + ", link down " +
                                    std::to_string(r.master_link_down_ms) + " ms");
      continue;
    }
    proto::node_info n;
    n.id = r.run_id.empty() ? r.ep.address() : r.run_id;
    n.ep = r.ep;
    n.master_id = primary.id;
    n.replication_offset = r.replication_offset;
    view.topology.nodes.push_back(std::move(n));
  }
  co_return view;
}

// Half a second between two tries at the cluster; false once `deadline` has passed. Throws
// operation_aborted when the job is cancelled meanwhile.
asio::awaitable<bool> async_pause_before_retry(asio::steady_timer& timer,
                                               std::chrono::steady_clock::time_point deadline) {
  if (std::chrono::steady_clock::now() >= deadline) co_return false;
  timer.expires_after(std::chrono::milliseconds(500));
  co_await timer.async_wait(asio::as_tuple(asio::deferred));
  auto state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none) {
    throw boost::system::system_error(asio::error::operation_aborted);
  }
  co_return true;
}

}  // namespace

asio::awaitable<cluster_view> async_await_primary(const redis_target& target,
                                                  std::chrono::milliseconds timeout,
                                                  std::string what_failed, const logger& log) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::string last = what_failed;
  for (;;) {
    std::optional<cluster_view> view;
    try {
      view = co_await async_discover(target, log);
    } catch (const failure& f) {
      if (f.error() == sentinel_errc::auth_refused || f.error() == sentinel_errc::unknown_master)
        throw;
      last = f.what();
    }
    if (view) co_return std::move(*view);
    const bool again = co_await async_pause_before_retry(timer, deadline);
    if (!again) break;
  }
  fail(exit_code::redis, make_error_code(sentinel_errc::primary_lost),
       what_failed + "; the sentinels named no primary that answers as one within " +
           std::to_string(timeout.count() / 1000) + " s (last: " + last + ")");
}

asio::awaitable<cluster_view> async_await_cluster(const redis_target& target,
                                                  const proto::topology& known,
                                                  std::chrono::milliseconds timeout,
                                                  std::string what_failed, const logger& log) {
  redis_target wider = target;
  for (const auto& n : known.nodes) {
    if (std::find(wider.seeds.begin(), wider.seeds.end(), n.ep) == wider.seeds.end())
      wider.seeds.push_back(n.ep);
  }
  wider.config.connect_timeout =
      std::min(wider.config.connect_timeout, std::chrono::milliseconds(2000));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::string last = what_failed;
  for (;;) {
    std::optional<cluster_view> view;
    try {
      view = co_await async_discover(wider, log);
      for (const auto* m : view->topology.masters()) {
        auto conn = co_await async_connect(wider, m->ep);
        auto info = co_await proto::exec(*conn, "CLUSTER", "INFO");
        const std::string state = proto::parse_info(info.value)["cluster_state"];
        if (state != "ok") {
          last = m->ep.address() + " says cluster_state:" + state;
          view.reset();
          break;
        }
      }
    } catch (const failure& f) {
      if (f.error().category() == proto::redis_category()) throw;  // refused credentials
      last = f.what();
      view.reset();
    }
    if (view) co_return std::move(*view);
    const bool again = co_await async_pause_before_retry(timer, deadline);
    if (!again) break;
  }
  fail(exit_code::redis, what_failed +
                             "; the cluster did not serve every slot again (no replica "
                             "took over) within " +
                             std::to_string(timeout.count() / 1000) + " s (last: " + last + ")");
}

asio::awaitable<cluster_view> async_discover(const redis_target& target, const logger& log) {
  if (target.sentinel) co_return co_await async_discover_sentinel(target, log);
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
