#include <kage/k8s/websocket.hpp>

#include "base64.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

namespace kage::k8s {

namespace {

constexpr std::string_view ws_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

char lower(char c) noexcept {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when a comma-separated header value lists token (case-insensitively).
bool has_token(std::string_view value, std::string_view token) noexcept {
  while (true) {
    const auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

bool is_control(ws_opcode op) noexcept {
  return static_cast<std::uint8_t>(op) >= 0x8;
}

bool known_opcode(std::uint8_t op) noexcept {
  return op <= 0x2 || (op >= 0x8 && op <= 0xa);
}

// Codes an endpoint may put in a close frame (RFC 6455 7.4.1 and the IANA registry).
bool valid_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

}  // namespace

ws_upgrade_request make_ws_upgrade_request(std::span<const std::uint8_t, 16> nonce) {
  ws_upgrade_request r;
  r.key = detail::base64_encode(
      std::string_view(reinterpret_cast<const char*>(nonce.data()), nonce.size()));
  r.headers = {
      {"Upgrade", "websocket"},
      {"Connection", "Upgrade"},
      {"Sec-WebSocket-Key", r.key},
      {"Sec-WebSocket-Version", "13"},
      {"Sec-WebSocket-Protocol", std::string(channel_v5) + ", " + std::string(channel_v4)},
  };
  return r;
}

std::string ws_accept_key(std::string_view key) {
  const std::string input = std::string(key) + std::string(ws_guid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // SHA-1 over a short buffer only fails when OpenSSL cannot provide SHA-1 at all.
  if (EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr) != 1) return {};
  return detail::base64_encode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

boost::system::result<channel_protocol> check_ws_upgrade_response(
    int http_status, std::span<const std::pair<std::string_view, std::string_view>> headers,
    std::string_view key) {
  if (http_status != 101) return make_error_code(errc::handshake_rejected);
  bool upgrade = false, connection = false, accept = false;
  std::optional<std::string_view> protocol;
  const std::string expected = ws_accept_key(key);
  for (const auto& [name, raw] : headers) {
    const std::string_view value = trim(raw);
    if (iequals(name, "Upgrade")) {
      upgrade = upgrade || has_token(value, "websocket");
    } else if (iequals(name, "Connection")) {
      connection = connection || has_token(value, "upgrade");
    } else if (iequals(name, "Sec-WebSocket-Accept")) {
      if (accept || value != expected) return make_error_code(errc::handshake_invalid);
      accept = true;
    } else if (iequals(name, "Sec-WebSocket-Protocol")) {
      if (protocol) return make_error_code(errc::no_subprotocol);  // chose twice
      protocol = value;
    } else if (iequals(name, "Sec-WebSocket-Extensions")) {
      if (!value.empty()) return make_error_code(errc::handshake_invalid);  // none offered
    }
  }
  if (!upgrade || !connection || !accept) return make_error_code(errc::handshake_invalid);
  if (protocol == channel_v5) return channel_protocol::v5;
  if (protocol == channel_v4) return channel_protocol::v4;
  return make_error_code(errc::no_subprotocol);
}

void ws_encode_frame(std::string& out, ws_opcode op, std::string_view payload,
                     const ws_mask_key& mask, bool fin) {
  const std::size_t n = payload.size();
  out.push_back(static_cast<char>((fin ? 0x80 : 0x00) | static_cast<std::uint8_t>(op)));
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(n >> 8 & 0xff));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>(static_cast<std::uint64_t>(n) >> shift & 0xff));
  }
  for (std::uint8_t b : mask) out.push_back(static_cast<char>(b));
  const std::size_t start = out.size();
  out.append(payload);
  for (std::size_t i = 0; i < n; ++i)
    out[start + i] = static_cast<char>(out[start + i] ^ mask[i % 4]);
}

void ws_encode_close(std::string& out, std::uint16_t code, std::string_view reason,
                     const ws_mask_key& mask) {
  // 125 payload bytes at most; cut the reason on a UTF-8 character boundary.
  if (reason.size() > 123) {
    std::size_t cut = 123;
    while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xc0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xff));
  payload.append(reason);
  ws_encode_frame(out, ws_opcode::close, payload, mask);
}

boost::system::error_code ws_decoder::header_complete() noexcept {
  const auto bad = make_error_code(errc::websocket_protocol);
  const std::uint8_t len7 = header_[1] & 0x7f;
  std::uint64_t length = len7;
  if (len7 == 126) {
    length = static_cast<std::uint64_t>(header_[2]) << 8 | header_[3];
    if (length < 126) return bad;  // RFC 6455 5.2: the minimal length encoding is required
  } else if (len7 == 127) {
    length = 0;
    for (int i = 2; i < 10; ++i) length = length << 8 | header_[i];
    if (length >> 63 || length <= 0xffff) return bad;
  }
  if (length > limits_.max_frame) return make_error_code(errc::too_large);
  if (!is_control(opcode_)) {
    if (opcode_ == ws_opcode::continuation) {
      if (!fragmented_) return bad;  // a continuation of nothing
    } else {
      if (fragmented_) return bad;  // a new message before the last one's final fragment
      message_opcode_ = opcode_;
      message_.clear();
    }
    if (length > limits_.max_message - message_.size()) return make_error_code(errc::too_large);
  } else {
    control_.clear();
  }
  remaining_ = length;
  in_frame_ = true;
  header_len_ = 0;
  header_need_ = 2;
  return {};
}

boost::system::error_code ws_decoder::frame_complete() {
  in_frame_ = false;
  if (is_control(opcode_)) {
    ws_message m;
    m.opcode = opcode_;
    if (opcode_ == ws_opcode::close) {
      if (control_.size() == 1) return make_error_code(errc::websocket_protocol);
      m.close_code = ws_close_no_status;
      if (control_.size() >= 2) {
        m.close_code = static_cast<std::uint16_t>(static_cast<unsigned char>(control_[0]) << 8 |
                                                  static_cast<unsigned char>(control_[1]));
        if (!valid_close_code(m.close_code)) return make_error_code(errc::websocket_protocol);
        m.payload = control_.substr(2);
      }
    } else {
      m.payload = std::move(control_);
    }
    control_.clear();
    ready_ = std::move(m);
    return {};
  }
  if (!fin_) {
    fragmented_ = true;
    return {};
  }
  fragmented_ = false;
  ready_ = ws_message{message_opcode_, std::move(message_), 0};
  message_.clear();
  return {};
}

boost::system::result<std::size_t> ws_decoder::feed(std::string_view bytes) {
  if (failed_) return failed_;
  if (ready_) return std::size_t{0};
  const auto fail = [&](boost::system::error_code ec) {
    failed_ = ec;
    return ec;
  };
  std::size_t i = 0;
  while (i < bytes.size()) {
    if (!in_frame_) {
      while (header_len_ < header_need_ && i < bytes.size()) {
        header_[header_len_++] = static_cast<std::uint8_t>(bytes[i++]);
        if (header_len_ != 2) continue;
        // The first two bytes say how long the header is; check them before waiting for more.
        const std::uint8_t op = header_[0] & 0x0f;
        if ((header_[0] & 0x70) != 0 || !known_opcode(op))  // no extension was negotiated
          return fail(errc::websocket_protocol);
        if (header_[1] & 0x80)  // RFC 6455 5.1: a server must not mask
          return fail(errc::websocket_protocol);
        fin_ = (header_[0] & 0x80) != 0;
        opcode_ = static_cast<ws_opcode>(op);
        const std::uint8_t len7 = header_[1] & 0x7f;
        if (is_control(opcode_) && (!fin_ || len7 > 125)) return fail(errc::websocket_protocol);
        header_need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
      }
      if (header_len_ < header_need_) break;
      if (auto ec = header_complete()) return fail(ec);
    }
    std::string& target = is_control(opcode_) ? control_ : message_;
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, bytes.size() - i));
    target.append(bytes.data() + i, take);
    i += take;
    remaining_ -= take;
    if (remaining_ == 0) {
      if (auto ec = frame_complete()) return fail(ec);
      if (ready_) return i;
    }
  }
  return i;
}

}  // namespace kage::k8s
