#include <kage/storage/s3_xml.hpp>

#include <algorithm>
#include <charconv>

namespace kage::storage {

std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  const std::string open = "<" + std::string(tag);
  const std::string close = "</" + std::string(tag) + ">";
  std::size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    const std::size_t after = pos + open.size();
    if (after >= xml.size()) break;
    const char next = xml[after];
    if (next != '>' && next != ' ' && next != '/' && next != '\t' && next != '\n') {
      pos = after;  // a longer tag name with the same prefix
      continue;
    }
    const std::size_t gt = xml.find('>', after);
    if (gt == std::string_view::npos) break;
    if (xml[gt - 1] == '/') {
      out.emplace_back();
      pos = gt + 1;
      continue;
    }
    const std::size_t end = xml.find(close, gt + 1);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(gt + 1, end - gt - 1));
    pos = end + close.size();
  }
  return out;
}

std::string xml_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    // An entity is short ("&#x10FFFF;"): looking further for its ';' made a body full of '&'
    // cost time quadratic in its size.
    const auto semi = s.substr(0, std::min(s.size(), i + 12)).find(';', i);
    if (semi == std::string_view::npos) {
      out.push_back('&');
      continue;
    }
    const auto entity = s.substr(i + 1, semi - i - 1);
    if (entity == "amp")
      out.push_back('&');
    else if (entity == "lt")
      out.push_back('<');
    else if (entity == "gt")
      out.push_back('>');
    else if (entity == "quot")
      out.push_back('"');
    else if (entity == "apos")
      out.push_back('\'');
    else if (!entity.empty() && entity[0] == '#') {
      unsigned cp = 0;
      const bool hex = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X');
      const auto digits = entity.substr(hex ? 2 : 1);
      std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      // UTF-8 encode
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> xml_text(std::string_view xml, std::string_view tag) {
  auto all = xml_elements(xml, tag);
  if (all.empty()) return std::nullopt;
  return xml_decode(all.front());
}

std::optional<s3_error> parse_s3_error(std::string_view body) {
  auto err = xml_elements(body, "Error");
  if (err.empty()) return std::nullopt;
  s3_error e;
  e.code = xml_text(err.front(), "Code").value_or("");
  e.message = xml_text(err.front(), "Message").value_or("");
  return e;
}

std::string list_paging::on_page(std::string_view body) {
  ++pages_;
  if (xml_text(body, "IsTruncated").value_or("false") != "true") {
    done_ = true;
    return {};
  }
  std::string next = xml_text(body, "NextContinuationToken").value_or("");
  if (next.empty())
    return "the server marked page " + std::to_string(pages_) +
           " truncated but gave no NextContinuationToken";
  if (std::find(seen_.begin(), seen_.end(), next) != seen_.end())
    return "the server gave continuation token '" + next.substr(0, 100) + "' twice (page " +
           std::to_string(pages_) + "): it would list forever";
  if (pages_ >= max_pages_)
    return "the listing is still truncated after " + std::to_string(pages_) + " pages";
  seen_.push_back(next);
  token_ = std::move(next);
  return {};
}

}  // namespace kage::storage
