#include <kage/k8s/status.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <utility>

namespace kage::k8s {
namespace json = boost::json;

namespace {

// A string member, or "" when absent or null; false when present with another type.
bool get_string(const json::object& o, std::string_view key, std::string& out) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return true;
  if (!v->is_string()) return false;
  out.assign(v->get_string().data(), v->get_string().size());
  return true;
}

bool get_int(const json::object& o, std::string_view key, std::int64_t& out) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return true;
  if (v->is_int64()) {
    out = v->get_int64();
    return true;
  }
  if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    out = static_cast<std::int64_t>(v->get_uint64());
    return true;
  }
  return false;
}

const std::array<std::pair<std::string_view, api_errc>, 18> reasons{{
    {"BadRequest", api_errc::bad_request},
    {"Unauthorized", api_errc::unauthorized},
    {"Forbidden", api_errc::forbidden},
    {"NotFound", api_errc::not_found},
    {"MethodNotAllowed", api_errc::method_not_allowed},
    {"NotAcceptable", api_errc::not_acceptable},
    {"AlreadyExists", api_errc::already_exists},
    {"Conflict", api_errc::conflict},
    {"Gone", api_errc::gone},
    {"Expired", api_errc::expired},
    {"RequestEntityTooLarge", api_errc::request_entity_too_large},
    {"UnsupportedMediaType", api_errc::unsupported_media_type},
    {"Invalid", api_errc::invalid},
    {"TooManyRequests", api_errc::too_many_requests},
    {"InternalError", api_errc::internal_error},
    {"ServerTimeout", api_errc::server_timeout},
    {"ServiceUnavailable", api_errc::service_unavailable},
    {"Timeout", api_errc::timeout},
}};

}  // namespace

api_errc api_errc_for_http_status(int http_status) noexcept {
  switch (http_status) {
    case 400:
      return api_errc::bad_request;
    case 401:
      return api_errc::unauthorized;
    case 403:
      return api_errc::forbidden;
    case 404:
      return api_errc::not_found;
    case 405:
      return api_errc::method_not_allowed;
    case 406:
      return api_errc::not_acceptable;
    case 409:
      return api_errc::conflict;
    case 410:
      return api_errc::gone;
    case 413:
      return api_errc::request_entity_too_large;
    case 415:
      return api_errc::unsupported_media_type;
    case 422:
      return api_errc::invalid;
    case 429:
      return api_errc::too_many_requests;
    case 500:
      return api_errc::internal_error;
    case 503:
      return api_errc::service_unavailable;
    case 504:
      return api_errc::timeout;
    default:
      return api_errc::unknown;
  }
}

boost::system::error_code status::error() const noexcept {
  if (success()) return {};
  for (const auto& [name, e] : reasons)
    if (reason == name) return e;
  // An unknown or empty reason: the code decides, as apimachinery's ReasonForError does.
  return api_errc_for_http_status(code >= 0 && code < 1000 ? static_cast<int>(code) : 0);
}

boost::system::result<status> parse_status(const json::value& value) {
  const auto bad = make_error_code(errc::malformed_status);
  const json::object* o = value.if_object();
  if (!o) return bad;
  status s;
  std::string kind;
  if (!get_string(*o, "kind", kind) || (!kind.empty() && kind != "Status")) return bad;
  if (!get_string(*o, "status", s.status) || !get_string(*o, "message", s.message) ||
      !get_string(*o, "reason", s.reason) || !get_int(*o, "code", s.code))
    return bad;
  if (const json::value* d = o->if_contains("details"); d && !d->is_null()) {
    const json::object* details = d->if_object();
    if (!details) return bad;
    auto& out = s.details;
    if (!get_string(*details, "name", out.name) || !get_string(*details, "group", out.group) ||
        !get_string(*details, "kind", out.kind) || !get_string(*details, "uid", out.uid) ||
        !get_int(*details, "retryAfterSeconds", out.retry_after_seconds))
      return bad;
    if (const json::value* c = details->if_contains("causes"); c && !c->is_null()) {
      const json::array* causes = c->if_array();
      if (!causes) return bad;
      for (const json::value& item : *causes) {
        const json::object* co = item.if_object();
        if (!co) return bad;
        status_cause cause;
        if (!get_string(*co, "reason", cause.reason) ||
            !get_string(*co, "message", cause.message) || !get_string(*co, "field", cause.field))
          return bad;
        out.causes.push_back(std::move(cause));
      }
    }
  }
  return s;
}

boost::system::result<status> parse_status(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return make_error_code(errc::malformed_json);
  return parse_status(v);
}

kage::failure to_failure(const status& s, std::string_view doing) {
  std::string text(doing);
  text += ": ";
  text += s.message.empty() ? s.error().message() : s.message;
  if (!s.reason.empty() || s.code != 0) {
    text += " (";
    text += s.reason.empty() ? "no reason given" : s.reason;
    if (s.code != 0) text += ", HTTP " + std::to_string(s.code);
    text += ")";
  }
  return kage::failure(exit_code::failure, s.error(), text);
}

std::string explain_refusal(int http_status, const api_request& r) {
  // RBAC names a subresource as "pods/exec"; a user reads the group after the resource.
  std::string resource(r.resource);
  if (!r.subresource.empty()) resource += "/" + std::string(r.subresource);
  std::string shown(r.resource);
  if (!r.group.empty()) shown += "." + std::string(r.group);
  if (!r.subresource.empty()) shown += "/" + std::string(r.subresource);
  const std::string where = r.namespace_.empty()
                                ? std::string("cluster-wide")
                                : "in namespace \"" + std::string(r.namespace_) + "\"";
  const std::string what = std::string(r.verb) + " " + shown + " " + where;
  if (http_status == 401)
    return "The Kubernetes API server did not accept kage's credentials when asked to " + what +
           " (401 Unauthorized): the token or client certificate is missing, expired or signed "
           "by an authority the server does not trust. No Role rule helps until the server "
           "accepts the credentials.";
  std::string text = "The Kubernetes API server refused to let kage " + what;
  text += http_status == 403 ? " (403 Forbidden)." : " (HTTP " + std::to_string(http_status) + ").";
  const std::string rule = "apiGroups: [\"" + std::string(r.group) + "\"], resources: [\"" +
                           resource + "\"], verbs: [\"" + std::string(r.verb) + "\"]";
  if (r.namespace_.empty())
    text += " kage's ServiceAccount needs a ClusterRole with the rule {" + rule +
            "}, bound to it by a ClusterRoleBinding.";
  else
    text += " kage's ServiceAccount needs a Role in namespace \"" + std::string(r.namespace_) +
            "\" with the rule {" + rule + "}, bound to it by a RoleBinding.";
  return text;
}

}  // namespace kage::k8s
