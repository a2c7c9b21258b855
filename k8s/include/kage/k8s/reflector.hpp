#pragma once
// client-go's reflector, in one coroutine: list (paged), then watch from the list's
// resourceVersion with bookmarks; a clean end watches again from the last resourceVersion seen;
// 410 Gone (an HTTP answer or an in-stream ERROR event) lists again; any other failure backs off
// with full jitter (capped) before the next try, and a watch that ends at once without events
// counts as a failure, so nothing busy-loops. The cache of objects by namespace/name is kept in
// step and every change reaches the handlers: a re-list is diffed against the cache (adds,
// updates, and deletes for objects that vanished meanwhile).
#include <kage/base/backoff.hpp>
#include <kage/base/log.hpp>
#include <kage/k8s/client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kage::k8s {

struct reflector_options {
  resource what = pods_resource;
  std::string namespace_;  // empty: all namespaces
  std::string label_selector;
  std::string field_selector;
  // One page of whole objects is held while it is parsed and transformed: 100 Pods of ~10 KB
  // are ~4 MB parsed, 500 would be ~18 MB (bench/README.md, the 5,000-pod figure).
  std::size_t page_size = 100;
  // Each watch asks the server to end it after a time drawn from [min, 2 * min), as client-go,
  // so many watchers do not all re-watch at once.
  std::chrono::seconds min_watch_timeout{300};
  backoff_policy backoff{std::chrono::milliseconds(800), std::chrono::seconds(30)};
  // Called on every object before it is cached and handed out (e.g. drop managedFields to save
  // memory). May be empty.
  std::function<void(boost::json::value&)> transform;
};

// Called on the io_context's thread, in order. Handlers must not suspend or throw.
struct reflector_handlers {
  std::function<void(const boost::json::value& object)> on_add;
  std::function<void(const boost::json::value& before, const boost::json::value& after)> on_update;
  std::function<void(const boost::json::value& last_known)> on_delete;
  std::function<void()> on_synced;  // after each complete list: the cache matches the server
};

struct reflector_stats {
  std::uint64_t lists = 0;     // complete lists
  std::uint64_t watches = 0;   // watches opened
  std::uint64_t expired = 0;   // 410s (HTTP or in-stream) that forced a re-list
  std::uint64_t failures = 0;  // failed lists/watches and watches that ended at once
  std::uint64_t events = 0;    // ADDED/MODIFIED/DELETED applied
};

class reflector {
 public:
  reflector(client& c, reflector_options options, reflector_handlers handlers,
            kage::logger log = {});

  // Runs until cancelled (then throws operation_aborted). Failures are logged and retried.
  boost::asio::awaitable<void> async_run();

  // Objects by "namespace/name" ("name" for cluster-scoped kinds).
  const std::map<std::string, boost::json::value>& cache() const noexcept { return cache_; }
  const boost::json::value* find(std::string_view ns, std::string_view name) const;
  bool synced() const noexcept { return synced_; }  // a list has completed
  const std::string& resource_version() const noexcept { return resource_version_; }
  const reflector_stats& stats() const noexcept { return stats_; }
  // Since when lists/watches have been failing (unset while they succeed): a cache that has not
  // been refreshed since then may be stale, which a caller weighs against its own bound.
  std::optional<std::chrono::steady_clock::time_point> failing_since() const noexcept {
    return failing_since_;
  }

 private:
  boost::asio::awaitable<bool> async_list();
  void apply(const watch_event& e);
  void upsert(boost::json::value object);

  client& client_;
  reflector_options options_;
  reflector_handlers handlers_;
  kage::logger log_;
  kage::backoff backoff_;
  std::map<std::string, boost::json::value> cache_;
  std::string resource_version_;
  bool synced_ = false;
  std::optional<std::chrono::steady_clock::time_point> failing_since_;
  reflector_stats stats_;
};

// "namespace/name" of an object (its metadata), "name" without a namespace; empty when it has no
// name.
std::string object_key(const boost::json::value& object);
// metadata.resourceVersion, empty when absent.
std::string_view object_resource_version(const boost::json::value& object);

}  // namespace kage::k8s
