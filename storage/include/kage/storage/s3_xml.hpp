#pragma once
// Just enough XML for S3's responses (sans-IO): the text of elements by tag name.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kage::storage {

// Contents of every <tag>...</tag> (or empty for <tag/>), in document order, not decoded.
std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view tag);
// Decoded text of the first <tag>, or nullopt.
std::optional<std::string> xml_text(std::string_view xml, std::string_view tag);
// &amp; &lt; &gt; &quot; &apos; &#N; &#xN; decoded.
std::string xml_decode(std::string_view s);
// For building request bodies.
std::string xml_escape(std::string_view s);

struct s3_error {
  std::string code;     // e.g. "NoSuchBucket"
  std::string message;  // S3's own words
};
// <Error><Code>..</Code><Message>..</Message></Error>, if the body is one.
std::optional<s3_error> parse_s3_error(std::string_view body);

}  // namespace kage::storage
