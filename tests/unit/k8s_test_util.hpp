#pragma once
// Shared by the k8s unit tests: readable names for error codes in failed checks.
#include <kage/k8s/error.hpp>

#include <string>

namespace k8s_test {

inline std::string errc_name(const boost::system::error_code& ec) {
  using kage::k8s::errc;
  if (!ec) return "ok";
  if (ec.category() == kage::k8s::api_category()) return "api:" + std::to_string(ec.value());
  if (ec.category() != kage::k8s::k8s_category()) return "foreign:" + ec.message();
  switch (static_cast<errc>(ec.value())) {
    case errc::needs_more:
      return "needs_more";
    case errc::malformed_json:
      return "malformed_json";
    case errc::malformed_event:
      return "malformed_event";
    case errc::malformed_status:
      return "malformed_status";
    case errc::too_large:
      return "too_large";
    case errc::websocket_protocol:
      return "websocket_protocol";
    case errc::handshake_rejected:
      return "handshake_rejected";
    case errc::handshake_invalid:
      return "handshake_invalid";
    case errc::no_subprotocol:
      return "no_subprotocol";
    case errc::bad_channel:
      return "bad_channel";
    case errc::bad_kubeconfig:
      return "bad_kubeconfig";
    case errc::bad_exec_credential:
      return "bad_exec_credential";
    case errc::not_in_cluster:
      return "not_in_cluster";
  }
  return "errc(" + std::to_string(ec.value()) + ")";
}

}  // namespace k8s_test
