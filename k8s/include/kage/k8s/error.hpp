#pragma once
// Error codes of the Kubernetes client. Two categories: errc for what kage's own codecs find
// wrong in bytes (watch stream, WebSocket frames, kubeconfig), api_errc for what the API server
// said in a Status (its reason, or its HTTP code when the reason is unknown).
#include <boost/system/error_code.hpp>

namespace kage::k8s {

enum class errc {
  needs_more = 1,       // not an error: the input is incomplete, feed more bytes
  malformed_json,       // bytes that are not JSON
  malformed_event,      // JSON that is not a watch event ({"type":..,"object":{..}})
  malformed_status,     // JSON that is not a Status where one was expected
  too_large,            // an event, frame or message over the configured cap
  websocket_protocol,   // a WebSocket frame that breaks RFC 6455
  handshake_rejected,   // the server answered the WebSocket upgrade with a status other than 101
  handshake_invalid,    // a 101 answer with a wrong Upgrade, Connection or Sec-WebSocket-Accept
  no_subprotocol,       // the server chose no channel protocol, or one kage did not offer
  bad_channel,          // an exec message with no channel byte or an unknown channel
  bad_kubeconfig,       // a kubeconfig file that cannot be used (the message names file and field)
  bad_exec_credential,  // an exec credential plugin's answer that cannot be used
  not_in_cluster,       // in-cluster configuration asked for, but not running in a pod
};

// Status reasons of the API server (k8s.io/apimachinery metav1.StatusReason).
enum class api_errc {
  unknown = 1,               // a failure with a reason and code kage does not know
  bad_request,               // 400 BadRequest
  unauthorized,              // 401 Unauthorized: credentials missing, expired or not trusted
  forbidden,                 // 403 Forbidden: authenticated, but RBAC does not allow it
  not_found,                 // 404 NotFound
  method_not_allowed,        // 405 MethodNotAllowed
  not_acceptable,            // 406 NotAcceptable
  already_exists,            // 409 AlreadyExists
  conflict,                  // 409 Conflict: the object changed since it was read
  gone,                      // 410 Gone: the resourceVersion is too old
  expired,                   // 410 Expired: the resourceVersion is too old (watch)
  request_entity_too_large,  // 413 RequestEntityTooLarge
  unsupported_media_type,    // 415 UnsupportedMediaType
  invalid,                   // 422 Invalid: the object failed validation
  too_many_requests,         // 429 TooManyRequests: slow down (details.retryAfterSeconds)
  internal_error,            // 500 InternalError
  server_timeout,            // 500 ServerTimeout: the server could not finish in time, retry
  service_unavailable,       // 503 ServiceUnavailable
  timeout,                   // 504 Timeout: the request's own timeout passed
};

const boost::system::error_category& k8s_category() noexcept;
const boost::system::error_category& api_category() noexcept;
boost::system::error_code make_error_code(errc e) noexcept;
boost::system::error_code make_error_code(api_errc e) noexcept;

// A 410 Gone or Expired: a watch or list must start again from a fresh list.
bool is_expired(const boost::system::error_code& ec) noexcept;

}  // namespace kage::k8s

template <>
struct boost::system::is_error_code_enum<kage::k8s::errc> : std::true_type {};
template <>
struct boost::system::is_error_code_enum<kage::k8s::api_errc> : std::true_type {};
