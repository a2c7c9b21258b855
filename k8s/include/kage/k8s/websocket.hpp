#pragma once
// Sans-IO WebSocket (RFC 6455) for the client side of exec: the opening handshake's request
// headers and response check, a frame encoder (client frames are masked with a key the caller
// supplies from a random source), and a decoder of the server's frames that reassembles
// fragmented messages and passes control frames (ping, pong, close) through as they come.
#include <kage/k8s/error.hpp>

#include <boost/system/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kage::k8s {

// ---- Opening handshake ---------------------------------------------------------------------

// The exec/attach channel protocols kage speaks, in order of preference.
enum class channel_protocol { v5, v4 };
inline constexpr std::string_view channel_v5 = "v5.channel.k8s.io";
inline constexpr std::string_view channel_v4 = "v4.channel.k8s.io";

using header_list = std::vector<std::pair<std::string, std::string>>;

struct ws_upgrade_request {
  std::string key;      // Sec-WebSocket-Key, needed again to check the answer
  header_list headers;  // Upgrade, Connection, Sec-WebSocket-Key/-Version/-Protocol
};

// Headers for the GET that upgrades to a WebSocket; the key is base64 of 16 random bytes.
ws_upgrade_request make_ws_upgrade_request(std::span<const std::uint8_t, 16> nonce);

// base64(SHA-1(key + the RFC 6455 GUID)): what the server must echo in Sec-WebSocket-Accept.
std::string ws_accept_key(std::string_view key);

// Checks the server's answer (status and headers; names compare case-insensitively) and
// returns the protocol it chose. Not 101: handshake_rejected (the body is then usually a Status
// saying why, e.g. 403 for pods/exec). Wrong Upgrade, Connection or Accept, or an extension
// kage did not offer: handshake_invalid. No protocol or one not offered: no_subprotocol.
boost::system::result<channel_protocol> check_ws_upgrade_response(
    int http_status, std::span<const std::pair<std::string_view, std::string_view>> headers,
    std::string_view key);

// ---- Frames --------------------------------------------------------------------------------

enum class ws_opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xa,
};

using ws_mask_key = std::array<std::uint8_t, 4>;

// Close status codes kage sends or looks at (RFC 6455 section 7.4.1).
inline constexpr std::uint16_t ws_close_normal = 1000;
inline constexpr std::uint16_t ws_close_no_status = 1005;  // a close frame without a code

// Appends one masked client frame. The payload of a control frame must be at most 125 bytes.
void ws_encode_frame(std::string& out, ws_opcode op, std::string_view payload,
                     const ws_mask_key& mask, bool fin = true);
// A close frame: the code, then the reason (truncated to fit 125 bytes).
void ws_encode_close(std::string& out, std::uint16_t code, std::string_view reason,
                     const ws_mask_key& mask);

struct ws_message {
  ws_opcode opcode = ws_opcode::binary;  // text, binary, close, ping or pong; never continuation
  std::string payload;                   // whole message; for close, the reason after the code
  std::uint16_t close_code = 0;          // close: the code, ws_close_no_status when none
};

struct ws_limits {
  std::size_t max_frame = std::size_t{16} << 20;    // payload bytes of one frame
  std::size_t max_message = std::size_t{16} << 20;  // payload bytes of a reassembled message
};

class ws_decoder {
 public:
  explicit ws_decoder(const ws_limits& limits = {}) : limits_(limits) {}

  // Consumes a prefix of bytes: through the end of the next complete message (a control frame,
  // or the final fragment of a data message), or all of them. When a message completed, pop()
  // returns it; feed consumes nothing until it is popped. Errors (websocket_protocol,
  // too_large) are final; the caller should send a close with 1002 or 1009 and give up.
  boost::system::result<std::size_t> feed(std::string_view bytes);
  std::optional<ws_message> pop() { return std::exchange(ready_, std::nullopt); }

  // True when part of a frame or of a fragmented message has been fed.
  bool mid_message() const noexcept { return header_len_ > 0 || in_frame_ || fragmented_; }

 private:
  boost::system::error_code header_complete() noexcept;
  boost::system::error_code frame_complete();

  ws_limits limits_;
  std::array<std::uint8_t, 14> header_{};
  std::size_t header_len_ = 0;   // header bytes gathered so far
  std::size_t header_need_ = 2;  // header bytes needed, known once the first two arrive
  bool in_frame_ = false;        // header done, payload bytes still to come
  bool fin_ = false;
  ws_opcode opcode_ = ws_opcode::binary;
  std::uint64_t remaining_ = 0;  // payload bytes of the current frame still to come
  bool fragmented_ = false;      // a data message has started and awaits its final fragment
  ws_opcode message_opcode_ = ws_opcode::binary;
  std::string message_;  // data message being reassembled
  std::string control_;  // control frame payload (at most 125 bytes)
  std::optional<ws_message> ready_;
  boost::system::error_code failed_;
};

}  // namespace kage::k8s
