// kage's Kubernetes client (k8s/client, reflector) against tests/fake_kube/fake_kube.py: requests
// and their errors, paged lists, the reflector through re-watches, 410s both ways, an API server
// restart, 500s and resets with backoff, token rotation, exec (exit codes, stdin, a 100 MB
// output with bounded memory, v4 fallback), and the ways to authenticate.
#include <kage/k8s/client.hpp>
#include <kage/k8s/reflector.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "fixture_kube.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>

namespace asio = boost::asio;
namespace json = boost::json;
namespace k8s = kage::k8s;
using namespace std::chrono_literals;
using kage::test::fake_kube;

namespace {

// Runs one coroutine on a fresh io_context; the test fails if it does not end by the deadline.
template <class F>
void run_coro(F body, std::chrono::seconds deadline = 60s) {
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

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

// Polls pred every 20 ms; false when the deadline passed first.
template <class Pred>
asio::awaitable<bool> eventually(Pred pred, std::chrono::milliseconds deadline = 20s) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) co_return false;
    co_await sleep_for(20ms);
  }
  co_return true;
}

k8s::rest_config config_for(const std::string& kubeconfig) {
  return k8s::select_context(k8s::load_kubeconfig_file(kubeconfig));
}

std::string add_pod(const fake_kube& fk, const std::string& name) {
  return fk.control("add_pod", R"({"name": ")" + name + R"(", "labels": {"app": "redis"}})");
}

std::string name_of(const json::value& o) {
  return std::string(o.at("metadata").at("name").as_string());
}

// Records the reflector's callbacks as "ADD x", "UPDATE x", "DELETE x".
struct recorder {
  std::vector<std::string> events;
  int synced = 0;
  k8s::reflector_handlers handlers() {
    return {[this](const json::value& o) { events.push_back("ADD " + name_of(o)); },
            [this](const json::value&, const json::value& o) {
              events.push_back("UPDATE " + name_of(o));
            },
            [this](const json::value& o) { events.push_back("DELETE " + name_of(o)); },
            [this] { ++synced; }};
  }
  bool saw(const std::string& e) const {
    return std::find(events.begin(), events.end(), e) != events.end();
  }
};

// Starts the reflector on its own coroutine; stop() cancels it and waits until it ended.
struct running_reflector {
  k8s::reflector r;
  asio::cancellation_signal signal;
  bool ended = false;
  std::exception_ptr error;
  running_reflector(k8s::client& c, k8s::reflector_options o, k8s::reflector_handlers h)
      : r(c, std::move(o), std::move(h)) {
    asio::co_spawn(c.get_executor(), r.async_run(),
                   asio::bind_cancellation_slot(signal.slot(), [this](std::exception_ptr e) {
                     ended = true;
                     error = e;
                   }));
  }
  asio::awaitable<void> stop() {
    signal.emit(asio::cancellation_type::terminal);
    BOOST_REQUIRE(co_await eventually([this] { return ended; }, 10s));
  }
};

k8s::reflector_options pod_reflector() {
  k8s::reflector_options o;
  o.namespace_ = "default";
  o.page_size = 7;
  o.backoff = {100ms, 1000ms};
  o.min_watch_timeout = 60s;
  return o;
}

std::size_t count_requests(const fake_kube& fk, const std::function<bool(const json::object&)>& f) {
  auto all = json::parse(fk.control("requests"));
  std::size_t n = 0;
  for (const auto& r : all.at("requests").as_array())
    if (f(r.as_object())) ++n;
  return n;
}

// Built outside coroutines: GCC 12 miscompiles aggregate initialisers with string literals in
// co_await expressions.
// The command is `sh -c script`.
k8s::exec_request exec_req(std::string pod, std::string script,
                           std::optional<std::string> stdin_data = {}) {
  k8s::exec_request r;
  r.namespace_ = "default";
  r.pod = std::move(pod);
  r.command = {"sh", "-c", std::move(script)};
  r.stdin_data = std::move(stdin_data);
  return r;
}

std::string field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return {};
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(k8s_client)

BOOST_AUTO_TEST_CASE(requests_paging_patch_events_and_errors) {
  fake_kube fk;
  for (int i = 0; i < 23; ++i) add_pod(fk, "p" + std::to_string(100 + i));
  const auto cfg = config_for(fk.write_kubeconfig("kc.json", R"("token": "test-token")"));
  run_coro([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    k8s::client c(ex, cfg);
    k8s::list_options lo;
    lo.label_selector = "app=redis";
    lo.limit = 10;
    auto l = co_await c.async_list(k8s::pods_resource, "default", lo);
    BOOST_REQUIRE_MESSAGE(l, l.message);
    BOOST_TEST(l.items.size() == 23u);
    BOOST_TEST(!l.resource_version.empty());
    // The fake logs a request just after answering it: wait for the last page to show.
    auto pages_seen = [&] {
      return count_requests(fk, [](const json::object& r) {
        const auto* q = r.at("query").if_object();
        return field(r, "path") == "/api/v1/namespaces/default/pods" && q &&
               field(*q, "limit") == "10";
      });
    };
    BOOST_TEST(co_await eventually([&] { return pages_seen() == 3u; }, 5s));

    auto got = co_await c.async_get(k8s::pods_resource, "", "p100");
    BOOST_REQUIRE_MESSAGE(got, got.message);
    BOOST_TEST(name_of(got.object) == "p100");

    auto missing = co_await c.async_get(k8s::pods_resource, "default", "nope");
    BOOST_TEST((missing.ec == k8s::api_errc::not_found), missing.message);
    BOOST_TEST(missing.http_status == 404);
    BOOST_TEST(missing.message.find(R"(get pods "nope" in namespace "default")") !=
               std::string::npos);
    BOOST_TEST(missing.message.find("not found") != std::string::npos, missing.message);

    auto patched =
        co_await c.async_merge_patch(k8s::pods_resource, "default", "p101",
                                     json::parse(R"({"metadata":{"labels":{"role":"master"}}})"));
    BOOST_REQUIRE_MESSAGE(patched, patched.message);
    BOOST_TEST(patched.object.at("metadata").at("labels").at("role").as_string() == "master");
    auto status =
        co_await c.async_merge_patch(k8s::pods_resource, "default", "p101",
                                     json::parse(R"({"status":{"phase":"Failed"}})"), "status");
    BOOST_REQUIRE_MESSAGE(status, status.message);
    BOOST_TEST(status.object.at("status").at("phase").as_string() == "Failed");

    // A stale resourceVersion on update is a 409 Conflict with the server's words.
    json::value stale = patched.object;
    stale.at("metadata").as_object()["resourceVersion"] = "1";
    stale.at("metadata").as_object()["labels"].as_object()["x"] = "y";
    auto conflict = co_await c.async_update(k8s::pods_resource, "default", "p101", stale);
    BOOST_TEST((conflict.ec == k8s::api_errc::conflict), conflict.message);
    BOOST_TEST(conflict.http_status == 409);

    k8s::event_info ev;
    ev.involved.namespace_ = "default";
    ev.involved.name = "p100";
    ev.reason = "Tested";
    ev.message = "kage's client test";
    auto created = co_await c.async_create_event(ev);
    BOOST_REQUIRE_MESSAGE(created, created.message);
    auto events = co_await c.async_list(k8s::events_resource, "default");
    BOOST_REQUIRE(events);
    BOOST_TEST(events.items.size() == 1u);
    BOOST_TEST(events.items[0].at("reason").as_string() == "Tested");

    // RBAC refusal: the message names verb, resource, namespace and the rule that would allow it.
    fk.control("configure",
               R"({"rbac": [{"verbs": ["get", "list", "watch"], "resources": ["pods"]}]})");
    auto refused = co_await c.async_merge_patch(
        k8s::pods_resource, "default", "p100", json::parse(R"({"metadata":{"labels":{"a":"b"}}})"));
    BOOST_TEST((refused.ec == k8s::api_errc::forbidden), refused.message);
    BOOST_TEST(refused.message.find("403") != std::string::npos, refused.message);
    BOOST_TEST(
        refused.message.find(R"(resources: ["pods"], verbs: ["patch"])") != std::string::npos,
        refused.message);
    auto exec_refused = co_await c.async_exec(exec_req("p100", "true"));
    BOOST_TEST((exec_refused.ec == k8s::api_errc::forbidden), exec_refused.message);
    BOOST_TEST(exec_refused.message.find("pods/exec") != std::string::npos, exec_refused.message);
    fk.control("configure", R"({"rbac": [{"verbs": ["*"]}]})");

    // Wrong credentials: 401 says so.
    auto bad_cfg = cfg;
    bad_cfg.token = "wrong";
    k8s::client bad(ex, bad_cfg);
    auto denied = co_await bad.async_get(k8s::pods_resource, "default", "p100");
    BOOST_TEST((denied.ec == k8s::api_errc::unauthorized), denied.message);
    BOOST_TEST(denied.message.find("401 Unauthorized") != std::string::npos, denied.message);
    BOOST_CHECK_THROW(denied.check(), kage::failure);
  });
}

BOOST_AUTO_TEST_CASE(reflector_rewatch_410_both_ways_and_restart) {
  fake_kube fk;
  fk.control("configure", R"({"bookmark_interval": 1})");
  add_pod(fk, "a");
  add_pod(fk, "b");
  const auto cfg = config_for(fk.write_kubeconfig("kc.json", R"("token": "test-token")"));
  run_coro(
      [&](asio::any_io_executor ex) -> asio::awaitable<void> {
        k8s::client c(ex, cfg);
        recorder rec;
        running_reflector rr(c, pod_reflector(), rec.handlers());
        const auto& st = rr.r.stats();
        BOOST_REQUIRE(co_await eventually([&] { return rr.r.synced(); }));
        BOOST_TEST(rr.r.cache().size() == 2u);
        BOOST_TEST(rec.saw("ADD a"));
        BOOST_TEST(rec.saw("ADD b"));

        add_pod(fk, "c");
        BOOST_REQUIRE(co_await eventually([&] { return rec.saw("ADD c"); }));
        fk.control("update_pod", R"({"name": "c", "labels": {"role": "replica"}})");
        BOOST_REQUIRE(co_await eventually([&] { return rec.saw("UPDATE c"); }));

        // A clean end of the watch: watch again from the last resourceVersion, no list.
        const auto watches = st.watches;
        fk.control("close_watches");
        BOOST_REQUIRE(co_await eventually([&] { return st.watches > watches; }));
        add_pod(fk, "d");
        BOOST_REQUIRE(co_await eventually([&] { return rec.saw("ADD d"); }));
        BOOST_TEST(st.lists == 1u);

        // In-stream ERROR 410 (history compacted under an open watch): list again.
        fk.control("compact", R"({"expire_watches": true})");
        BOOST_REQUIRE(co_await eventually([&] { return st.lists == 2u; }));
        BOOST_TEST(st.expired >= 1u);
        fk.control("delete", R"({"resource": "pods", "name": "a"})");
        BOOST_REQUIRE(co_await eventually([&] { return rec.saw("DELETE a"); }));

        // The API server restarts (state kept, watch history lost) while objects change: the
        // watch from the old resourceVersion gets HTTP 410, the re-list is diffed against the
        // cache, so the delete made while kage was not watching still reaches the handler.
        fk.control("configure", R"({"too_old_watch": "status"})");
        const auto expired = st.expired;
        fk.control("stop_api");
        fk.control("delete", R"({"resource": "pods", "name": "b"})");
        add_pod(fk, "e");
        fk.control("compact", R"({"expire_watches": false})");
        co_await sleep_for(300ms);
        fk.control("start_api");
        BOOST_REQUIRE(co_await eventually([&] { return rec.saw("DELETE b") && rec.saw("ADD e"); }));
        BOOST_TEST(st.expired > expired);
        BOOST_TEST(st.lists == 3u);
        const auto http_410 = count_requests(fk, [](const json::object& r) {
          return field(r, "code") == "410" && field(r, "watch") == "true";
        });
        BOOST_TEST(http_410 >= 1u);

        // The same with the 410 as an in-stream ERROR event on a new watch.
        fk.control("configure", R"({"too_old_watch": "event"})");
        fk.control("stop_api");
        fk.control("delete", R"({"resource": "pods", "name": "c"})");
        fk.control("compact", R"({"expire_watches": false})");
        fk.control("start_api");
        BOOST_REQUIRE(co_await eventually([&] { return rec.saw("DELETE c"); }));
        BOOST_TEST(st.lists == 4u);

        // A real restart (every connection dropped, down for a second, history gone).
        fk.control("restart", R"({"down_seconds": 1})");
        add_pod(fk, "f");
        BOOST_REQUIRE(co_await eventually([&] { return rec.saw("ADD f"); }, 30s));

        // The cache is exactly the server's objects.
        std::string cached;
        for (const auto& [key, o] : rr.r.cache()) cached += key + " ";
        BOOST_TEST(cached == "default/d default/e default/f ");
        // Every event reached the handlers once.
        BOOST_TEST(std::count(rec.events.begin(), rec.events.end(), "ADD d") == 1);
        BOOST_TEST(std::count(rec.events.begin(), rec.events.end(), "DELETE b") == 1);
        co_await rr.stop();
      },
      120s);
}

BOOST_AUTO_TEST_CASE(reflector_backs_off_on_500s_resets_and_cut_streams) {
  fake_kube fk;
  add_pod(fk, "a");
  const auto cfg = config_for(fk.write_kubeconfig("kc.json", R"("token": "test-token")"));
  fk.control("inject", R"({"path_prefix": "/api/v1/namespaces/default/pods", "watch": false,
                           "count": 3, "code": 500})");
  fk.control("inject", R"({"path_prefix": "/api/v1/namespaces/default/pods", "watch": false,
                           "count": 2, "action": "reset"})");
  run_coro(
      [&](asio::any_io_executor ex) -> asio::awaitable<void> {
        k8s::client c(ex, cfg);
        recorder rec;
        running_reflector rr(c, pod_reflector(), rec.handlers());
        const auto& st = rr.r.stats();
        BOOST_REQUIRE(co_await eventually([&] { return rr.r.synced(); }));
        // 3 answers of 500 and 2 resets; a reset of a kept-alive connection is retried at once by
        // the HTTP client, so 3 to 5 of them reach the reflector.
        BOOST_TEST(st.failures >= 3u);
        BOOST_TEST(st.failures <= 5u);
        BOOST_TEST(json::parse(fk.control("injections")).at("injections").at(1).at("remaining") ==
                   0);
        BOOST_TEST(st.lists == 1u);

        // A watch cut mid-stream: watch again.
        fk.control("inject", R"({"path_prefix": "/api/v1/namespaces/default/pods",
                                 "watch": true, "action": "cut", "bytes": 40})");
        fk.control("close_watches");
        add_pod(fk, "b");
        BOOST_REQUIRE(co_await eventually([&] { return rec.saw("ADD b"); }));

        // Every watch fails for 4 s: the retries are spaced (jittered exponential backoff,
        // capped at 1 s here), not a busy loop.
        fk.control("inject", R"({"path_prefix": "/api/v1/namespaces/default/pods",
                                 "watch": true, "count": 100000, "code": 500})");
        fk.control("close_watches");
        co_await sleep_for(200ms);
        const auto before = st.watches;
        co_await sleep_for(4000ms);
        const auto tries = st.watches - before;
        BOOST_TEST_MESSAGE("watches tried in 4 s of 500s: " << tries);
        BOOST_TEST(tries >= 2u);
        BOOST_TEST(tries <= 25u);
        fk.control("clear_injections");
        add_pod(fk, "c");
        BOOST_REQUIRE(co_await eventually([&] { return rec.saw("ADD c"); }, 10s));
        co_await rr.stop();
      },
      90s);
}

BOOST_AUTO_TEST_CASE(token_file_rotation_mid_watch) {
  fake_kube fk(true, {"tok-A"});
  const std::string token_file = fk.dir() + "/token";
  kage::test::write_file(token_file, "tok-A\n");
  add_pod(fk, "a");
  const auto cfg =
      config_for(fk.write_kubeconfig("kc.json", R"("tokenFile": ")" + token_file + "\""));
  run_coro([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    k8s::client c(ex, cfg);
    recorder rec;
    running_reflector rr(c, pod_reflector(), rec.handlers());
    const auto& st = rr.r.stats();
    BOOST_REQUIRE(co_await eventually([&] { return rr.r.synced(); }));
    // The token rotates: the file changes and the server stops accepting the old one; the open
    // watch goes on.
    kage::test::write_file(token_file, "tok-B\n");
    fk.control("set_tokens", R"({"tokens": ["tok-B"]})");
    add_pod(fk, "b");
    BOOST_REQUIRE(co_await eventually([&] { return rec.saw("ADD b"); }));
    // The next watch is refused with the old token (read less than a minute ago); the client
    // reads the file again and retries at once.
    fk.control("close_watches");
    add_pod(fk, "c");
    BOOST_REQUIRE(co_await eventually([&] { return rec.saw("ADD c"); }));
    BOOST_TEST(st.failures == 0u);
    const auto refused =
        count_requests(fk, [](const json::object& r) { return field(r, "code") == "401"; });
    BOOST_TEST(refused >= 1u);
    co_await rr.stop();
  });
}

BOOST_AUTO_TEST_CASE(exec_exit_codes_stdin_capture_cap_and_v4) {
  fake_kube fk;
  fk.control("add_pod", R"({"name": "redis-0"})");
  const auto cfg = config_for(fk.write_kubeconfig("kc.json", R"("token": "test-token")"));
  run_coro([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    k8s::client c(ex, cfg);
    auto r = co_await c.async_exec(exec_req("redis-0", "echo hello; echo oops >&2; pwd; exit 3"));
    BOOST_REQUIRE_MESSAGE(!r.ec, r.message);
    BOOST_TEST((r.protocol == k8s::channel_protocol::v5));
    BOOST_TEST(r.out.substr(0, 6) == "hello\n");
    BOOST_TEST(r.out.find("/default/redis-0") != std::string::npos, r.out);
    BOOST_TEST(r.err == "oops\n");
    BOOST_TEST((r.result.how == k8s::exec_result::outcome::exit_code));
    BOOST_TEST(r.result.exit_code == 3);
    BOOST_TEST(!r.succeeded());

    auto ok = co_await c.async_exec(exec_req("redis-0", "true"));
    BOOST_TEST(ok.succeeded(), ok.message);

    auto echoed = co_await c.async_exec(exec_req("redis-0", "cat", std::string("abc\n")));
    BOOST_TEST(echoed.succeeded(), echoed.message);
    BOOST_TEST(echoed.out == "abc\n");

    k8s::exec_options small;
    small.capture_limit = 1000;
    auto big = co_await c.async_exec(exec_req("redis-0", "head -c 5000 /dev/zero"), small);
    BOOST_TEST((big.ec == k8s::errc::too_large), big.message);
    BOOST_TEST(big.message.find("stdout is over 1000 bytes") != std::string::npos, big.message);

    auto missing = co_await c.async_exec(exec_req("nope", "true"));
    BOOST_TEST((missing.ec == k8s::api_errc::not_found), missing.message);
    BOOST_TEST(missing.message.find(R"(create pods/exec "nope")") != std::string::npos,
               missing.message);

    fk.control("configure", R"({"exec_protocols": ["v4.channel.k8s.io"]})");
    auto v4 = co_await c.async_exec(exec_req("redis-0", "echo four; exit 2"));
    BOOST_REQUIRE_MESSAGE(!v4.ec, v4.message);
    BOOST_TEST((v4.protocol == k8s::channel_protocol::v4));
    BOOST_TEST(v4.out == "four\n");
    BOOST_TEST(v4.result.exit_code == 2);
  });
}

namespace {

long vm_hwm_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace

BOOST_AUTO_TEST_CASE(exec_100_mb_streamed_with_bounded_memory) {
  fake_kube fk;
  fk.control("add_pod", R"({"name": "redis-0"})");
  const auto cfg = config_for(fk.write_kubeconfig("kc.json", R"("token": "test-token")"));
  run_coro(
      [&](asio::any_io_executor ex) -> asio::awaitable<void> {
        k8s::client c(ex, cfg);
        std::uint64_t seen = 0;
        std::uint64_t nonzero = 0;
        k8s::exec_options o;
        o.sink = [&](k8s::exec_stream s, std::string_view data) -> asio::awaitable<void> {
          if (s == k8s::exec_stream::stdout_stream) {
            seen += data.size();
            nonzero += static_cast<std::uint64_t>(
                std::count_if(data.begin(), data.end(), [](char ch) { return ch != 'x'; }));
          }
          co_return;
        };
        {
          std::ofstream reset("/proc/self/clear_refs");
          reset << "5";  // VmHWM starts again from the current RSS
        }
        const long before = vm_hwm_kib();
        const auto start = std::chrono::steady_clock::now();
        auto r = co_await c.async_exec(
            exec_req("redis-0", "head -c 100000000 /dev/zero | tr '\\0' x; exit 7"), o);
        const auto secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const long after = vm_hwm_kib();
        BOOST_REQUIRE_MESSAGE(!r.ec, r.message);
        BOOST_TEST(seen == 100000000u);
        BOOST_TEST(r.out_bytes == 100000000u);
        BOOST_TEST(nonzero == 0u);
        BOOST_TEST(r.result.exit_code == 7);
        BOOST_TEST_MESSAGE("100 MB exec: " << secs << " s, peak RSS " << before / 1024 << " -> "
                                           << after / 1024 << " MiB");
        BOOST_TEST(before > 0);
        BOOST_TEST(after - before < 16 * 1024, "peak RSS grew by " << (after - before) << " KiB");
      },
      300s);
}

BOOST_AUTO_TEST_CASE(authentication_and_tls_settings) {
  fake_kube fk;
  fk.control("add_pod", R"({"name": "redis-0"})");
  auto get_ok = [&](k8s::rest_config cfg) {
    bool ok = false;
    std::string message;
    run_coro([&](asio::any_io_executor ex) -> asio::awaitable<void> {
      k8s::client c(ex, cfg);
      auto r = co_await c.async_get(k8s::pods_resource, "default", "redis-0");
      ok = static_cast<bool>(r);
      message = r.message;
      co_return;
    });
    BOOST_TEST_MESSAGE("get: " << (ok ? "ok" : message));
    return std::make_pair(ok, message);
  };
  // A client certificate instead of a token.
  BOOST_TEST(get_ok(config_for(fk.write_kubeconfig(
                        "cert.json", R"("client-certificate": ")" + fk.client_cert() +
                                         R"(", "client-key": ")" + fk.client_key() + "\"")))
                 .first);
  // No CA but insecure-skip-tls-verify; and without either, the handshake fails.
  BOOST_TEST(get_ok(config_for(fk.write_kubeconfig("insecure.json", R"("token": "test-token")",
                                                   R"("insecure-skip-tls-verify": true)")))
                 .first);
  auto untrusted = get_ok(config_for(
      fk.write_kubeconfig("untrusted.json", R"("token": "test-token")",
                          R"("certificate-authority": "/etc/ssl/certs/ca-certificates.crt")")));
  BOOST_TEST(!untrusted.first);
  BOOST_TEST(untrusted.second.find("cannot reach the Kubernetes API server") != std::string::npos,
             untrusted.second);
  // tls-server-name: the certificate is for localhost and 127.0.0.1, not other.example.
  BOOST_TEST(get_ok(config_for(fk.write_kubeconfig("sni.json", R"("token": "test-token")",
                                                   R"("certificate-authority": ")" + fk.ca_file() +
                                                       R"(", "tls-server-name": "localhost")")))
                 .first);
  BOOST_TEST(
      !get_ok(config_for(fk.write_kubeconfig("sni-bad.json", R"("token": "test-token")",
                                             R"("certificate-authority": ")" + fk.ca_file() +
                                                 R"(", "tls-server-name": "other.example")")))
           .first);

  // An exec credential plugin: run once while its token is valid, again once it expired.
  const std::string plugin = fk.dir() + "/plugin.sh";
  const std::string count = fk.dir() + "/plugin.count";
  kage::test::write_file(
      plugin,
      "#!/bin/sh\necho run >> " + count +
          "\ncase \"$KUBERNETES_EXEC_INFO\" in *ExecCredential*) ;; *) exit 9;; esac\n"
          "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
          "\"status\":{\"token\":\"test-token\",\"expirationTimestamp\":\"'\"$EXPIRES\"'\"}}'\n");
  std::filesystem::permissions(plugin, std::filesystem::perms::owner_all);
  auto plugin_cfg = [&](const std::string& expires) {
    return config_for(fk.write_kubeconfig(
        "plugin-" + expires.substr(0, 4) + ".json",
        R"("exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": ")" + plugin +
            R"(", "env": [{"name": "EXPIRES", "value": ")" + expires +
            R"("}], "interactiveMode": "Never"})"));
  };
  auto runs = [&] {
    std::ifstream in(count);
    return static_cast<int>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
  };
  auto three_gets = [&](k8s::rest_config cfg) {
    run_coro([&](asio::any_io_executor ex) -> asio::awaitable<void> {
      k8s::client c(ex, cfg);
      for (int i = 0; i < 3; ++i) {
        auto r = co_await c.async_get(k8s::pods_resource, "default", "redis-0");
        BOOST_TEST(static_cast<bool>(r), r.message);
      }
    });
  };
  three_gets(plugin_cfg("2200-01-01T00:00:00Z"));
  BOOST_TEST(runs() == 1);
  three_gets(plugin_cfg("2000-01-01T00:00:00Z"));
  BOOST_TEST(runs() == 4);

  // In-cluster: KUBERNETES_SERVICE_HOST/PORT and the service account directory.
  const std::string sa = fk.dir() + "/sa";
  std::filesystem::create_directories(sa);
  kage::test::write_file(sa + "/token", "test-token\n");
  kage::test::write_file(sa + "/namespace", "default\n");
  std::filesystem::copy_file(fk.ca_file(), sa + "/ca.crt");
  ::setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", std::to_string(fk.port()).c_str(), 1);
  ::setenv("HOME", fk.dir().c_str(), 1);
  ::unsetenv("KUBECONFIG");
  k8s::connection_settings in_cluster;
  in_cluster.service_account_dir = sa;
  auto ic = k8s::load_rest_config(in_cluster);
  BOOST_TEST(ic.source.find("in-cluster") != std::string::npos);
  BOOST_TEST(get_ok(ic).first);
  // --kubeconfig wins over in-cluster.
  k8s::connection_settings explicit_file = in_cluster;
  explicit_file.kubeconfig = fk.write_kubeconfig("flag.json", R"("token": "test-token")");
  BOOST_TEST(k8s::load_rest_config(explicit_file).source.find("flag.json") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
