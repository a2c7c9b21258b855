// WebSocket frames from the API server, then the exec channel layer on each message.
#include <kage/k8s/exec_channel.hpp>
#include <kage/k8s/websocket.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 32;
  const auto protocol =
      data[0] & 0x80 ? kage::k8s::channel_protocol::v5 : kage::k8s::channel_protocol::v4;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  kage::k8s::ws_decoder decoder(kage::k8s::ws_limits{});
  while (!in.empty()) {
    auto used = decoder.feed(in.substr(0, chunk));
    if (!used) return 0;
    in.remove_prefix(*used);
    while (auto message = decoder.pop()) {
      auto m = kage::k8s::parse_exec_message(message->payload, protocol);
      (void)m;
    }
  }
  (void)kage::k8s::parse_exec_status(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
