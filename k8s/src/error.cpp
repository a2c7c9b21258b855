#include <kage/k8s/error.hpp>

#include <string>

namespace kage::k8s {
namespace {

struct codec_category final : boost::system::error_category {
  const char* name() const noexcept override { return "kage.k8s"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::needs_more:
        return "The input is incomplete; more bytes are needed.";
      case errc::malformed_json:
        return "The Kubernetes API server sent bytes that are not JSON.";
      case errc::malformed_event:
        return "The Kubernetes API server sent a watch event without a known type and an object.";
      case errc::malformed_status:
        return "The Kubernetes API server sent a Status that cannot be understood.";
      case errc::too_large:
        return "A Kubernetes message is larger than the configured limit.";
      case errc::websocket_protocol:
        return "The Kubernetes API server sent a WebSocket frame that breaks RFC 6455.";
      case errc::handshake_rejected:
        return "The Kubernetes API server refused to upgrade the connection to a WebSocket.";
      case errc::handshake_invalid:
        return "The Kubernetes API server answered the WebSocket upgrade incorrectly.";
      case errc::no_subprotocol:
        return "The Kubernetes API server did not choose the v5 or v4 exec channel protocol.";
      case errc::bad_channel:
        return "The Kubernetes API server sent an exec message on an unknown channel.";
      case errc::bad_kubeconfig:
        return "The kubeconfig cannot be used.";
      case errc::bad_exec_credential:
        return "The kubeconfig's exec credential plugin gave an answer that cannot be used.";
      case errc::not_in_cluster:
        return "Not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and "
               "KUBERNETES_SERVICE_PORT are not set.";
    }
    return "Unknown Kubernetes client error.";
  }
};

struct server_category final : boost::system::error_category {
  const char* name() const noexcept override { return "kage.k8s.api"; }
  std::string message(int ev) const override {
    switch (static_cast<api_errc>(ev)) {
      case api_errc::unknown:
        return "The Kubernetes API server reported a failure.";
      case api_errc::bad_request:
        return "The Kubernetes API server rejected the request (BadRequest).";
      case api_errc::unauthorized:
        return "The Kubernetes API server did not accept the credentials (Unauthorized).";
      case api_errc::forbidden:
        return "The Kubernetes API server does not allow this request (Forbidden).";
      case api_errc::not_found:
        return "The Kubernetes object does not exist (NotFound).";
      case api_errc::method_not_allowed:
        return "The Kubernetes API server does not allow this method (MethodNotAllowed).";
      case api_errc::not_acceptable:
        return "The Kubernetes API server cannot answer in the requested form (NotAcceptable).";
      case api_errc::already_exists:
        return "The Kubernetes object already exists (AlreadyExists).";
      case api_errc::conflict:
        return "The Kubernetes object changed since it was read (Conflict).";
      case api_errc::gone:
        return "The requested resourceVersion is too old (Gone).";
      case api_errc::expired:
        return "The requested resourceVersion is too old (Expired).";
      case api_errc::request_entity_too_large:
        return "The request is too large for the Kubernetes API server (RequestEntityTooLarge).";
      case api_errc::unsupported_media_type:
        return "The Kubernetes API server does not accept this content type "
               "(UnsupportedMediaType).";
      case api_errc::invalid:
        return "The Kubernetes object is not valid (Invalid).";
      case api_errc::too_many_requests:
        return "The Kubernetes API server asks to slow down (TooManyRequests).";
      case api_errc::internal_error:
        return "The Kubernetes API server failed internally (InternalError).";
      case api_errc::server_timeout:
        return "The Kubernetes API server could not finish in time (ServerTimeout).";
      case api_errc::service_unavailable:
        return "The Kubernetes API server is unavailable (ServiceUnavailable).";
      case api_errc::timeout:
        return "The Kubernetes request timed out (Timeout).";
    }
    return "Unknown Kubernetes API error.";
  }
};

}  // namespace

const boost::system::error_category& k8s_category() noexcept {
  static const codec_category instance;
  return instance;
}

const boost::system::error_category& api_category() noexcept {
  static const server_category instance;
  return instance;
}

boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), k8s_category()};
}

boost::system::error_code make_error_code(api_errc e) noexcept {
  return {static_cast<int>(e), api_category()};
}

bool is_expired(const boost::system::error_code& ec) noexcept {
  return ec == api_errc::gone || ec == api_errc::expired;
}

}  // namespace kage::k8s
