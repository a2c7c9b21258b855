#pragma once
// The one parser of network addresses: what a user types (--node, --listen, S3 endpoint URLs)
// and what Redis reports (CLUSTER NODES, MOVED/ASK). Sans-IO; built on Boost.URL's grammars.
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kage {

struct endpoint {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 0;
  std::string address() const;  // "host:port", "[::1]:port": what parse_endpoint reads back
  bool operator==(const endpoint&) const = default;
};

enum class endpoint_errc {
  empty = 1,
  empty_host,
  missing_port,
  invalid_port,
  unbracketed_ipv6,
  unclosed_bracket,
  invalid_ipv6,
  invalid_host,
  url_not_allowed,
  invalid_url,
  unsupported_scheme,
  url_extras,
};
const boost::system::error_category& endpoint_category() noexcept;
boost::system::error_code make_error_code(endpoint_errc e) noexcept;

// "host:port", "[v6]:port", and a bare "host" or "[v6]" when default_port is given.
boost::system::result<endpoint> parse_endpoint(std::string_view text,
                                               std::optional<std::uint16_t> default_port = {});

// An address as Redis writes it in CLUSTER NODES and MOVED/ASK replies: IPv6 unbracketed
// ("::1:7000"; the last ':' starts the port), optionally followed by "@cport[,hostname]".
// The host may be empty (a node that does not know its own address yet); port 0 is allowed.
boost::system::result<endpoint> parse_redis_address(std::string_view text);

struct http_url {
  bool tls = false;            // https
  endpoint ep;                 // port defaults to 80/443
  bool explicit_port = false;  // the URL named the port
  std::string path;            // as written ("" or "/..."), still percent-encoded
  // host[:port] as the URL wrote it (IPv6 in brackets): the Host header.
  std::string authority() const;
};

// "http(s)://host[:port][/path]"; no user info, query or fragment.
boost::system::result<http_url> parse_http_url(std::string_view text);

}  // namespace kage

template <>
struct boost::system::is_error_code_enum<kage::endpoint_errc> : std::true_type {};
