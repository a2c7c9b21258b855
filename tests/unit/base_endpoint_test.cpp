// The one parser of addresses: HOST:PORT as users write it, Redis's own form, http(s) URLs.
#include <kage/base/endpoint.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

using kage::endpoint;
using kage::endpoint_errc;
using kage::parse_endpoint;
using kage::parse_http_url;
using kage::parse_redis_address;

namespace {

template <class Result>
boost::system::error_code error_of(const Result& r) {
  return r ? boost::system::error_code() : r.error();
}

boost::system::error_code code(endpoint_errc e) {
  return make_error_code(e);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(base_endpoint)

BOOST_AUTO_TEST_CASE(host_and_port) {
  auto ep = parse_endpoint("127.0.0.1:7000");
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->host == "127.0.0.1");
  BOOST_TEST(ep->port == 7000);

  ep = parse_endpoint("[::1]:6379");
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->host == "::1");
  BOOST_TEST(ep->port == 6379);

  ep = parse_endpoint("[::]:9121");
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->host == "::");

  ep = parse_endpoint("redis-0.redis.svc.cluster.local:65535");
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->host == "redis-0.redis.svc.cluster.local");
  BOOST_TEST(ep->port == 65535);

  ep = parse_endpoint("h:1");
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->port == 1);

  ep = parse_endpoint("[fe80::1%eth0]:7001");  // a zone is kept as written
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->host == "fe80::1%eth0");
}

BOOST_AUTO_TEST_CASE(default_port_only_where_the_caller_allows_it) {
  BOOST_TEST(error_of(parse_endpoint("redis")) == code(endpoint_errc::missing_port));
  BOOST_TEST(error_of(parse_endpoint("[::1]")) == code(endpoint_errc::missing_port));
  auto ep = parse_endpoint("redis", 6379);
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->host == "redis");
  BOOST_TEST(ep->port == 6379);
  ep = parse_endpoint("[2001:db8::1]", 6379);
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->host == "2001:db8::1");
  BOOST_TEST(ep->port == 6379);
  ep = parse_endpoint("redis:7000", 6379);  // an explicit port wins
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->port == 7000);
}

BOOST_AUTO_TEST_CASE(each_mistake_has_its_own_error) {
  struct bad {
    std::string_view text;
    endpoint_errc error;
  };
  for (const bad& b : {
           bad{"", endpoint_errc::empty},
           bad{":6379", endpoint_errc::empty_host},
           bad{":", endpoint_errc::empty_host},
           bad{"[]:6379", endpoint_errc::empty_host},
           bad{"host", endpoint_errc::missing_port},
           bad{"[::1]6379", endpoint_errc::missing_port},
           bad{"host:0", endpoint_errc::invalid_port},
           bad{"host:65536", endpoint_errc::invalid_port},
           bad{"host:12ab", endpoint_errc::invalid_port},
           bad{"host:", endpoint_errc::invalid_port},
           bad{"host:-1", endpoint_errc::invalid_port},
           bad{"host:+80", endpoint_errc::invalid_port},
           bad{"host: 80", endpoint_errc::invalid_port},
           bad{"host:99999999999", endpoint_errc::invalid_port},
           bad{"[::1]:", endpoint_errc::invalid_port},
           bad{"::1:7000", endpoint_errc::unbracketed_ipv6},
           bad{"2001:db8::1", endpoint_errc::unbracketed_ipv6},
           bad{"[::1:6379", endpoint_errc::unclosed_bracket},
           bad{"[nope]:6379", endpoint_errc::invalid_ipv6},
           bad{"[127.0.0.1]:6379", endpoint_errc::invalid_ipv6},
           bad{"bad host:6379", endpoint_errc::invalid_host},
           bad{"user@host:6379", endpoint_errc::invalid_host},
           bad{"redis://host:6379", endpoint_errc::url_not_allowed},
       }) {
    BOOST_TEST(error_of(parse_endpoint(b.text)) == code(b.error), "'" << b.text << "'");
  }
}

BOOST_AUTO_TEST_CASE(messages_say_what_to_write) {
  BOOST_TEST(make_error_code(endpoint_errc::unbracketed_ipv6).message() ==
             "write IPv6 addresses in brackets, as in [::1]:7000");
  BOOST_TEST(make_error_code(endpoint_errc::invalid_port).message() ==
             "the port must be a number from 1 to 65535");
  BOOST_TEST(make_error_code(endpoint_errc::missing_port).message() == "no ':PORT'");
  BOOST_TEST(make_error_code(endpoint_errc::empty_host).message() == "no host before the ':'");
}

BOOST_AUTO_TEST_CASE(address_round_trip) {
  for (std::string_view text :
       {"127.0.0.1:7000", "[::1]:6379", "[fe80::1%eth0]:7001", "host-a.example:1"}) {
    auto ep = parse_endpoint(text);
    BOOST_TEST_REQUIRE(ep.has_value(), text);
    BOOST_TEST(ep->address() == text);
    BOOST_TEST((parse_endpoint(ep->address()).value() == *ep));
  }
  const endpoint v6{"2001:db8::7", 6380};
  BOOST_TEST(v6.address() == "[2001:db8::7]:6380");
  BOOST_TEST((parse_endpoint(v6.address()).value() == v6));
  const endpoint v4{"10.1.2.3", 80};
  BOOST_TEST(v4.address() == "10.1.2.3:80");
}

BOOST_AUTO_TEST_CASE(redis_addresses_are_unbracketed) {
  auto ep = parse_redis_address("::1:7000@17000");
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->host == "::1");
  BOOST_TEST(ep->port == 7000);

  ep = parse_redis_address("2001:db8::7:7001@17001,redis-1.example");
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->host == "2001:db8::7");
  BOOST_TEST(ep->port == 7001);

  ep = parse_redis_address("127.0.0.1:6381");  // MOVED 3999 127.0.0.1:6381
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->host == "127.0.0.1");
  BOOST_TEST(ep->port == 6381);

  ep = parse_redis_address("[::1]:6381");  // endpoint::address() reads back
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->host == "::1");

  ep = parse_redis_address(":0@0");  // a node that does not know its address yet
  BOOST_TEST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->host.empty());
  BOOST_TEST(ep->port == 0);

  BOOST_TEST(error_of(parse_redis_address("")) == code(endpoint_errc::empty));
  BOOST_TEST(error_of(parse_redis_address("host")) == code(endpoint_errc::missing_port));
  BOOST_TEST(error_of(parse_redis_address("::1:70000@17000")) == code(endpoint_errc::invalid_port));
  BOOST_TEST(error_of(parse_redis_address("::1:x")) == code(endpoint_errc::invalid_port));
}

BOOST_AUTO_TEST_CASE(http_urls) {
  auto u = parse_http_url("http://[::1]:9000");
  BOOST_TEST_REQUIRE(u.has_value());
  BOOST_TEST(!u->tls);
  BOOST_TEST(u->ep.host == "::1");
  BOOST_TEST(u->ep.port == 9000);
  BOOST_TEST(u->authority() == "[::1]:9000");
  BOOST_TEST(u->path == "");

  u = parse_http_url("https://s3.eu-west-1.amazonaws.com");
  BOOST_TEST_REQUIRE(u.has_value());
  BOOST_TEST(u->tls);
  BOOST_TEST(u->ep.host == "s3.eu-west-1.amazonaws.com");
  BOOST_TEST(u->ep.port == 443);
  BOOST_TEST(!u->explicit_port);
  BOOST_TEST(u->authority() == "s3.eu-west-1.amazonaws.com");

  u = parse_http_url("HTTP://127.0.0.1:5000/base/path");
  BOOST_TEST_REQUIRE(u.has_value());
  BOOST_TEST(u->ep.host == "127.0.0.1");
  BOOST_TEST(u->ep.port == 5000);
  BOOST_TEST(u->authority() == "127.0.0.1:5000");
  BOOST_TEST(u->path == "/base/path");

  u = parse_http_url("http://minio");
  BOOST_TEST_REQUIRE(u.has_value());
  BOOST_TEST(u->ep.port == 80);

  struct bad {
    std::string_view text;
    endpoint_errc error;
  };
  for (const bad& b : {
           bad{"127.0.0.1:9000", endpoint_errc::unsupported_scheme},
           bad{"ftp://host/", endpoint_errc::unsupported_scheme},
           bad{"s3://bucket", endpoint_errc::unsupported_scheme},
           bad{"http://", endpoint_errc::empty_host},
           bad{"http://:9000", endpoint_errc::empty_host},
           bad{"http://host:0", endpoint_errc::invalid_port},
           bad{"http://host:65536", endpoint_errc::invalid_port},
           bad{"http://host:", endpoint_errc::invalid_port},
           bad{"http://::1:9000", endpoint_errc::unbracketed_ipv6},
           bad{"http://[::1:9000", endpoint_errc::invalid_url},
           bad{"http://host name", endpoint_errc::invalid_url},
           bad{"http://user:pw@host", endpoint_errc::url_extras},
           bad{"http://host/?x=1", endpoint_errc::url_extras},
           bad{"http://host/#f", endpoint_errc::url_extras},
       }) {
    BOOST_TEST(error_of(parse_http_url(b.text)) == code(b.error), "'" << b.text << "'");
  }
}

BOOST_AUTO_TEST_SUITE_END()
