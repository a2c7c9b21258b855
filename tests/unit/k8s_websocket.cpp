// The client side of RFC 6455: handshake headers and answer checks, masked frame encoding,
// and decoding the server's frames (split at every byte, fragmented, with control frames in
// between, each length form, every protocol violation, the caps).
#include "k8s_test_util.hpp"

#include <kage/k8s/websocket.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace k8s = kage::k8s;
using k8s::ws_opcode;
using k8s_test::errc_name;

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

// An unmasked server frame.
std::string server_frame(int first_byte, std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>(first_byte));
  const std::size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(n));
  } else if (n <= 0xffff) {
    f += bytes({126, static_cast<int>(n >> 8), static_cast<int>(n & 0xff)});
  } else {
    f.push_back(127);
    for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>(n >> s & 0xff));
  }
  f.append(payload);
  return f;
}

struct decoded {
  std::vector<k8s::ws_message> messages;
  std::string error = "ok";
  bool mid_message = false;
};

decoded decode(const std::vector<std::string_view>& chunks, const k8s::ws_limits& limits = {}) {
  decoded out;
  k8s::ws_decoder d(limits);
  for (std::string_view chunk : chunks) {
    while (!chunk.empty()) {
      auto n = d.feed(chunk);
      if (!n) {
        out.error = errc_name(n.error());
        return out;
      }
      chunk.remove_prefix(*n);
      if (auto m = d.pop())
        out.messages.push_back(std::move(*m));
      else
        BOOST_REQUIRE(chunk.empty());
    }
  }
  out.mid_message = d.mid_message();
  return out;
}

decoded decode(std::string_view whole, const k8s::ws_limits& limits = {}) {
  return decode(std::vector<std::string_view>{whole}, limits);
}

std::vector<std::string_view> one_byte_chunks(std::string_view s) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < s.size(); ++i) out.push_back(s.substr(i, 1));
  return out;
}

// Parses a client frame: checks the mask bit and returns (first byte, unmasked payload).
std::pair<int, std::string> unmask_client_frame(std::string_view f, std::size_t& header_size) {
  BOOST_REQUIRE(f.size() >= 6);
  BOOST_REQUIRE((static_cast<unsigned char>(f[1]) & 0x80) != 0);  // clients always mask
  std::uint64_t n = static_cast<unsigned char>(f[1]) & 0x7f;
  std::size_t pos = 2;
  if (n == 126) {
    n = static_cast<std::uint64_t>(static_cast<unsigned char>(f[2])) << 8 |
        static_cast<unsigned char>(f[3]);
    pos = 4;
  } else if (n == 127) {
    n = 0;
    for (int i = 2; i < 10; ++i) n = n << 8 | static_cast<unsigned char>(f[i]);
    pos = 10;
  }
  const std::string_view mask = f.substr(pos, 4);
  pos += 4;
  header_size = pos;
  BOOST_REQUIRE_EQUAL(f.size(), pos + n);
  std::string payload(f.substr(pos));
  for (std::size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>(payload[i] ^ mask[i % 4]);
  return {static_cast<unsigned char>(f[0]), payload};
}

const k8s::ws_mask_key rfc_mask{0x37, 0xfa, 0x21, 0x3d};

}  // namespace

BOOST_AUTO_TEST_SUITE(k8s_websocket)

// ---- Handshake ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rfc_handshake_example) {
  const std::string nonce = "the sample nonce";
  std::array<std::uint8_t, 16> raw{};
  std::copy(nonce.begin(), nonce.end(), raw.begin());
  const auto req = k8s::make_ws_upgrade_request(raw);
  BOOST_TEST(req.key == "dGhlIHNhbXBsZSBub25jZQ==");
  BOOST_TEST(k8s::ws_accept_key(req.key) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const k8s::header_list expected = {
      {"Upgrade", "websocket"},
      {"Connection", "Upgrade"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
      {"Sec-WebSocket-Version", "13"},
      {"Sec-WebSocket-Protocol", "v5.channel.k8s.io, v4.channel.k8s.io"},
  };
  BOOST_TEST((req.headers == expected));
}

BOOST_AUTO_TEST_CASE(upgrade_answers) {
  using headers = std::vector<std::pair<std::string_view, std::string_view>>;
  const std::string_view key = "dGhlIHNhbXBsZSBub25jZQ==";
  const std::string_view accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
  const auto check = [&](int status, const headers& h) {
    auto r = k8s::check_ws_upgrade_response(status, h, key);
    if (!r) return errc_name(r.error());
    return std::string(*r == k8s::channel_protocol::v5 ? "v5" : "v4");
  };
  BOOST_TEST(check(101, {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Accept", accept},
                         {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"}}) == "v5");
  // Names and the Upgrade/Connection tokens compare case-insensitively; Connection is a list.
  BOOST_TEST(check(101, {{"upgrade", "WebSocket"},
                         {"CONNECTION", "keep-alive, upgrade"},
                         {"sec-websocket-accept", accept},
                         {"sec-websocket-protocol", " v4.channel.k8s.io "}}) == "v4");
  BOOST_TEST(check(403, {}) == "handshake_rejected");
  BOOST_TEST(check(200, {{"Upgrade", "websocket"}}) == "handshake_rejected");
  BOOST_TEST(check(101, {{"Connection", "Upgrade"},
                         {"Sec-WebSocket-Accept", accept},
                         {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"}}) == "handshake_invalid");
  BOOST_TEST(check(101, {{"Upgrade", "h2c"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Accept", accept},
                         {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"}}) == "handshake_invalid");
  BOOST_TEST(check(101, {{"Upgrade", "websocket"},
                         {"Connection", "close"},
                         {"Sec-WebSocket-Accept", accept},
                         {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"}}) == "handshake_invalid");
  BOOST_TEST(check(101, {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"}}) == "handshake_invalid");
  BOOST_TEST(check(101, {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOp="},
                         {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"}}) == "handshake_invalid");
  BOOST_TEST(check(101, {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Accept", accept},
                         {"Sec-WebSocket-Extensions", "permessage-deflate"},
                         {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"}}) == "handshake_invalid");
  BOOST_TEST(check(101, {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Accept", accept}}) == "no_subprotocol");
  BOOST_TEST(check(101, {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Accept", accept},
                         {"Sec-WebSocket-Protocol", "v3.channel.k8s.io"}}) == "no_subprotocol");
  BOOST_TEST(check(101, {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Accept", accept},
                         {"Sec-WebSocket-Protocol", "v5.channel.k8s.io, v4.channel.k8s.io"}}) ==
             "no_subprotocol");
  BOOST_TEST(check(101, {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Accept", accept},
                         {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"},
                         {"Sec-WebSocket-Protocol", "v4.channel.k8s.io"}}) == "no_subprotocol");
}

// ---- Encoding ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rfc_masked_hello) {
  std::string out;
  k8s::ws_encode_frame(out, ws_opcode::text, "Hello", rfc_mask);
  BOOST_TEST(out == bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  out.clear();
  k8s::ws_encode_frame(out, ws_opcode::pong, "Hello", rfc_mask);
  BOOST_TEST(out == bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

BOOST_AUTO_TEST_CASE(length_forms) {
  struct case_t {
    std::size_t size;
    std::size_t header;
  };
  for (const auto& c : std::vector<case_t>{
           {0, 6}, {1, 6}, {125, 6}, {126, 8}, {65535, 8}, {65536, 14}, {70000, 14}}) {
    BOOST_TEST_CONTEXT("payload " << c.size) {
      std::string payload(c.size, '\0');
      for (std::size_t i = 0; i < c.size; ++i) payload[i] = static_cast<char>(i * 7);
      std::string out = "prefix";  // encoding appends
      k8s::ws_encode_frame(out, ws_opcode::binary, payload, {1, 2, 3, 4}, false);
      BOOST_TEST(out.substr(0, 6) == "prefix");
      std::size_t header = 0;
      auto [first, unmasked] = unmask_client_frame(std::string_view(out).substr(6), header);
      BOOST_TEST(first == 0x02);  // fin clear, binary
      BOOST_TEST(header == c.header);
      BOOST_TEST(unmasked == payload);
    }
  }
}

BOOST_AUTO_TEST_CASE(close_frames) {
  std::string out;
  k8s::ws_encode_close(out, 1000, "bye", rfc_mask);
  std::size_t header = 0;
  auto [first, payload] = unmask_client_frame(out, header);
  BOOST_TEST(first == 0x88);
  BOOST_TEST(payload == bytes({0x03, 0xe8}) + "bye");
  // A long reason is cut to fit 125 bytes, on a UTF-8 character boundary.
  std::string reason(122, 'r');
  reason += "\xc3\xa9\xc3\xa9";  // two-byte characters straddling byte 123
  out.clear();
  k8s::ws_encode_close(out, 1001, reason, rfc_mask);
  auto [first2, payload2] = unmask_client_frame(out, header);
  BOOST_TEST(payload2.size() == 2u + 122u);
  BOOST_TEST(payload2.substr(2) == std::string(122, 'r'));
  BOOST_TEST(first2 == 0x88);
}

// ---- Decoding ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rfc_examples) {
  auto hello = decode(bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  BOOST_TEST(hello.error == "ok");
  BOOST_REQUIRE_EQUAL(hello.messages.size(), 1u);
  BOOST_TEST((hello.messages[0].opcode == ws_opcode::text));
  BOOST_TEST(hello.messages[0].payload == "Hello");

  auto fragmented = decode(bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f}));
  BOOST_REQUIRE_EQUAL(fragmented.messages.size(), 1u);
  BOOST_TEST(fragmented.messages[0].payload == "Hello");

  auto ping = decode(bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  BOOST_REQUIRE_EQUAL(ping.messages.size(), 1u);
  BOOST_TEST((ping.messages[0].opcode == ws_opcode::ping));
  BOOST_TEST(ping.messages[0].payload == "Hello");

  std::string b256(256, 'q');
  auto binary = decode(bytes({0x82, 0x7e, 0x01, 0x00}) + b256);
  BOOST_REQUIRE_EQUAL(binary.messages.size(), 1u);
  BOOST_TEST((binary.messages[0].opcode == ws_opcode::binary));
  BOOST_TEST(binary.messages[0].payload == b256);

  std::string b64k(65536, 'w');
  auto big = decode(bytes({0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}) + b64k);
  BOOST_REQUIRE_EQUAL(big.messages.size(), 1u);
  BOOST_TEST(big.messages[0].payload == b64k);
}

namespace {

// Text "Hello" whole; a binary message in three fragments with a ping and a pong in between;
// an empty binary message; a 300-byte binary (16-bit length); close 1000 "done".
const std::string conversation =
    server_frame(0x81, "Hello") + server_frame(0x02, "\x01out") + server_frame(0x89, "p1") +
    server_frame(0x00, "put ") + server_frame(0x8a, "") + server_frame(0x80, "end") +
    server_frame(0x82, "") + server_frame(0x82, std::string(300, '\x02')) +
    server_frame(0x88, bytes({0x03, 0xe8}) + "done");

void check_conversation(const decoded& d) {
  BOOST_TEST(d.error == "ok");
  BOOST_TEST(!d.mid_message);
  BOOST_REQUIRE_EQUAL(d.messages.size(), 7u);
  BOOST_TEST((d.messages[0].opcode == ws_opcode::text));
  BOOST_TEST(d.messages[0].payload == "Hello");
  BOOST_TEST((d.messages[1].opcode == ws_opcode::ping));
  BOOST_TEST(d.messages[1].payload == "p1");
  BOOST_TEST((d.messages[2].opcode == ws_opcode::pong));
  BOOST_TEST(d.messages[2].payload == "");
  BOOST_TEST((d.messages[3].opcode == ws_opcode::binary));
  BOOST_TEST(d.messages[3].payload == "\x01output end");
  BOOST_TEST((d.messages[4].opcode == ws_opcode::binary));
  BOOST_TEST(d.messages[4].payload == "");
  BOOST_TEST(d.messages[5].payload == std::string(300, '\x02'));
  BOOST_TEST((d.messages[6].opcode == ws_opcode::close));
  BOOST_TEST(d.messages[6].close_code == 1000);
  BOOST_TEST(d.messages[6].payload == "done");
}

}  // namespace

BOOST_AUTO_TEST_CASE(conversation_whole) {
  check_conversation(decode(conversation));
}

BOOST_AUTO_TEST_CASE(conversation_every_split_position) {
  for (std::size_t split = 0; split <= conversation.size(); ++split) {
    BOOST_TEST_CONTEXT("split at " << split) {
      std::string_view s(conversation);
      check_conversation(decode({s.substr(0, split), s.substr(split)}));
    }
  }
}

BOOST_AUTO_TEST_CASE(conversation_byte_by_byte) {
  check_conversation(decode(one_byte_chunks(conversation)));
}

BOOST_AUTO_TEST_CASE(long_frame_byte_by_byte) {
  const std::string payload(70000, 'L');
  auto d = decode(one_byte_chunks(server_frame(0x82, payload)));
  BOOST_TEST(d.error == "ok");
  BOOST_REQUIRE_EQUAL(d.messages.size(), 1u);
  BOOST_TEST(d.messages[0].payload == payload);
}

BOOST_AUTO_TEST_CASE(close_without_code) {
  auto d = decode(server_frame(0x88, ""));
  BOOST_REQUIRE_EQUAL(d.messages.size(), 1u);
  BOOST_TEST(d.messages[0].close_code == k8s::ws_close_no_status);
  BOOST_TEST(d.messages[0].payload == "");
  for (int code :
       {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999}) {
    auto c = decode(server_frame(0x88, bytes({code >> 8, code & 0xff})));
    BOOST_TEST_CONTEXT("code " << code) {
      BOOST_REQUIRE_EQUAL(c.messages.size(), 1u);
      BOOST_TEST(c.messages[0].close_code == code);
    }
  }
}

BOOST_AUTO_TEST_CASE(mid_message) {
  auto header_only = decode(bytes({0x82}));
  BOOST_TEST(header_only.mid_message);
  auto partial_payload = decode(bytes({0x82, 0x05, 'a', 'b'}));
  BOOST_TEST(partial_payload.mid_message);
  auto first_fragment = decode(server_frame(0x02, "abc"));
  BOOST_TEST(first_fragment.messages.empty());
  BOOST_TEST(first_fragment.mid_message);
  BOOST_TEST(!decode(server_frame(0x82, "abc")).mid_message);
}

BOOST_AUTO_TEST_CASE(protocol_violations) {
  struct case_t {
    std::string name;
    std::string input;
    std::string error;
  };
  std::string len64_msb = bytes({0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0});
  const std::vector<case_t> cases = {
      {"rsv1", server_frame(0xc1, "x"), "websocket_protocol"},
      {"rsv2", server_frame(0xa1, "x"), "websocket_protocol"},
      {"rsv3", server_frame(0x91, "x"), "websocket_protocol"},
      {"opcode 3", server_frame(0x83, "x"), "websocket_protocol"},
      {"opcode 7", server_frame(0x87, "x"), "websocket_protocol"},
      {"opcode 0xb", server_frame(0x8b, "x"), "websocket_protocol"},
      {"opcode 0xf", server_frame(0x8f, "x"), "websocket_protocol"},
      {"masked by the server", bytes({0x82, 0x81, 1, 2, 3, 4, 'x'}), "websocket_protocol"},
      {"fragmented ping", server_frame(0x09, "x"), "websocket_protocol"},
      {"fragmented close", server_frame(0x08, bytes({0x03, 0xe8})), "websocket_protocol"},
      {"ping over 125 bytes", server_frame(0x89, std::string(126, 'p')), "websocket_protocol"},
      {"continuation of nothing", server_frame(0x80, "x"), "websocket_protocol"},
      {"text inside a fragmented message", server_frame(0x01, "a") + server_frame(0x81, "b"),
       "websocket_protocol"},
      {"16-bit length under 126", bytes({0x82, 0x7e, 0x00, 0x7d}) + std::string(125, 'x'),
       "websocket_protocol"},
      {"64-bit length under 65536", bytes({0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff}),
       "websocket_protocol"},
      {"64-bit length with the top bit set", len64_msb, "websocket_protocol"},
      {"close with one byte", server_frame(0x88, "\x03"), "websocket_protocol"},
      {"close code 999", server_frame(0x88, bytes({0x03, 0xe7})), "websocket_protocol"},
      {"close code 1004", server_frame(0x88, bytes({0x03, 0xec})), "websocket_protocol"},
      {"close code 1005", server_frame(0x88, bytes({0x03, 0xed})), "websocket_protocol"},
      {"close code 1006", server_frame(0x88, bytes({0x03, 0xee})), "websocket_protocol"},
      {"close code 1015", server_frame(0x88, bytes({0x03, 0xf7})), "websocket_protocol"},
      {"close code 2999", server_frame(0x88, bytes({0x0b, 0xb7})), "websocket_protocol"},
      {"close code 5000", server_frame(0x88, bytes({0x13, 0x88})), "websocket_protocol"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(decode(c.input).error == c.error);
      BOOST_TEST(decode(one_byte_chunks(c.input)).error == c.error);
    }
  }
}

BOOST_AUTO_TEST_CASE(caps) {
  k8s::ws_limits limits;
  limits.max_frame = 100;
  limits.max_message = 250;
  BOOST_TEST(decode(server_frame(0x82, std::string(100, 'a')), limits).error == "ok");
  // Refused from the header alone, before any payload arrives.
  BOOST_TEST(decode(server_frame(0x82, std::string(101, 'a')).substr(0, 4), limits).error ==
             "too_large");
  BOOST_TEST(decode(bytes({0x82, 0x7f, 0, 0, 0, 1, 0, 0, 0, 0}), limits).error == "too_large");
  // Fragments within the frame cap add up past the message cap.
  const std::string three = server_frame(0x02, std::string(100, 'a')) +
                            server_frame(0x00, std::string(100, 'b')) +
                            server_frame(0x80, std::string(50, 'c'));
  BOOST_TEST(decode(three, limits).error == "ok");
  const std::string four = server_frame(0x02, std::string(100, 'a')) +
                           server_frame(0x00, std::string(100, 'b')) +
                           server_frame(0x80, std::string(51, 'c'));
  BOOST_TEST(decode(four, limits).error == "too_large");
  BOOST_TEST(decode(one_byte_chunks(four), limits).error == "too_large");
}

BOOST_AUTO_TEST_CASE(errors_are_final_and_pop_gates_feed) {
  k8s::ws_decoder d;
  const std::string two = server_frame(0x82, "a") + server_frame(0x82, "b");
  auto n = d.feed(two);
  BOOST_REQUIRE(n);
  BOOST_TEST(*n == 3u);
  auto zero = d.feed(std::string_view(two).substr(3));
  BOOST_REQUIRE(zero);
  BOOST_TEST(*zero == 0u);
  BOOST_TEST(d.pop()->payload == "a");
  BOOST_TEST(*d.feed(std::string_view(two).substr(3)) == 3u);
  BOOST_TEST(d.pop()->payload == "b");

  BOOST_TEST(!d.feed(server_frame(0x83, "x")));
  auto after = d.feed(server_frame(0x82, "ok"));
  BOOST_REQUIRE(!after);
  BOOST_TEST(errc_name(after.error()) == "websocket_protocol");
}

BOOST_AUTO_TEST_SUITE_END()
