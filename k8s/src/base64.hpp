#pragma once
// Standard base64 (RFC 4648 section 4, with padding) for the kubeconfig's *-data fields, the
// ExecCredential input and the WebSocket handshake. Private to k8s/.
#include <optional>
#include <string>
#include <string_view>

namespace kage::k8s::detail {

std::string base64_encode(std::string_view bytes);

// Like Go's encoding/base64 StdEncoding: CR and LF are skipped; padding may also be omitted; any
// other character outside the alphabet, or misplaced padding, gives nullopt.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kage::k8s::detail
