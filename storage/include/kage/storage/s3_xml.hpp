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

// The paging of one ListObjectsV2 listing: feed each page's body to on_page, ask for the next
// page with token() until done(). A server that pages forever (the same continuation token
// again, a page marked truncated without a token, more than max_pages pages) gets an error
// instead of a loop or a silently short listing.
class list_paging {
 public:
  explicit list_paging(std::size_t max_pages = 100000) : max_pages_(max_pages) {}
  // Empty when the page is fine; otherwise what is wrong with the server's paging.
  std::string on_page(std::string_view body);
  bool done() const noexcept { return done_; }
  const std::string& token() const noexcept { return token_; }  // for the next request

 private:
  std::size_t max_pages_;
  std::size_t pages_ = 0;
  bool done_ = false;
  std::string token_;
  std::vector<std::string> seen_;  // every token given so far
};

}  // namespace kage::storage
