#include <kage/k8s/leader_election.hpp>

#include <kage/base/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <boost/system/system_error.hpp>

#include <ctime>
#include <random>

namespace kage::k8s {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace asio::experimental::awaitable_operators;

namespace {

// metav1.MicroTime: "2024-05-01T10:00:00.123456Z".
std::string micro_time_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06lldZ", static_cast<long long>(micros));
  return buf;
}

lease_record parse_record(const json::value& lease) {
  lease_record r;
  const json::object* o = lease.if_object();
  const json::value* spec = o ? o->if_contains("spec") : nullptr;
  if (!spec || !spec->is_object()) return r;
  const json::object& s = spec->get_object();
  auto str = [&](std::string_view key) {
    const json::value* v = s.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  auto num = [&](std::string_view key) -> std::int64_t {
    const json::value* v = s.if_contains(key);
    return v && v->is_int64() ? v->get_int64() : 0;
  };
  r.holder = str("holderIdentity");
  r.lease_duration_seconds = num("leaseDurationSeconds");
  r.acquire_time = str("acquireTime");
  r.renew_time = str("renewTime");
  r.transitions = num("leaseTransitions");
  return r;
}

json::object to_spec(const lease_record& r) {
  json::object s;
  s["holderIdentity"] = r.holder;
  s["leaseDurationSeconds"] = r.lease_duration_seconds;
  if (!r.acquire_time.empty()) s["acquireTime"] = r.acquire_time;
  if (!r.renew_time.empty()) s["renewTime"] = r.renew_time;
  s["leaseTransitions"] = r.transitions;
  return s;
}

// Built outside coroutines (GCC 12 and initializer lists in coroutine frames do not mix).
json::value make_lease(const leader_election_config& c, const lease_record& r) {
  json::object lease;
  lease["apiVersion"] = "coordination.k8s.io/v1";
  lease["kind"] = "Lease";
  json::object meta;
  meta["name"] = c.name;
  meta["namespace"] = c.namespace_;
  lease["metadata"] = std::move(meta);
  lease["spec"] = to_spec(r);
  return lease;
}

std::string spec_text(const json::value& lease) {
  const json::object* o = lease.if_object();
  const json::value* spec = o ? o->if_contains("spec") : nullptr;
  return spec ? json::serialize(*spec) : std::string();
}

asio::awaitable<void> wait_until(asio::steady_timer& timer) {
  co_await timer.async_wait(asio::as_tuple(asio::deferred));
}

}  // namespace

leader_elector::leader_elector(client& c, leader_election_config config, kage::logger log)
    : client_(c), config_(std::move(config)), log_(std::move(log)) {
  if (config_.namespace_.empty()) config_.namespace_ = client_.namespace_();
  const auto bad = [](const std::string& why) {
    fail(exit_code::usage, "leader election: " + why);
  };
  if (config_.name.empty()) bad("the Lease needs a name");
  if (config_.identity.empty()) bad("this candidate needs an identity (its pod name)");
  if (config_.renew_deadline >= config_.lease_duration)
    bad("the renew deadline must be shorter than the lease duration");
  if (config_.retry_period >= config_.renew_deadline)
    bad("the retry period must be shorter than the renew deadline");
  if (config_.lease_duration < std::chrono::seconds(1))
    bad("the lease duration must be at least 1 s");
}

asio::awaitable<bool> leader_elector::async_try_acquire_or_renew() {
  const auto duration_s = std::max<std::int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count());
  const std::string now = micro_time_now();
  auto got = co_await client_.async_get(leases_resource, config_.namespace_, config_.name);
  if (got.ec == api_errc::not_found) {
    lease_record mine;
    mine.holder = config_.identity;
    mine.lease_duration_seconds = duration_s;
    mine.acquire_time = mine.renew_time = now;
    auto created = co_await client_.async_create(leases_resource, config_.namespace_,
                                                 make_lease(config_, mine));
    if (!created) {
      if (created.ec != api_errc::already_exists) log_.warn("k8s", created.message);
      co_return false;
    }
    observed_ = mine;
    observed_raw_ = spec_text(created.object);
    observed_time_ = std::chrono::steady_clock::now();
    co_return true;
  }
  if (!got) {
    log_.warn("k8s", got.message);
    co_return false;
  }
  const lease_record current = parse_record(got.object);
  if (const std::string raw = spec_text(got.object); raw != observed_raw_) {
    observed_raw_ = raw;
    observed_ = current;
    observed_time_ = std::chrono::steady_clock::now();
  }
  const bool mine = current.holder == config_.identity;
  if (!current.holder.empty() && !mine &&
      std::chrono::steady_clock::now() <
          observed_time_ + std::chrono::seconds(current.lease_duration_seconds))
    co_return false;  // another holds it and its record changed within its lease duration
  lease_record next = current;
  next.holder = config_.identity;
  next.lease_duration_seconds = duration_s;
  next.renew_time = now;
  if (!mine) {
    next.acquire_time = now;
    ++next.transitions;
  }
  json::value lease = got.object;
  lease.as_object()["spec"] = to_spec(next);  // metadata.resourceVersion stays: a precondition
  auto updated = co_await client_.async_update(leases_resource, config_.namespace_, config_.name,
                                               std::move(lease));
  if (!updated) {
    if (updated.ec != api_errc::conflict) log_.warn("k8s", updated.message);
    co_return false;
  }
  observed_ = next;
  observed_raw_ = spec_text(updated.object);
  observed_time_ = std::chrono::steady_clock::now();
  co_return true;
}

asio::awaitable<void> leader_elector::async_release() {
  auto got = co_await client_.async_get(leases_resource, config_.namespace_, config_.name);
  if (!got) co_return;
  lease_record current = parse_record(got.object);
  if (current.holder != config_.identity) co_return;
  current.holder.clear();
  current.lease_duration_seconds = 1;
  current.renew_time = micro_time_now();
  json::value lease = got.object;
  lease.as_object()["spec"] = to_spec(current);
  auto updated = co_await client_.async_update(leases_resource, config_.namespace_, config_.name,
                                               std::move(lease));
  if (!updated)
    log_.warn("k8s", updated.message);
  else
    log_.info("k8s", "released the lease " + config_.namespace_ + "/" + config_.name);
}

asio::awaitable<void> leader_elector::async_renew_until_lost() {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer pause(ex);
  auto last = std::chrono::steady_clock::now();
  for (;;) {
    pause.expires_after(config_.retry_period);
    co_await pause.async_wait(asio::deferred);
    const auto deadline = last + config_.renew_deadline;
    asio::steady_timer limit(ex);
    limit.expires_at(deadline);
    // An attempt may not outlast the renew deadline (a hung request must not keep us leading).
    auto r = co_await (async_try_acquire_or_renew() || wait_until(limit));
    if (r.index() == 0 && std::get<0>(r)) {
      last = std::chrono::steady_clock::now();
      continue;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      leader_ = false;
      log_.warn("k8s", config_.identity + " could not renew the lease " + config_.namespace_ + "/" +
                           config_.name + " within the renew deadline; no longer leading");
      co_return;
    }
  }
}

asio::awaitable<void> leader_elector::async_run(std::function<asio::awaitable<void>()> lead) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer pause(ex);
  std::mt19937_64 rng{std::random_device{}()};
  // Campaign: every retry period, jittered by up to 20 % as client-go does.
  while (!co_await async_try_acquire_or_renew()) {
    const auto jitter =
        std::uniform_int_distribution<long long>(0, config_.retry_period.count() / 5)(rng);
    pause.expires_after(config_.retry_period + std::chrono::milliseconds(jitter));
    co_await pause.async_wait(asio::deferred);
  }
  leader_ = true;
  log_.info("k8s",
            config_.identity + " acquired the lease " + config_.namespace_ + "/" + config_.name);
  std::exception_ptr error;
  bool cancelled = false;
  bool release = false;
  try {
    auto which = co_await (lead() || async_renew_until_lost());
    release = which.index() == 0;  // lead() finished while still leading
  } catch (const boost::system::system_error& e) {
    if (e.code() == asio::error::operation_aborted) {
      cancelled = true;
    } else {
      error = std::current_exception();
    }
  } catch (...) {
    error = std::current_exception();
  }
  const bool held = leader_;
  leader_ = false;
  if (held && (release || error || (cancelled && config_.release_on_cancel))) {
    co_await asio::this_coro::reset_cancellation_state();
    asio::steady_timer limit(ex);
    limit.expires_after(config_.renew_deadline);
    co_await (async_release() || wait_until(limit));
  }
  if (cancelled) throw boost::system::system_error(asio::error::operation_aborted);
  if (error) std::rethrow_exception(error);
}

}  // namespace kage::k8s
