// S3's XML replies read the way s3_store reads them: an error body, a ListObjectsV2 page (each
// <Contents>' Key and Size, the paging), a CreateMultipartUpload reply's UploadId, the <Error>s
// of a DeleteObjects reply; and xml_decode/xml_escape round trips.
#include <kage/storage/s3_xml.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ks = kage::storage;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto e = ks::parse_s3_error(in)) {
    (void)e->code.size();
  }
  ks::list_paging paging(4);
  for (int page = 0; page < 6 && !paging.done(); ++page) {
    if (!paging.on_page(in).empty()) break;
    for (auto c : ks::xml_elements(in, "Contents")) {
      const std::string key = ks::xml_text(c, "Key").value_or("");
      const std::string text = ks::xml_text(c, "Size").value_or("0");
      std::uint64_t n = 0;
      (void)std::from_chars(text.data(), text.data() + text.size(), n);
      (void)key.size();
    }
  }
  (void)ks::xml_text(in, "UploadId");
  for (auto e : ks::xml_elements(in, "Error")) {
    (void)ks::xml_text(e, "Key");
    (void)ks::xml_text(e, "Code");
  }
  // Escaping then decoding gives the text back.
  if (ks::xml_decode(ks::xml_escape(in)) != in) __builtin_trap();
  (void)ks::xml_decode(in);
  return 0;
}
