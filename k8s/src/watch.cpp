#include <kage/k8s/watch.hpp>

#include <boost/json/stream_parser.hpp>

#include <algorithm>
#include <array>
#include <utility>

namespace kage::k8s {
namespace json = boost::json;

namespace {

constexpr std::array<std::pair<std::string_view, watch_event_type>, 5> types{{
    {"ADDED", watch_event_type::added},
    {"MODIFIED", watch_event_type::modified},
    {"DELETED", watch_event_type::deleted},
    {"BOOKMARK", watch_event_type::bookmark},
    {"ERROR", watch_event_type::error},
}};

bool is_space(char c) noexcept {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

boost::system::result<watch_event> to_event(json::value v) {
  const auto bad = make_error_code(errc::malformed_event);
  json::object* o = v.if_object();
  if (!o) return bad;
  const json::value* type = o->if_contains("type");
  json::value* object = o->if_contains("object");
  if (!type || !type->is_string() || !object || !object->is_object()) return bad;
  watch_event e;
  const auto it = std::find_if(types.begin(), types.end(),
                               [&](const auto& t) { return t.first == type->get_string(); });
  if (it == types.end()) return bad;
  e.type = it->second;
  if (const json::value* meta = object->get_object().if_contains("metadata")) {
    if (!meta->is_object()) return bad;
    if (const json::value* rv = meta->get_object().if_contains("resourceVersion")) {
      if (!rv->is_string()) return bad;
      e.resource_version.assign(rv->get_string().data(), rv->get_string().size());
    }
  }
  if (e.type == watch_event_type::error) {
    auto s = parse_status(*object);
    if (!s) return bad;
    e.error = std::move(*s);
  }
  e.object = std::move(*object);
  return e;
}

}  // namespace

std::string_view to_string(watch_event_type t) noexcept {
  for (const auto& [name, type] : types)
    if (type == t) return name;
  return "?";
}

struct watch_decoder::impl {
  explicit impl(const watch_limits& l) : limits(l), parser({}, options(l)) {}
  static json::parse_options options(const watch_limits& l) {
    json::parse_options o;
    o.max_depth = l.max_depth;
    return o;
  }

  watch_limits limits;
  json::stream_parser parser;
  bool in_value = false;
  std::size_t value_bytes = 0;  // bytes of the current value fed to the parser
  std::optional<watch_event> ready;
  boost::system::error_code failed;
};

watch_decoder::watch_decoder(const watch_limits& limits) : impl_(std::make_unique<impl>(limits)) {}
watch_decoder::~watch_decoder() = default;
watch_decoder::watch_decoder(watch_decoder&&) noexcept = default;
watch_decoder& watch_decoder::operator=(watch_decoder&&) noexcept = default;

bool watch_decoder::mid_event() const noexcept {
  return impl_->in_value;
}

std::optional<watch_event> watch_decoder::pop() {
  return std::exchange(impl_->ready, std::nullopt);
}

boost::system::result<std::size_t> watch_decoder::feed(std::string_view bytes) {
  impl& d = *impl_;
  if (d.failed) return d.failed;
  if (d.ready) return std::size_t{0};
  const auto fail = [&](errc e) {
    d.failed = make_error_code(e);
    return d.failed;
  };
  std::size_t i = 0;
  while (i < bytes.size()) {
    if (!d.in_value) {
      while (i < bytes.size() && is_space(bytes[i])) ++i;
      if (i == bytes.size()) break;
      if (bytes[i] != '{') return fail(errc::malformed_json);
      d.parser.reset();
      d.in_value = true;
      d.value_bytes = 0;
    }
    // Never hand the parser more than the cap allows: an endless object is an error, not memory.
    const std::size_t room = d.limits.max_event_size - d.value_bytes;
    const std::size_t offer = std::min(bytes.size() - i, room);
    boost::system::error_code ec;
    const std::size_t used = d.parser.write_some(bytes.data() + i, offer, ec);
    if (ec) return fail(ec == json::error::too_deep ? errc::too_large : errc::malformed_json);
    i += used;
    d.value_bytes += used;
    if (d.parser.done()) {
      d.in_value = false;
      auto e = to_event(d.parser.release());
      if (!e) return fail(errc::malformed_event);
      d.ready = std::move(*e);
      return i;
    }
    if (d.value_bytes >= d.limits.max_event_size) return fail(errc::too_large);
  }
  return i;
}

}  // namespace kage::k8s
