// What a master sends after SYNC: keep-alives, +FULLRESYNC, "$<len>" or "$EOF:<mark>" and the
// RDB, fed in chunks as the socket gives them; the RDB frame check (header, EOF opcode, CRC64)
// over the payload; and the DUMP payload footer (RDB version, CRC64) of the same bytes.
#include <kage/proto/redis_text.hpp>
#include <kage/proto/replication.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kp = kage::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 97;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  kp::rdb_transfer_parser parser;
  kp::rdb_file_check check;
  std::string pending;  // received, not consumed
  std::size_t fed = 0;
  std::uint64_t payload = 0;
  while (!parser.done()) {
    auto r = parser.parse(pending);
    if (!r) break;
    if (r->consumed > pending.size()) __builtin_trap();
    if (!r->payload.empty()) {
      // The payload is a view into the consumed bytes.
      if (r->payload.data() < pending.data() ||
          r->payload.data() + r->payload.size() > pending.data() + r->consumed)
        __builtin_trap();
      check.update(r->payload);
      payload += r->payload.size();
    }
    pending.erase(0, r->consumed);
    if (r->consumed == 0 && !parser.done()) {
      if (fed == in.size()) break;  // the stream ended before the transfer did
      const std::size_t n = std::min(chunk, in.size() - fed);
      pending.append(in.substr(fed, n));
      fed += n;
    }
  }
  if (payload != parser.payload_bytes() || check.bytes() != payload) __builtin_trap();
  if (parser.framing() == kp::rdb_framing::length && parser.done() &&
      payload != parser.declared_length())
    __builtin_trap();
  (void)check.version();
  (void)check.finish();

  if (auto f = kp::read_dump_footer(in)) (void)f->rdb_version;
  if (auto f = kp::inspect_dump_payload(in)) (void)f->checksum_ok;
  return 0;
}
