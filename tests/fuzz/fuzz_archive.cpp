// A stored data object (storage/FORMAT.md): the fuzz input is either the object's decompressed
// content, compressed here so the reader's framing checks are reached, or (first byte odd) the
// raw compressed bytes. Fed in chunks; only archive_errc may come out.
#include <kage/storage/archive.hpp>

#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ks = kage::storage;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool raw = data[0] & 1;
  const std::size_t chunk = 1 + (data[0] >> 1) * 37;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string object;
  if (raw) {
    object.assign(in);
  } else {
    object.resize(ZSTD_compressBound(in.size()));
    const std::size_t n = ZSTD_compress(object.data(), object.size(), in.data(), in.size(), 1);
    if (ZSTD_isError(n)) __builtin_trap();
    object.resize(n);
  }
  ks::archive_reader reader(1 << 16);
  std::size_t fed = 0;
  bool ended = false;
  for (int guard = 0; guard < 1000000; ++guard) {
    auto r = reader.next();
    if (r) {
      if (!*r) break;  // trailer read and checked
      const auto& rec = **r;
      (void)rec.key.size();
      (void)rec.payload.size();
      (void)reader.header_json();
      continue;
    }
    if (r.error() != ks::archive_errc::needs_more) {
      if (r.error().category() != ks::archive_category()) __builtin_trap();
      break;
    }
    if (fed == object.size()) {
      if (ended) __builtin_trap();  // needs_more after end_of_input: it would wait forever
      reader.end_of_input();
      ended = true;
      continue;
    }
    const std::size_t n = std::min(chunk, object.size() - fed);
    reader.feed(std::string_view(object).substr(fed, n));
    fed += n;
  }
  return 0;
}
