// RESP replies as a Redis node sends them: the one-shot parser and the resumable parser the
// connection uses, fed in chunks (the first byte picks the size). Both must agree.
#include <kage/proto/resp.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace kp = kage::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  kp::resp_limits limits;
  limits.max_bulk = 1 << 16;
  limits.max_line = 256;
  limits.max_elements = 1 << 12;
  limits.max_depth = 8;

  // One-shot: every reply in the input, one after the other.
  std::vector<kp::resp_node> whole;
  std::size_t pos = 0;
  boost::system::result<std::size_t> last = std::size_t{0};
  while (pos < in.size()) {
    whole.clear();
    last = kp::parse_reply(in.substr(pos), whole, limits);
    if (!last) break;
    if (*last == 0 || *last > in.size() - pos) __builtin_trap();
    (void)kp::to_reply(whole);
    for (const auto& n : whole) {
      std::int64_t v;
      (void)kp::to_int64(n.value, v);
    }
    pos += *last;
  }

  // Resumable, over the first reply only, growing the view chunk by chunk.
  std::vector<kp::resp_node> first;
  auto expected = kp::parse_reply(in, first, limits);
  kp::reply_parser parser(limits);
  for (std::size_t have = std::min(chunk, in.size());; have = std::min(have + chunk, in.size())) {
    auto r = parser.parse(in.substr(0, have));
    if (r) {
      if (!expected || *expected != *r || parser.nodes().size() != first.size()) __builtin_trap();
      for (std::size_t i = 0; i < first.size(); ++i) {
        const auto& a = first[i];
        const auto& b = parser.nodes()[i];
        if (a.type != b.type || a.depth != b.depth || a.size != b.size || a.value != b.value)
          __builtin_trap();
      }
      break;
    }
    if (r.error() != kp::make_error_code(kp::errc::needs_more)) {
      if (expected || expected.error() != r.error()) __builtin_trap();
      break;
    }
    if (have == in.size()) {
      if (expected) __builtin_trap();
      break;
    }
  }
  return 0;
}
