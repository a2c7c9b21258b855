#include <kage/base/endpoint.hpp>
#include <kage/base/error.hpp>
#include <kage/engine/sentinel_heal.hpp>
#include <kage/proto/connection.hpp>
#include <kage/proto/sentinel.hpp>
#include <kage/proto/topology.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace kage::engine {

namespace {

using sclock = std::chrono::steady_clock;

// A command's words, built outside coroutine frames (GCC 12 miscompiles braced lists there).
template <class... Words>
std::vector<std::string> words(const Words&... w) {
  return {std::string(w)...};
}

proto::endpoint endpoint_at(const std::string& host, int port) {
  proto::endpoint ep;
  ep.host = host;
  ep.port = static_cast<std::uint16_t>(port);
  return ep;
}

redis_target sentinel_side(const redis_target& t) {
  redis_target s;
  s.config = t.sentinel->config;
  s.tls = t.tls;
  return s;
}

std::string text_of(const proto::reply& r, std::string_view key) {
  const proto::reply* v = r.find(key);
  return v && v->is_string() ? v->value : std::string();
}

std::vector<sentinel_peer> peers_of(const std::vector<proto::sentinel_replica>& entries) {
  std::vector<sentinel_peer> out;
  for (const auto& e : entries) out.push_back({e.ep.address(), e.run_id, e.flags});
  return out;
}

// One command; false with `why` set on a transport failure. An error reply is a reply.
asio::awaitable<bool> ask(proto::connection& conn, std::vector<std::string> command,
                          proto::reply& out, std::string& why) {
  auto ec = co_await conn.async_exec(std::move(command), out);
  if (ec) why = proto::describe_transport_error(conn.remote(), ec);
  co_return !ec;
}

// What one sentinel says about `name` now; reachable false (with error) when it does not
// answer or answers nothing kage can read.
asio::awaitable<sentinel_state> async_read_sentinel(const redis_target& side, proto::endpoint ep,
                                                    std::string name) {
  sentinel_state s;
  s.address = ep.address();
  std::unique_ptr<proto::connection> conn;
  try {
    conn = co_await async_connect(side, ep);
  } catch (const failure& f) {
    s.error = f.what();
    co_return s;
  }
  proto::reply info;  // SENTINEL MYID
  proto::reply master;
  proto::reply replicas;
  proto::reply sentinels;
  // Its sentinel id, as the others list it (runid); not INFO's run_id (Redis 6.2+).
  bool ok = co_await ask(*conn, words("SENTINEL", "MYID"), info, s.error);
  if (!ok) co_return s;
  ok = co_await ask(*conn, words("SENTINEL", "MASTER", name), master, s.error);
  if (!ok) co_return s;
  if (info.is_error()) {
    s.error = "refused SENTINEL MYID: " + info.value;
    co_return s;
  }
  s.run_id = info.value;
  if (master.is_error()) {  // "ERR No such master with that name": reachable, monitors none
    s.reachable = true;
    co_return s;
  }
  auto port = text_of(master, "port");
  int port_number = 0;
  std::from_chars(port.data(), port.data() + port.size(), port_number);
  s.master = endpoint_at(text_of(master, "ip"), port_number).address();
  s.master_flags = text_of(master, "flags");
  const auto quorum = text_of(master, "quorum");
  std::from_chars(quorum.data(), quorum.data() + quorum.size(), s.quorum);
  s.failover_in_progress = has_sentinel_flag(s.master_flags, "failover_in_progress") ||
                           master.find("failover-state") != nullptr;
  ok = co_await ask(*conn, words("SENTINEL", "REPLICAS", name), replicas, s.error);
  if (!ok) co_return s;
  if (replicas.is_error()) {  // Redis before 6.2 knows only the old name
    ok = co_await ask(*conn, words("SENTINEL", "SLAVES", name), replicas, s.error);
    if (!ok) co_return s;
  }
  ok = co_await ask(*conn, words("SENTINEL", "SENTINELS", name), sentinels, s.error);
  if (!ok) co_return s;
  auto r = proto::parse_sentinel_replicas(replicas);
  auto o = proto::parse_sentinel_replicas(sentinels);
  if (replicas.is_error() || sentinels.is_error() || !r || !o) {
    s.error = "answered SENTINEL REPLICAS/SENTINELS with a reply kage cannot read" +
              (replicas.is_error()    ? ": " + replicas.value
               : sentinels.is_error() ? ": " + sentinels.value
                                      : std::string());
    co_return s;
  }
  s.replicas = peers_of(*r);
  s.sentinels = peers_of(*o);
  s.reachable = true;
  co_return s;
}

// What one Redis server says about itself: INFO replication and DBSIZE.
asio::awaitable<sentinel_server_state> async_read_server(const redis_target& target,
                                                         proto::endpoint ep, std::string name) {
  sentinel_server_state s;
  s.name = std::move(name);
  s.address = ep.address();
  std::unique_ptr<proto::connection> conn;
  try {
    conn = co_await async_connect(target, ep);
  } catch (const failure& f) {
    s.error = f.what();
    co_return s;
  }
  proto::reply info;
  proto::reply size;
  bool ok = co_await ask(*conn, words("INFO", "replication"), info, s.error);
  if (!ok) co_return s;
  ok = co_await ask(*conn, words("DBSIZE"), size, s.error);
  if (!ok) co_return s;
  if (info.is_error() || size.is_error()) {
    s.error = "refused INFO or DBSIZE: " + (info.is_error() ? info : size).value;
    co_return s;
  }
  auto fields = proto::parse_info(info.value);
  s.answered = true;
  s.role = fields["role"];
  if (s.role == "slave") {
    int port = 0;
    const auto& p = fields["master_port"];
    std::from_chars(p.data(), p.data() + p.size(), port);
    s.master = endpoint_at(fields["master_host"], port).address();
    s.link_up = fields["master_link_status"] == "up";
  }
  std::from_chars(size.value.data(), size.value.data() + size.value.size(), s.keys);
  co_return s;
}

const sentinel_action* find_action(const sentinel_plan& p, const sentinel_action& a) {
  for (const auto& x : p.actions) {
    if (x.kind == a.kind && x.target == a.target) return &x;
  }
  return nullptr;
}

// What a reset sentinel still misses of what it must know again; "" when nothing.
std::string missing(const sentinel_state& s, const sentinel_action& a) {
  if (!s.reachable) return "it does not answer (" + s.error + ")";
  std::string out;
  const auto healthy = [](const sentinel_peer& e) {
    return !has_sentinel_flag(e.flags, "s_down") && !has_sentinel_flag(e.flags, "o_down") &&
           !has_sentinel_flag(e.flags, "disconnected");
  };
  for (const auto& id : a.expect_sentinels) {
    if (!std::any_of(s.sentinels.begin(), s.sentinels.end(),
                     [&](const sentinel_peer& e) { return e.run_id == id && healthy(e); }))
      out += (out.empty() ? "" : ", ") + std::string("sentinel ") + id.substr(0, 8);
  }
  for (const auto& address : a.expect_replicas) {
    if (!std::any_of(s.replicas.begin(), s.replicas.end(),
                     [&](const sentinel_peer& e) { return e.address == address && healthy(e); }))
      out += (out.empty() ? "" : ", ") + std::string("replica ") + address;
  }
  return out;
}

std::string seconds(sclock::duration d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s",
                std::chrono::duration<double>(d).count());  // one decimal is enough here
  return text;
}

// Carries out a fresh action; sets stop when no further action may follow this round.
asio::awaitable<sentinel_heal_result> async_act(const redis_target& target, sentinel_action a,
                                                sentinel_heal_options options, bool& stop) {
  sentinel_heal_result r;
  r.action = a;
  const bool reset = a.kind == sentinel_action_kind::reset;
  auto where = parse_endpoint(a.target);
  auto primary = parse_endpoint(a.primary);
  if (!where || !primary) {
    r.detail = "not done: '" + a.target + "' or '" + a.primary + "' is not an address";
    co_return r;
  }
  const redis_target side = reset ? sentinel_side(target) : target;
  std::unique_ptr<proto::connection> conn;
  try {
    conn = co_await async_connect(side, *where);
  } catch (const failure& f) {
    r.detail = std::string("not done: ") + f.what();
    stop = reset;
    co_return r;
  }
  std::vector<std::string> command =
      reset ? words("SENTINEL", "RESET", target.sentinel->master_name)
            : words("REPLICAOF", primary->host, std::to_string(primary->port));
  proto::reply reply;
  std::string why;
  const bool sent = co_await ask(*conn, command, reply, why);
  if (!sent || reply.is_error()) {
    r.detail = "failed: " + (sent ? a.target + " refused it: " + reply.value : why);
    stop = reset;
    co_return r;
  }
  r.acted = true;
  const std::string done = "done: " + command[0] + " " + command[1] + " on " + a.target;
  if (!reset) {
    r.detail = done;
    co_return r;
  }
  // Wait until the sentinel knows the others and the live replicas again.
  const auto start = sclock::now();
  const auto until = start + options.rediscover_timeout;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  std::string lacking;
  for (;;) {
    auto now = co_await async_read_sentinel(side, *where, target.sentinel->master_name);
    lacking = missing(now, a);
    if (lacking.empty()) {
      r.detail = done + "; it knew the other " + std::to_string(a.expect_sentinels.size()) +
                 " sentinel(s) and " + std::to_string(a.expect_replicas.size()) +
                 " replica(s) again after " + seconds(sclock::now() - start);
      co_return r;
    }
    if (sclock::now() >= until) break;
    timer.expires_after(std::chrono::milliseconds(250));
    co_await timer.async_wait(asio::deferred);
  }
  stop = true;
  r.detail = done + ", but after " + seconds(options.rediscover_timeout) + " it still misses " +
             lacking + ": no further reset this round";
  co_return r;
}

}  // namespace

asio::awaitable<sentinel_observed> async_observe_sentinels(const redis_target& target,
                                                           std::vector<heal_pod> pods, int port) {
  const sentinel_target& sn = *target.sentinel;
  const redis_target side = sentinel_side(target);
  sentinel_observed o;
  o.master_name = sn.master_name;
  for (const auto& ep : sn.nodes) {
    o.sentinels.push_back(co_await async_read_sentinel(side, ep, sn.master_name));
  }
  for (const auto& pod : pods) {
    if (pod.ip.empty() || pod.deleting) continue;
    const auto ep = endpoint_at(pod.ip, port);
    o.pods.push_back(co_await async_read_server(target, ep, pod.name));
  }
  // The primaries the sentinels name that are no pod (a selector that covers replicas only).
  for (const auto& s : o.sentinels) {
    if (s.master.empty()) continue;
    const auto known = [&](const std::vector<sentinel_server_state>& v) {
      return std::any_of(v.begin(), v.end(), [&](const auto& x) { return x.address == s.master; });
    };
    if (known(o.pods) || known(o.primaries)) continue;
    auto ep = parse_endpoint(s.master);
    if (!ep) continue;
    o.primaries.push_back(co_await async_read_server(target, *ep, ""));
  }
  co_return o;
}

asio::awaitable<sentinel_heal_round> async_sentinel_heal_once(const redis_target& target,
                                                              std::vector<heal_pod> pods,
                                                              sentinel_heal_options options) {
  sentinel_heal_round round;
  auto first = co_await async_observe_sentinels(target, pods, options.port);
  round.plan = plan_sentinel_heal(first);
  if (options.dry_run) co_return round;
  bool stop = false;
  for (const auto& planned : round.plan.actions) {
    if (stop) {
      sentinel_heal_result r;
      r.action = planned;
      r.detail = "not done: an earlier action of this round did not end well";
      round.results.push_back(std::move(r));
      continue;
    }
    // The precondition, re-checked: a plan from a fresh look must still hold this action.
    auto now = co_await async_observe_sentinels(target, pods, options.port);
    const auto fresh = plan_sentinel_heal(now);
    const sentinel_action* still = find_action(fresh, planned);
    if (!still) {
      sentinel_heal_result r;
      r.action = planned;
      r.detail = "not done: a fresh look no longer calls for it" +
                 (fresh.held && !fresh.findings.empty() ? " (" + fresh.findings.back() + ")"
                                                        : std::string());
      stop = fresh.held;
      round.results.push_back(std::move(r));
      continue;
    }
    const sentinel_action action = *still;
    round.results.push_back(co_await async_act(target, action, options, stop));
  }
  co_return round;
}

}  // namespace kage::engine
