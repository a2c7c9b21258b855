// The watch-event stream from the API server: arbitrary bytes, fed in arbitrary chunks.
#include <kage/k8s/watch.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the chunk size, so splits land everywhere.
  const std::size_t chunk = 1 + data[0] % 64;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  kage::k8s::watch_decoder decoder({.max_event_size = 1 << 16, .max_depth = 32});
  while (!in.empty()) {
    auto used = decoder.feed(in.substr(0, chunk));
    if (!used) return 0;  // a final error: the stream cannot be resynchronised
    in.remove_prefix(*used);
    while (auto event = decoder.pop()) (void)event->expired();
  }
  return 0;
}
