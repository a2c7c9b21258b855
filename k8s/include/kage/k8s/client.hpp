#pragma once
// The Kubernetes REST client: one API server, its credentials (token, rotating token file, client
// certificate, exec credential plugin), and the requests kage makes: get, paged list, create,
// update, JSON merge patch (objects and /status), delete, watch (a stream of events), and exec
// over WebSocket. Coroutines on the caller's io_context; expected failures are values (an
// api_error with the API server's own words), never exceptions.
#include <kage/base/log.hpp>
#include <kage/k8s/exec_channel.hpp>
#include <kage/k8s/kubeconfig.hpp>
#include <kage/k8s/status.hpp>
#include <kage/k8s/watch.hpp>
#include <kage/k8s/websocket.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kage::k8s {

// ---- Where the API server is -----------------------------------------------------------------

struct connection_settings {
  std::string kubeconfig;  // --kubeconfig (a ':' list); empty: $KUBECONFIG, else ~/.kube/config
  std::string context;     // --context; empty: the kubeconfig's current-context
  // In-cluster files (token, ca.crt, namespace); tests point it elsewhere.
  std::filesystem::path service_account_dir{std::string(k8s::service_account_dir)};
};

// In order: --kubeconfig, $KUBECONFIG, ~/.kube/config when it exists, else in-cluster
// (KUBERNETES_SERVICE_HOST/PORT). Throws kage::failure (exit_code::usage) saying what is wrong.
rest_config load_rest_config(const connection_settings& settings);

// ---- Resources and results -------------------------------------------------------------------

// A kind of object as the REST paths name it.
struct resource {
  std::string_view group;  // "" for the core group
  std::string_view version;
  std::string_view plural;
  bool namespaced = true;
};
inline constexpr resource pods_resource{"", "v1", "pods"};
inline constexpr resource events_resource{"", "v1", "events"};
inline constexpr resource leases_resource{"coordination.k8s.io", "v1", "leases"};
inline constexpr resource self_subject_access_reviews_resource{"authorization.k8s.io", "v1",
                                                               "selfsubjectaccessreviews", false};

// "/api/v1/namespaces/ns/pods/name/status", "/apis/coordination.k8s.io/v1/namespaces/ns/leases".
// An empty namespace on a namespaced resource means all namespaces; an empty name, the
// collection.
std::string resource_path(const resource& r, std::string_view ns, std::string_view name = {},
                          std::string_view subresource = {});

// A failed request: ec is an api_errc when the server answered (its Status reason, or the HTTP
// code), else a transport error or an errc. message is whole and readable: what was asked
// ("patch pods \"redis-0\" in namespace \"prod\""), then the server's words, and for 401/403 which
// credentials or which Role rule.
struct api_error {
  boost::system::error_code ec;
  int http_status = 0;       // 0 when the server did not answer
  std::optional<status> st;  // the Status the server sent, when it sent one
  std::string message;       // empty on success
  explicit operator bool() const noexcept { return !ec; }
  // Throws kage::failure(exit_code::failure, ec, message) when failed.
  void check() const;
};

struct api_result : api_error {
  boost::json::value object;  // on success: the object the server returned
};

struct list_options {
  std::string label_selector;
  std::string field_selector;
  std::size_t limit = 500;  // per page; 0: one unpaged list
  // Applied to each item as its page arrives, before the next page is asked for: a list of
  // thousands of large objects then never holds more than one page of them whole.
  std::function<void(boost::json::value&)> transform;
};

struct list_result : api_error {
  std::vector<boost::json::value> items;
  std::string resource_version;  // the list's: watch from here
};

// ---- Watch -----------------------------------------------------------------------------------

struct watch_options {
  std::string resource_version;  // empty: the server's current state first, as ADDED events
  std::string label_selector;
  std::string field_selector;
  std::chrono::seconds timeout{300};  // timeoutSeconds: the server ends the watch after it
  bool bookmarks = true;              // allowWatchBookmarks
};

// One watch: the next event, or (no error, no event) when the server ended it cleanly. An error
// is final (transport, a truncated or malformed stream). ERROR events are events: look at
// watch_event::expired().
struct watch_next {
  boost::system::error_code ec;
  std::optional<watch_event> event;
};

class watch_stream {
 public:
  struct impl;
  explicit watch_stream(std::unique_ptr<impl> i);
  ~watch_stream();
  watch_stream(const watch_stream&) = delete;
  watch_stream& operator=(const watch_stream&) = delete;
  boost::asio::awaitable<watch_next> async_next();
  void close() noexcept;  // wakes a pending async_next with an error

 private:
  std::unique_ptr<impl> impl_;
};

struct watch_result : api_error {
  std::unique_ptr<watch_stream> stream;  // set on success
};

// ---- Exec ------------------------------------------------------------------------------------

struct exec_request {
  std::string namespace_;  // empty: the client's namespace
  std::string pod;
  std::string container;  // empty: the pod's first (default) container
  std::vector<std::string> command;
  std::optional<std::string> stdin_data;  // sent, then stdin closed (v5 only can close it)
};

// Receives stdout/stderr bytes as they arrive; the next frame is read only once it returns, so
// a slow sink slows the command down (TCP flow control) instead of growing memory.
using exec_sink = std::function<boost::asio::awaitable<void>(exec_stream, std::string_view)>;

struct exec_options {
  exec_sink sink;  // empty: capture stdout and stderr into exec_outcome::out/err
  std::size_t capture_limit = std::size_t{1} << 20;  // per stream; more is errc::too_large
  std::chrono::milliseconds idle_timeout{120000};    // no frame for this long: timed out
};

// ec empty: the command ran and result says how it ended (success, exit code, failure).
struct exec_outcome : api_error {
  exec_result result;
  channel_protocol protocol = channel_protocol::v5;
  std::string out;  // captured (no sink)
  std::string err;
  std::uint64_t out_bytes = 0;  // bytes seen on each stream, captured or streamed
  std::uint64_t err_bytes = 0;
  // The command ran and exited 0.
  bool succeeded() const noexcept { return !ec && result.how == exec_result::outcome::success; }
};

// ---- Events ----------------------------------------------------------------------------------

struct object_reference {
  std::string api_version = "v1";
  std::string kind = "Pod";
  std::string namespace_;
  std::string name;
  std::string uid;
};

struct event_info {
  object_reference involved;
  std::string type = "Normal";  // or "Warning"
  std::string reason;           // CamelCase: "FailoverStarted"
  std::string message;
  std::string component = "kage";
  std::string host;  // source.host; may be empty
};

// A core/v1 Event (generateName "<name>.") with first/last timestamps set to now.
boost::json::value make_event(const event_info& e);

// ---- The client ------------------------------------------------------------------------------

struct client_options {
  kage::logger log;
  std::chrono::milliseconds timeout{30000};        // connect, write, read of one request
  std::size_t body_limit = std::size_t{64} << 20;  // one response (a list page)
  std::chrono::seconds token_file_refresh{60};     // re-read a token file at least this often
  std::chrono::seconds exec_plugin_timeout{60};    // a credential plugin must answer within
  std::string user_agent = "kage";
};

class client {
 public:
  client(boost::asio::any_io_executor ex, rest_config config, client_options options = {});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  const rest_config& config() const noexcept;
  const std::string& namespace_() const noexcept;  // the configured default namespace
  boost::asio::any_io_executor get_executor() const noexcept;

  boost::asio::awaitable<api_result> async_get(resource r, std::string ns, std::string name);
  // Every page (limit/continue), one consistent snapshot; a continue token that expired (410)
  // falls back to one unpaged list, as client-go's pager does.
  boost::asio::awaitable<list_result> async_list(resource r, std::string ns, list_options o);
  // (No default arguments on coroutines: GCC 12 destroys them twice.)
  boost::asio::awaitable<list_result> async_list(resource r, std::string ns) {
    return async_list(r, std::move(ns), list_options{});
  }
  boost::asio::awaitable<api_result> async_create(resource r, std::string ns,
                                                  boost::json::value object);
  // PUT: with metadata.resourceVersion set, a stale object is a 409 Conflict (api_errc::conflict).
  boost::asio::awaitable<api_result> async_update(resource r, std::string ns, std::string name,
                                                  boost::json::value object);
  // application/merge-patch+json (RFC 7386) on the object or on a subresource ("status").
  boost::asio::awaitable<api_result> async_merge_patch(resource r, std::string ns, std::string name,
                                                       boost::json::value patch,
                                                       std::string subresource);
  boost::asio::awaitable<api_result> async_merge_patch(resource r, std::string ns, std::string name,
                                                       boost::json::value patch) {
    return async_merge_patch(r, std::move(ns), std::move(name), std::move(patch), std::string());
  }
  boost::asio::awaitable<api_result> async_delete(resource r, std::string ns, std::string name);
  boost::asio::awaitable<watch_result> async_watch(resource r, std::string ns, watch_options o);
  boost::asio::awaitable<exec_outcome> async_exec(exec_request request, exec_options options);
  boost::asio::awaitable<exec_outcome> async_exec(exec_request request) {
    return async_exec(std::move(request), exec_options{});
  }
  boost::asio::awaitable<api_result> async_create_event(event_info e);

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace kage::k8s
