#include <kage/base/endpoint.hpp>

#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>

#include <algorithm>
#include <charconv>

namespace kage {
namespace {

namespace urls = boost::urls;

class endpoint_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "kage.endpoint"; }
  std::string message(int ev) const override {
    switch (static_cast<endpoint_errc>(ev)) {
      case endpoint_errc::empty:
        return "the address is empty";
      case endpoint_errc::empty_host:
        return "no host before the ':'";
      case endpoint_errc::missing_port:
        return "no ':PORT'";
      case endpoint_errc::invalid_port:
        return "the port must be a number from 1 to 65535";
      case endpoint_errc::unbracketed_ipv6:
        return "write IPv6 addresses in brackets, as in [::1]:7000";
      case endpoint_errc::unclosed_bracket:
        return "no ']' after the IPv6 address";
      case endpoint_errc::invalid_ipv6:
        return "not a valid IPv6 address between the brackets";
      case endpoint_errc::invalid_host:
        return "the host is not a valid name or address";
      case endpoint_errc::url_not_allowed:
        return "give HOST:PORT, not a URL";
      case endpoint_errc::invalid_url:
        return "not a URL of the form http(s)://HOST[:PORT][/PATH]";
      case endpoint_errc::unsupported_scheme:
        return "the URL must start with http:// or https://";
      case endpoint_errc::url_extras:
        return "the URL must not carry user info, a query or a fragment";
    }
    return "unknown endpoint error";
  }
};

// Digits only (no sign, no spaces), 1-65535; 0 too when allow_zero.
std::optional<std::uint16_t> parse_port(std::string_view text, bool allow_zero = false) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value > 65535) return std::nullopt;
  if (value == 0 && !allow_zero) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// An IPv6 literal as found between brackets; a zone ("fe80::1%eth0") is kept as written.
bool valid_ipv6(std::string_view text) {
  return static_cast<bool>(urls::parse_ipv6_address(text.substr(0, text.find('%'))));
}

// A DNS name or an IPv4 address (RFC 3986 reg-name / IPv4address).
bool valid_name(std::string_view text) {
  auto a = urls::parse_authority(text);
  return a && !a->has_userinfo() && !a->has_port() &&
         (a->host_type() == urls::host_type::name || a->host_type() == urls::host_type::ipv4) &&
         a->encoded_host() == text;
}

}  // namespace

const boost::system::error_category& endpoint_category() noexcept {
  static const endpoint_category_impl category;
  return category;
}

boost::system::error_code make_error_code(endpoint_errc e) noexcept {
  return {static_cast<int>(e), endpoint_category()};
}

std::string endpoint::address() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

boost::system::result<endpoint> parse_endpoint(std::string_view text,
                                               std::optional<std::uint16_t> default_port) {
  if (text.empty()) return endpoint_errc::empty;
  if (text.find("://") != std::string_view::npos) return endpoint_errc::url_not_allowed;
  endpoint ep;
  std::optional<std::string_view> port_text;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return endpoint_errc::unclosed_bracket;
    const auto inside = text.substr(1, close - 1);
    if (inside.empty()) return endpoint_errc::empty_host;
    if (!valid_ipv6(inside)) return endpoint_errc::invalid_ipv6;
    ep.host = std::string(inside);
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return endpoint_errc::missing_port;
      port_text = rest.substr(1);
    }
  } else {
    const auto colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos)
      return endpoint_errc::unbracketed_ipv6;
    const auto host = text.substr(0, colon);
    if (host.empty()) return endpoint_errc::empty_host;
    if (!valid_name(host)) return endpoint_errc::invalid_host;
    ep.host = std::string(host);
    if (colon != std::string_view::npos) port_text = text.substr(colon + 1);
  }
  if (!port_text) {
    if (!default_port) return endpoint_errc::missing_port;
    ep.port = *default_port;
    return ep;
  }
  const auto port = parse_port(*port_text);
  if (!port) return endpoint_errc::invalid_port;
  ep.port = *port;
  return ep;
}

boost::system::result<endpoint> parse_redis_address(std::string_view text) {
  text = text.substr(0, text.find(','));
  text = text.substr(0, text.find('@'));
  if (text.empty()) return endpoint_errc::empty;
  // A bracketed form is accepted too, so that endpoint::address() reads back.
  if (text.front() == '[') {
    auto ep = parse_endpoint(text);
    if (!ep && text.starts_with("[]:")) return endpoint_errc::empty_host;
    return ep;
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return endpoint_errc::missing_port;
  const auto port = parse_port(text.substr(colon + 1), true);
  if (!port) return endpoint_errc::invalid_port;
  endpoint ep;
  ep.host = std::string(text.substr(0, colon));
  ep.port = *port;
  return ep;
}

std::string http_url::authority() const {
  const std::string host = ep.host.find(':') != std::string::npos ? "[" + ep.host + "]" : ep.host;
  return explicit_port ? host + ":" + std::to_string(ep.port) : host;
}

boost::system::result<http_url> parse_http_url(std::string_view text) {
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return endpoint_errc::unsupported_scheme;
  auto authority = text.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  authority = authority.substr(authority.find('@') + 1);  // npos + 1 == 0
  if (!authority.starts_with('[') && std::count(authority.begin(), authority.end(), ':') > 1)
    return endpoint_errc::unbracketed_ipv6;
  auto u = urls::parse_uri(text);
  if (!u) return endpoint_errc::invalid_url;
  http_url out;
  if (u->scheme_id() == urls::scheme::https) {
    out.tls = true;
  } else if (u->scheme_id() != urls::scheme::http) {
    return endpoint_errc::unsupported_scheme;
  }
  if (u->has_userinfo() || u->has_query() || u->has_fragment()) return endpoint_errc::url_extras;
  switch (u->host_type()) {
    case urls::host_type::ipv6:
    case urls::host_type::ipv4:
    case urls::host_type::name:
      out.ep.host = u->host_address();
      break;
    default:
      return endpoint_errc::invalid_host;
  }
  if (out.ep.host.empty()) return endpoint_errc::empty_host;
  if (u->has_port()) {
    const auto port = parse_port(u->port());
    if (!port) return endpoint_errc::invalid_port;
    out.ep.port = *port;
    out.explicit_port = true;
  } else {
    out.ep.port = out.tls ? 443 : 80;
  }
  out.path = std::string(u->encoded_path());
  return out;
}

}  // namespace kage
