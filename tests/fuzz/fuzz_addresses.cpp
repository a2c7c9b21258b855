// What peers send that names a place: host:port as users write it, addresses in CLUSTER NODES
// and MOVED/ASK replies, URLs, and Redis error replies in general.
#include <kage/base/endpoint.hpp>
#include <kage/proto/redis_error.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto ep = kage::parse_endpoint(in, 6379)) {
    // What it prints, it reads back as the same place.
    auto again = kage::parse_endpoint(ep->address());
    if (!again || again->host != ep->host || again->port != ep->port) __builtin_trap();
  }
  (void)kage::parse_redis_address(in);
  (void)kage::parse_http_url(in);
  (void)kage::proto::classify_redis_error(in);
  return 0;
}
