// manifest.json and status.json as read back from a store. A manifest that parses writes back
// to JSON that parses to the same manifest.
#include <kage/storage/backup_id.hpp>
#include <kage/storage/manifest.hpp>
#include <kage/storage/status.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ks = kage::storage;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string why;
  if (auto m = ks::parse_manifest(in, &why)) {
    const std::string again = ks::to_json(*m);
    std::string why2;
    auto m2 = ks::parse_manifest(again, &why2);
    if (!m2 || ks::to_json(*m2) != again) __builtin_trap();
  } else if (why.empty() || m.error().category() != ks::manifest_category()) {
    __builtin_trap();  // every refusal names what is wrong
  }
  why.clear();
  if (auto s = ks::parse_status(in, &why)) {
    auto s2 = ks::parse_status(ks::to_json(*s), nullptr);
    if (!s2) __builtin_trap();
  } else if (why.empty()) {
    __builtin_trap();
  }
  (void)ks::valid_backup_id(in);
  (void)ks::valid_rfc3339_ms(in);
  return 0;
}
