#include <kage/base/error.hpp>
#include <kage/base/task_group.hpp>
#include <kage/engine/heal.hpp>

#include <kage/proto/connection.hpp>
#include "heal_io.hpp"

#include <boost/asio.hpp>

#include <algorithm>
#include <charconv>
#include <memory>

namespace kage::engine {

namespace heal_io {

proto::endpoint pod_endpoint(const std::string& ip, int port) {
  proto::endpoint ep;
  ep.host = ip;
  ep.port = static_cast<std::uint16_t>(port);
  return ep;
}

asio::awaitable<std::optional<heal_view>> async_read_view(const redis_target& target,
                                                          std::string ip, int port,
                                                          std::string& why) {
  std::unique_ptr<proto::connection> conn;
  const proto::endpoint ep = pod_endpoint(ip, port);
  try {
    conn = co_await async_connect(target, ep);
  } catch (const failure& f) {
    why = f.what();
    co_return std::nullopt;
  }
  proto::reply nodes;
  proto::reply size;
  proto::reply info;
  if (auto ec = co_await conn->async_exec(words("CLUSTER", "NODES"), nodes)) {
    why = proto::describe_transport_error(conn->remote(), ec);
    co_return std::nullopt;
  }
  if (auto ec = co_await conn->async_exec(words("DBSIZE"), size)) {
    why = proto::describe_transport_error(conn->remote(), ec);
    co_return std::nullopt;
  }
  if (auto ec = co_await conn->async_exec(words("CLUSTER", "INFO"), info)) {
    why = proto::describe_transport_error(conn->remote(), ec);
    co_return std::nullopt;
  }
  if (nodes.is_error() || size.is_error()) {
    why = ip + " refused CLUSTER NODES or DBSIZE: " + (nodes.is_error() ? nodes : size).value;
    co_return std::nullopt;
  }
  auto lines = proto::parse_cluster_nodes_lines(nodes.value);
  if (!lines) {
    why = ip + " sent a CLUSTER NODES reply kage cannot read (" + lines.error().message() + ")";
    co_return std::nullopt;
  }
  heal_view view;
  view.ip = std::move(ip);
  view.nodes = std::move(*lines);
  std::from_chars(size.value.data(), size.value.data() + size.value.size(), view.keys);
  view.state_ok = !info.is_error() && info.value.find("cluster_state:ok") != std::string::npos;
  co_return view;
}

const proto::cluster_nodes_line* find_line(const heal_view& v, const std::string& id) {
  for (const auto& line : v.nodes) {
    if (line.id == id) return &line;
  }
  return nullptr;
}

const proto::cluster_nodes_line* self_line(const heal_view& v) {
  for (const auto& line : v.nodes) {
    if (line.has_flag("myself")) return &line;
  }
  return nullptr;
}

}  // namespace heal_io

using namespace heal_io;

namespace {

// Whether the action still applies to the target as it is now; why not, when it does not.
std::optional<std::string> stale(const heal_action& a, const heal_view& now) {
  const auto* self = self_line(now);
  if (!self) return "its CLUSTER NODES has no 'myself' line";
  switch (a.kind) {
    case heal_action_kind::meet: {
      for (const auto& line : now.nodes) {
        if (line.host() == a.peer && !line.has_flag("handshake") && !line.has_flag("fail")) {
          return "it already knows node " + line.id.substr(0, 8) + " at " + a.peer;
        }
      }
      return std::nullopt;
    }
    case heal_action_kind::replicate: {
      if (!self->has_flag("master")) return "it is no longer a master";
      if (std::any_of(self->slots.begin(), self->slots.end(),
                      [](const std::string& s) { return !s.empty() && s[0] != '['; })) {
        return "it serves slots now";
      }
      if (now.keys != 0) return "it holds " + std::to_string(now.keys) + " keys now";
      const auto* master = find_line(now, a.peer);
      if (!master || !master->has_flag("master") || master->has_flag("fail")) {
        return "it does not know " + a.peer.substr(0, 8) + " as a live master";
      }
      return std::nullopt;
    }
    case heal_action_kind::forget: {
      if (self->id == a.peer) return "it is that node";
      const auto* gone = find_line(now, a.peer);
      if (!gone) return "it no longer knows that node";
      if (!gone->has_flag("fail") && !gone->has_flag("noaddr")) {
        return "it does not see that node as failed";
      }
      if (std::any_of(gone->slots.begin(), gone->slots.end(),
                      [](const std::string& s) { return !s.empty() && s[0] != '['; })) {
        return "that node serves slots";
      }
      return std::nullopt;
    }
    case heal_action_kind::create_cluster:
    case heal_action_kind::close_migration:
    case heal_action_kind::take_slots:
    case heal_action_kind::restore_slots:
      return std::nullopt;  // their executors re-check every node they touch
  }
  return "kage does not know this action";
}

}  // namespace

asio::awaitable<std::optional<std::chrono::milliseconds>> async_read_node_timeout(
    const redis_target& target, std::vector<heal_pod> pods, int port) {
  for (const auto& pod : pods) {
    if (pod.ip.empty()) continue;
    const proto::endpoint ep = pod_endpoint(pod.ip, port);
    std::unique_ptr<proto::connection> conn;
    try {
      conn = co_await async_connect(target, ep);
    } catch (const failure&) {
      continue;
    }
    proto::reply r;
    if (co_await conn->async_exec(words("CONFIG", "GET", "cluster-node-timeout"), r)) continue;
    if (r.elements.size() != 2) continue;
    long long ms = 0;
    const auto& v = r.elements[1].value;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
    if (ec == std::errc{} && end == v.data() + v.size() && ms > 0) {
      co_return std::chrono::milliseconds(ms);
    }
  }
  co_return std::nullopt;
}

namespace {

// async_observe's shared work: the next pod to read, and each pod's view by index (so views
// keep the pods' order whatever order the reads finish in).
struct observe_work {
  const redis_target* target = nullptr;
  const std::vector<heal_pod>* pods = nullptr;
  int port = 0;
  std::size_t next = 0;
  std::vector<std::optional<heal_view>> views;
};

asio::awaitable<void> observe_some(std::shared_ptr<observe_work> work) {
  for (;;) {
    const std::size_t i = work->next++;  // one thread: the workers take turns between awaits
    if (i >= work->pods->size()) co_return;
    const std::string ip = (*work->pods)[i].ip;
    if (ip.empty()) continue;
    std::string why;
    auto view = co_await async_read_view(*work->target, ip, work->port, why);
    work->views[i] = std::move(view);
  }
}

}  // namespace

asio::awaitable<heal_observed> async_observe(const redis_target& target, std::vector<heal_pod> pods,
                                             int port) {
  auto ex = co_await asio::this_coro::executor;
  auto work = std::make_shared<observe_work>();
  work->target = &target;
  work->pods = &pods;
  work->port = port;
  work->views.resize(pods.size());
  const std::size_t readers = std::min(observe_concurrency, pods.size());
  task_group group(ex);
  for (std::size_t r = 0; r < readers; ++r) group.spawn(observe_some(work));
  co_await group.async_join();
  heal_observed out;
  for (auto& view : work->views) {
    if (view) out.views.push_back(std::move(*view));
  }
  out.pods = std::move(pods);
  co_return out;
}

asio::awaitable<heal_result> async_execute(const redis_target& target, heal_action action, int port,
                                           std::shared_ptr<storage::store> backups) {
  heal_result r;
  r.action = action;
  std::string why;
  auto now = co_await async_read_view(target, action.target, port, why);
  if (!now) {
    r.detail = "not done: " + why;
    co_return r;
  }
  if (auto no = stale(action, *now)) {
    r.detail = "not done: " + action.target + " changed since the plan: " + *no;
    co_return r;
  }
  if (action.kind == heal_action_kind::create_cluster) {
    auto done = co_await async_create_cluster(target, std::move(r), port);
    co_return done;
  }
  if (action.kind == heal_action_kind::close_migration) {
    auto done = co_await async_close_migration(target, std::move(r), port);
    co_return done;
  }
  if (action.kind == heal_action_kind::take_slots) {
    auto done = co_await async_take_slots(target, std::move(r), port);
    co_return done;
  }
  if (action.kind == heal_action_kind::restore_slots) {
    auto done = co_await async_restore_slots(target, std::move(r), port, std::move(backups));
    co_return done;
  }
  std::vector<std::string> command;
  switch (action.kind) {
    case heal_action_kind::meet:
      command = words("CLUSTER", "MEET", action.peer, std::to_string(port));
      break;
    case heal_action_kind::replicate:
      command = words("CLUSTER", "REPLICATE", action.peer);
      break;
    case heal_action_kind::forget:
      command = words("CLUSTER", "FORGET", action.peer);
      break;
    default:
      co_return r;  // stale() refused it
  }
  std::unique_ptr<proto::connection> conn;
  const proto::endpoint ep = pod_endpoint(action.target, port);
  try {
    conn = co_await async_connect(target, ep);
  } catch (const failure& f) {
    r.detail = std::string("not done: ") + f.what();
    co_return r;
  }
  proto::reply reply;
  if (auto ec = co_await conn->async_exec(command, reply)) {
    r.detail = "failed: " + proto::describe_transport_error(conn->remote(), ec);
    co_return r;
  }
  if (reply.is_error()) {
    r.detail = "refused by " + action.target + ": " + reply.value;
    co_return r;
  }
  r.acted = true;
  r.detail = "done: " + command[0] + " " + command[1] + " on " + action.target;
  co_return r;
}

namespace {

// What of `r` the view `v` (read at v.ip) does not show yet; empty when it agrees or has no say.
std::string disagreement(const heal_result& r, const heal_view& v) {
  const auto& a = r.action;
  switch (a.kind) {
    case heal_action_kind::meet: {
      if (v.ip == a.peer) return {};
      for (const auto& line : v.nodes) {
        if (line.host() == a.peer && !line.has_flag("handshake") && !line.has_flag("fail") &&
            !line.has_flag("noaddr"))
          return {};
      }
      return v.ip + " does not know a node at " + a.peer + " yet";
    }
    case heal_action_kind::replicate: {
      if (v.ip != a.target) return {};
      const auto* self = self_line(v);
      if (self && self->has_flag("slave") && self->master == a.peer) return {};
      return a.target + " does not show " + a.peer.substr(0, 8) + " as its master yet";
    }
    case heal_action_kind::forget:
      if (v.ip != a.target || !find_line(v, a.peer)) return {};
      return a.target + " still knows " + a.peer.substr(0, 8);
    case heal_action_kind::create_cluster:
      return create_disagreement(a, v);
    case heal_action_kind::close_migration:
      return migration_disagreement(a, v);
    case heal_action_kind::take_slots:
      return take_disagreement(a, v);
    default:
      return {};
  }
}

}  // namespace

asio::awaitable<std::string> async_await_agreement(const redis_target& target,
                                                   std::vector<heal_result> results,
                                                   std::vector<heal_pod> pods, int port,
                                                   std::chrono::milliseconds deadline) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer pause(ex);
  const auto until = std::chrono::steady_clock::now() + deadline;
  std::string missing;
  for (;;) {
    missing.clear();
    for (const auto& pod : pods) {
      if (pod.ip.empty()) continue;
      std::string why;
      auto view = co_await async_read_view(target, pod.ip, port, why);
      if (!view) continue;  // a pod that does not answer has no say
      for (const auto& r : results) {
        if (!r.acted) continue;
        auto d = disagreement(r, *view);
        if (d.empty()) continue;
        missing = std::move(d);
        break;
      }
      if (!missing.empty()) break;
    }
    if (missing.empty() || std::chrono::steady_clock::now() >= until) co_return missing;
    pause.expires_after(std::chrono::milliseconds(200));
    co_await pause.async_wait(asio::deferred);
  }
}

asio::awaitable<heal_round> async_heal_once(const redis_target& target, std::vector<heal_pod> pods,
                                            heal_policy policy, heal_memory memory, bool dry_run,
                                            std::shared_ptr<storage::store> backups) {
  heal_round round;
  auto observed = co_await async_observe(target, std::move(pods), policy.port);
  round.views = observed.views.size();
  round.plan = plan_heal(observed, policy, memory, heal_clock::now());
  if (dry_run) co_return round;
  for (const auto& action : round.plan.actions) {
    auto r = co_await async_execute(target, action, policy.port, backups);
    round.results.push_back(std::move(r));
  }
  co_return round;
}

}  // namespace kage::engine
