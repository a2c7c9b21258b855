// Two candidates contending for one Lease on fake_kube: one leads at a time; a cancelled leader
// releases and the other takes over at once; a leader that cannot renew stops acting before the
// other can take the lease.
#include <kage/k8s/client.hpp>
#include <kage/k8s/leader_election.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <map>

#include "fixture_kube.hpp"

namespace asio = boost::asio;
namespace json = boost::json;
namespace k8s = kage::k8s;
using namespace std::chrono_literals;
using kage::test::fake_kube;
using steady = std::chrono::steady_clock;

namespace {

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

template <class Pred>
asio::awaitable<bool> eventually(Pred pred, std::chrono::milliseconds deadline) {
  const auto end = steady::now() + deadline;
  while (!pred()) {
    if (steady::now() > end) co_return false;
    co_await sleep_for(10ms);
  }
  co_return true;
}

k8s::leader_election_config election(const std::string& identity) {
  k8s::leader_election_config c;
  c.namespace_ = "default";
  c.name = "kage-leader";
  c.identity = identity;
  c.lease_duration = 2000ms;
  c.renew_deadline = 1500ms;
  c.retry_period = 250ms;
  return c;
}

// What each candidate did, on the one io thread.
struct board {
  int active = 0;
  int max_active = 0;
  std::map<std::string, steady::time_point> started, stopped;
  std::map<std::string, bool> ended;

  std::function<asio::awaitable<void>()> lead(const std::string& who) {
    return [this, who]() -> asio::awaitable<void> {
      ++active;
      max_active = std::max(max_active, active);
      started[who] = steady::now();
      try {
        co_await sleep_for(3600s);
      } catch (...) {
        --active;
        stopped[who] = steady::now();
        throw;
      }
    };
  }
};

struct candidate {
  k8s::client c;
  k8s::leader_elector e;
  asio::cancellation_signal signal;
  candidate(asio::any_io_executor ex, const k8s::rest_config& cfg, const std::string& id)
      : c(ex, cfg), e(c, election(id)) {}
  void run(board& b, const std::string& id) {
    asio::co_spawn(c.get_executor(), e.async_run(b.lead(id)),
                   asio::bind_cancellation_slot(
                       signal.slot(), [&b, id](std::exception_ptr) { b.ended[id] = true; }));
  }
};

template <class F>
void run_coro(F body, std::chrono::seconds deadline) {
  asio::io_context io;
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(io, body(io.get_executor()), [&](std::exception_ptr e) {
    done = true;
    error = e;
  });
  io.run_for(deadline);
  BOOST_REQUIRE_MESSAGE(done, "the test coroutine did not finish within its deadline");
  if (error) std::rethrow_exception(error);
}

k8s::rest_config config_for(const fake_kube& fk, const std::string& token) {
  return k8s::select_context(k8s::load_kubeconfig_file(
      fk.write_kubeconfig("kc-" + token + ".json", R"("token": ")" + token + "\"")));
}

std::string holder(const fake_kube& fk) {
  auto lease = json::parse(fk.control(
      "get", R"({"resource": "leases", "namespace": "default", "name": "kage-leader"})"));
  return std::string(lease.at("spec").at("holderIdentity").as_string());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(k8s_leader_election)

BOOST_AUTO_TEST_CASE(one_leader_then_release_on_cancel) {
  fake_kube fk(true, {"test-token"});
  const auto cfg = config_for(fk, "test-token");
  run_coro(
      [&](asio::any_io_executor ex) -> asio::awaitable<void> {
        board b;
        candidate a(ex, cfg, "a"), c(ex, cfg, "b");
        a.run(b, "a");
        c.run(b, "b");
        BOOST_REQUIRE(co_await eventually([&] { return b.active == 1; }, 5s));
        co_await sleep_for(2500ms);  // longer than the lease: renewals keep it
        BOOST_TEST(b.max_active == 1);
        BOOST_TEST(b.started.size() == 1u);
        const std::string first = b.started.begin()->first;
        const std::string second = first == "a" ? "b" : "a";
        BOOST_TEST(holder(fk) == first);
        candidate& leader = first == "a" ? a : c;
        candidate& other = first == "a" ? c : a;
        BOOST_TEST(leader.e.is_leader());
        BOOST_TEST(!other.e.is_leader());
        BOOST_TEST(other.e.observed_holder() == first);

        // The leader is cancelled: it releases the lease, the other takes it within a retry or
        // two, not a whole lease duration.
        const auto cancelled_at = steady::now();
        leader.signal.emit(asio::cancellation_type::terminal);
        BOOST_REQUIRE(co_await eventually([&] { return b.started.count(second) == 1; }, 5s));
        const auto took = b.started[second] - cancelled_at;
        BOOST_TEST_MESSAGE("takeover after release: "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                           << " ms");
        BOOST_TEST((took < 1500ms));
        BOOST_TEST(b.ended[first]);
        BOOST_TEST(b.max_active == 1);
        BOOST_TEST(holder(fk) == second);
        other.signal.emit(asio::cancellation_type::terminal);
        BOOST_REQUIRE(co_await eventually([&] { return b.ended[second]; }, 5s));
      },
      60s);
}

BOOST_AUTO_TEST_CASE(a_leader_that_cannot_renew_stops_before_the_lease_can_be_taken) {
  fake_kube fk(true, {"tok-a", "tok-b"});
  const auto cfg_a = config_for(fk, "tok-a");
  const auto cfg_b = config_for(fk, "tok-b");
  run_coro(
      [&](asio::any_io_executor ex) -> asio::awaitable<void> {
        board b;
        candidate a(ex, cfg_a, "a");
        a.run(b, "a");
        BOOST_REQUIRE(co_await eventually([&] { return b.active == 1; }, 5s));
        candidate c(ex, cfg_b, "b");
        c.run(b, "b");
        co_await sleep_for(1000ms);
        BOOST_TEST(b.started.count("b") == 0u);
        // a's credentials stop working: its renewals fail (401) from now on.
        const auto revoked = steady::now();
        fk.control("set_tokens", R"({"tokens": ["tok-b"]})");
        BOOST_REQUIRE(co_await eventually([&] { return b.started.count("b") == 1; }, 10s));
        BOOST_REQUIRE(b.stopped.count("a") == 1);
        BOOST_TEST(b.ended["a"]);  // async_run returned: leadership lost
        BOOST_TEST(!a.e.is_leader());
        const auto ms = [](auto d) {
          return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
        };
        BOOST_TEST_MESSAGE("a stopped "
                           << ms(b.stopped["a"] - revoked) << " ms after revocation, b "
                           << "started " << ms(b.started["b"] - revoked) << " ms after");
        BOOST_TEST((b.stopped["a"] < b.started["b"]));
        BOOST_TEST((b.stopped["a"] - revoked <= 1500ms + 300ms));  // within the renew deadline
        BOOST_TEST(b.max_active == 1);
        BOOST_TEST(holder(fk) == "b");
        c.signal.emit(asio::cancellation_type::terminal);
        BOOST_REQUIRE(co_await eventually([&] { return b.ended["b"]; }, 5s));
      },
      60s);
}

BOOST_AUTO_TEST_SUITE_END()
