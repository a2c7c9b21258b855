#pragma once
// Sans-IO decoder of a watch response body: a stream of JSON objects
// {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}, newline-delimited by the
// server, arriving in chunks split anywhere. Like client-go's JSON framer, objects are found by
// their JSON boundaries, so whitespace between them (the server's '\n') is optional.
#include <kage/k8s/error.hpp>
#include <kage/k8s/status.hpp>

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kage::k8s {

enum class watch_event_type { added, modified, deleted, bookmark, error };

std::string_view to_string(watch_event_type t) noexcept;  // "ADDED", ...

struct watch_event {
  watch_event_type type = watch_event_type::added;
  boost::json::value object;     // the event's object as sent
  std::string resource_version;  // object.metadata.resourceVersion; empty when absent
  std::optional<status> error;   // ERROR events: the Status the server sent

  // An ERROR whose Status is 410 Gone/Expired: the resourceVersion is too old; list again.
  bool expired() const noexcept { return error && is_expired(error->error()); }
};

struct watch_limits {
  std::size_t max_event_size = std::size_t{16} << 20;  // bytes of one event's JSON text
  std::size_t max_depth = 64;                          // JSON nesting
};

class watch_decoder {
 public:
  explicit watch_decoder(const watch_limits& limits = {});
  ~watch_decoder();
  watch_decoder(watch_decoder&&) noexcept;
  watch_decoder& operator=(watch_decoder&&) noexcept;

  // Consumes a prefix of bytes: through the end of the next complete event, or all of them.
  // When an event completed, pop() returns it; feed consumes nothing until it is popped. Errors
  // (malformed_json, malformed_event, too_large) are final: the stream cannot be resynchronised.
  boost::system::result<std::size_t> feed(std::string_view bytes);
  std::optional<watch_event> pop();

  // True when part of an event has been fed: at the end of the body, the stream was truncated.
  bool mid_event() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kage::k8s
