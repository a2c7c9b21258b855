#include <kage/k8s/reflector.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <boost/system/system_error.hpp>

#include <random>
#include <set>

namespace kage::k8s {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

const json::object* metadata(const json::value& object) {
  const json::object* o = object.if_object();
  if (!o) return nullptr;
  const json::value* m = o->if_contains("metadata");
  return m ? m->if_object() : nullptr;
}

std::string_view string_field(const json::object* o, std::string_view key) {
  if (!o) return {};
  const json::value* v = o->if_contains(key);
  if (!v || !v->is_string()) return {};
  return v->get_string();
}

asio::awaitable<void> throw_if_cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none)
    throw boost::system::system_error(asio::error::operation_aborted);
}

}  // namespace

std::string object_key(const json::value& object) {
  const json::object* m = metadata(object);
  const auto name = string_field(m, "name");
  if (name.empty()) return {};
  const auto ns = string_field(m, "namespace");
  if (ns.empty()) return std::string(name);
  return std::string(ns) + "/" + std::string(name);
}

std::string_view object_resource_version(const json::value& object) {
  return string_field(metadata(object), "resourceVersion");
}

reflector::reflector(client& c, reflector_options options, reflector_handlers handlers,
                     kage::logger log)
    : client_(c),
      options_(std::move(options)),
      handlers_(std::move(handlers)),
      log_(std::move(log)),
      backoff_(options_.backoff) {}

const json::value* reflector::find(std::string_view ns, std::string_view name) const {
  const std::string key =
      ns.empty() ? std::string(name) : std::string(ns) + "/" + std::string(name);
  const auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : &it->second;
}

void reflector::upsert(json::value object) {
  std::string key = object_key(object);
  if (key.empty()) return;
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    auto& added = cache_.emplace(std::move(key), std::move(object)).first->second;
    if (handlers_.on_add) handlers_.on_add(added);
    return;
  }
  if (object_resource_version(it->second) == object_resource_version(object) &&
      !object_resource_version(object).empty())
    return;  // already known (a re-list of an unchanged object)
  json::value before = std::exchange(it->second, std::move(object));
  if (handlers_.on_update) handlers_.on_update(before, it->second);
}

void reflector::apply(const watch_event& e) {
  if (!e.resource_version.empty()) resource_version_ = e.resource_version;
  if (e.type == watch_event_type::bookmark) return;
  ++stats_.events;
  json::value object = e.object;
  if (options_.transform) options_.transform(object);
  if (e.type == watch_event_type::deleted) {
    const auto it = cache_.find(object_key(object));
    if (it == cache_.end()) return;  // never seen: nothing to tell
    cache_.erase(it);
    if (handlers_.on_delete) handlers_.on_delete(object);
    return;
  }
  upsert(std::move(object));
}

asio::awaitable<bool> reflector::async_list() {
  list_options lo;
  lo.label_selector = options_.label_selector;
  lo.field_selector = options_.field_selector;
  lo.limit = options_.page_size;
  lo.transform = options_.transform;  // page by page, as they arrive
  auto l = co_await client_.async_list(options_.what, options_.namespace_, lo);
  if (!l) {
    log_.warn("k8s", l.message);
    co_return false;
  }
  ++stats_.lists;
  std::set<std::string> seen;
  for (auto& item : l.items) seen.insert(object_key(item));
  // Objects gone while kage was not watching: their deletes first, from the last known state.
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    json::value last = std::move(it->second);
    it = cache_.erase(it);
    if (handlers_.on_delete) handlers_.on_delete(last);
  }
  for (auto& item : l.items) upsert(std::move(item));
  resource_version_ = l.resource_version;
  synced_ = true;
  failing_since_.reset();
  log_.debug("k8s", "listed " + std::to_string(cache_.size()) + " " +
                        std::string(options_.what.plural) + " at resourceVersion " +
                        resource_version_);
  if (handlers_.on_synced) handlers_.on_synced();
  co_return true;
}

asio::awaitable<void> reflector::async_run() {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  std::mt19937_64 rng{std::random_device{}()};
  int failures = 0;
  int expired_in_a_row = 0;
  bool need_list = true;
  const std::string what(options_.what.plural);
  auto pause = [&]() -> asio::awaitable<void> {
    ++failures;
    ++stats_.failures;
    if (!failing_since_) failing_since_ = std::chrono::steady_clock::now();
    timer.expires_after(backoff_.delay(failures));
    co_await timer.async_wait(asio::deferred);
  };
  for (;;) {
    co_await throw_if_cancelled();
    if (need_list) {
      if (!co_await async_list()) {
        co_await throw_if_cancelled();
        co_await pause();
        continue;
      }
      need_list = false;
    }
    watch_options wo;
    wo.resource_version = resource_version_;
    wo.label_selector = options_.label_selector;
    wo.field_selector = options_.field_selector;
    const auto min = std::max<std::int64_t>(1, options_.min_watch_timeout.count());
    wo.timeout =
        std::chrono::seconds(std::uniform_int_distribution<std::int64_t>(min, 2 * min - 1)(rng));
    wo.bookmarks = true;
    ++stats_.watches;
    auto w = co_await client_.async_watch(options_.what, options_.namespace_, wo);
    if (!w) {
      co_await throw_if_cancelled();
      if (is_expired(w.ec)) {
        ++stats_.expired;
        need_list = true;
        log_.info("k8s", "watch " + what + " from resourceVersion " + resource_version_ +
                             " is too old (410); listing again");
        if (++expired_in_a_row > 1) co_await pause();
        continue;
      }
      log_.warn("k8s", w.message);
      co_await pause();
      continue;
    }
    failing_since_.reset();
    const auto started = std::chrono::steady_clock::now();
    bool progress = false;
    bool failed = false;
    for (;;) {
      auto next = co_await w.stream->async_next();
      if (next.ec) {
        co_await throw_if_cancelled();
        log_.warn("k8s", "watch " + what + " broke off: " + next.ec.message());
        failed = true;
        break;
      }
      if (!next.event) break;  // the server's timeout: watch again from here
      const watch_event& e = *next.event;
      if (e.type == watch_event_type::error) {
        if (e.expired()) {
          ++stats_.expired;
          need_list = true;
          log_.info("k8s", "watch " + what + ": resourceVersion " + resource_version_ +
                               " expired (410 in the stream); listing again");
          if (++expired_in_a_row > 1 && !progress) failed = true;
        } else {
          log_.warn("k8s", "watch " + what + ": the API server sent an error: " +
                               (e.error ? e.error->message : std::string("(no message)")));
          failed = true;
        }
        break;
      }
      progress = true;
      expired_in_a_row = 0;
      apply(e);
    }
    if (progress) failures = 0;
    if (failed || (!progress && !need_list &&
                   std::chrono::steady_clock::now() - started < std::chrono::seconds(1)))
      co_await pause();
  }
}

}  // namespace kage::k8s
