// The watch-event stream decoder: events split at every byte position, whitespace between
// objects, 410 Expired/Gone, malformed input and the size cap.
#include "k8s_test_util.hpp"

#include <kage/k8s/watch.hpp>

#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace k8s = kage::k8s;
using k8s::watch_event_type;
using k8s_test::errc_name;

namespace {

struct decoded {
  std::vector<k8s::watch_event> events;
  std::string error = "ok";  // errc name of the first error
  bool mid_event = false;
  std::size_t consumed = 0;
};

// Feeds the chunks in order, popping events as they complete, until all bytes are consumed or
// an error stops the decoder.
decoded decode(const std::vector<std::string_view>& chunks, const k8s::watch_limits& limits = {}) {
  decoded out;
  k8s::watch_decoder d(limits);
  for (std::string_view chunk : chunks) {
    while (!chunk.empty()) {
      auto n = d.feed(chunk);
      if (!n) {
        out.error = errc_name(n.error());
        out.mid_event = d.mid_event();
        return out;
      }
      BOOST_REQUIRE(*n > 0 || d.mid_event() || chunk.empty());  // always progress
      out.consumed += *n;
      chunk.remove_prefix(*n);
      if (auto e = d.pop())
        out.events.push_back(std::move(*e));
      else
        BOOST_REQUIRE(chunk.empty());  // no event: everything was consumed
    }
  }
  out.mid_event = d.mid_event();
  return out;
}

decoded decode(std::string_view whole, const k8s::watch_limits& limits = {}) {
  return decode(std::vector<std::string_view>{whole}, limits);
}

const std::string stream =
    R"({"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"redis-0","namespace":"db","resourceVersion":"1001"},"status":{"podIP":"10.0.0.5"}}})"
    "\n"
    R"({"type":"MODIFIED","object":{"kind":"Pod","metadata":{"name":"redis-0","resourceVersion":"1002","labels":{"a":"b \"quoted\" \n \u00e9"}}}})"
    "\n"
    R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"1050","annotations":{"k8s.io/initial-events-end":"true"}}}})"
    "\n"
    R"({"type":"DELETED","object":{"kind":"Pod","metadata":{"name":"redis-0","resourceVersion":"1060"},"spec":{"n":[1,2.5,-3,true,null]}}})"
    "\n"
    R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1001 (1061)","reason":"Expired","code":410}})j"
    "\n";

void check_stream_events(const decoded& d) {
  BOOST_TEST(d.error == "ok");
  BOOST_TEST(!d.mid_event);
  BOOST_REQUIRE_EQUAL(d.events.size(), 5u);
  BOOST_TEST((d.events[0].type == watch_event_type::added));
  BOOST_TEST(d.events[0].resource_version == "1001");
  BOOST_TEST(d.events[0].object.at("metadata").at("name").as_string() == "redis-0");
  BOOST_TEST(d.events[0].object.at("status").at("podIP").as_string() == "10.0.0.5");
  BOOST_TEST(!d.events[0].error);
  BOOST_TEST((d.events[1].type == watch_event_type::modified));
  BOOST_TEST(d.events[1].resource_version == "1002");
  BOOST_TEST(d.events[1].object.at("metadata").at("labels").at("a").as_string() ==
             "b \"quoted\" \n \xc3\xa9");
  BOOST_TEST((d.events[2].type == watch_event_type::bookmark));
  BOOST_TEST(d.events[2].resource_version == "1050");
  BOOST_TEST((d.events[3].type == watch_event_type::deleted));
  BOOST_TEST(d.events[3].resource_version == "1060");
  BOOST_TEST(boost::json::serialize(d.events[3].object.at("spec")) ==
             R"({"n":[1,2.5E0,-3,true,null]})");
  BOOST_TEST((d.events[4].type == watch_event_type::error));
  BOOST_TEST(d.events[4].resource_version == "");
  BOOST_REQUIRE(d.events[4].error);
  BOOST_TEST(d.events[4].error->code == 410);
  BOOST_TEST(d.events[4].error->message == "too old resource version: 1001 (1061)");
  BOOST_TEST(d.events[4].expired());
  for (std::size_t i = 0; i < 4; ++i) BOOST_TEST(!d.events[i].expired());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(k8s_watch)

BOOST_AUTO_TEST_CASE(whole_stream) {
  auto d = decode(stream);
  check_stream_events(d);
  BOOST_TEST(d.consumed == stream.size());
}

BOOST_AUTO_TEST_CASE(every_split_position) {
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    BOOST_TEST_CONTEXT("split at " << split) {
      std::string_view s(stream);
      check_stream_events(decode({s.substr(0, split), s.substr(split)}));
    }
  }
}

BOOST_AUTO_TEST_CASE(every_pair_of_split_positions_in_one_event) {
  const std::string one = R"({"type":"ADDED","object":{"metadata":{"resourceVersion":"7"}}})";
  for (std::size_t a = 0; a <= one.size(); ++a)
    for (std::size_t b = a; b <= one.size(); ++b) {
      std::string_view s(one);
      auto d = decode({s.substr(0, a), s.substr(a, b - a), s.substr(b)});
      BOOST_TEST_CONTEXT("splits at " << a << ", " << b) {
        BOOST_TEST(d.error == "ok");
        BOOST_REQUIRE_EQUAL(d.events.size(), 1u);
        BOOST_TEST(d.events[0].resource_version == "7");
      }
    }
}

BOOST_AUTO_TEST_CASE(byte_by_byte) {
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < stream.size(); ++i)
    bytes.push_back(std::string_view(stream).substr(i, 1));
  check_stream_events(decode(bytes));
}

BOOST_AUTO_TEST_CASE(whitespace_between_objects_is_optional) {
  const std::string s =
      "\r\n\n  "
      R"({"type":"ADDED","object":{"metadata":{"resourceVersion":"1"}}})"
      R"({"type":"ADDED","object":{"metadata":{"resourceVersion":"2"}}})"
      "\r\n\t\n"
      R"( {"type":"ADDED","object":{}} )"
      "\n\n";
  auto d = decode(s);
  BOOST_TEST(d.error == "ok");
  BOOST_REQUIRE_EQUAL(d.events.size(), 3u);
  BOOST_TEST(d.events[0].resource_version == "1");
  BOOST_TEST(d.events[1].resource_version == "2");
  BOOST_TEST(d.events[2].resource_version == "");  // no metadata
  BOOST_TEST(!d.mid_event);
  BOOST_TEST(d.consumed == s.size());
}

BOOST_AUTO_TEST_CASE(feed_waits_for_pop) {
  k8s::watch_decoder d;
  const std::string two = R"({"type":"ADDED","object":{}})"
                          "\n"
                          R"({"type":"DELETED","object":{}})";
  auto n = d.feed(two);
  BOOST_REQUIRE(n);
  BOOST_TEST(*n == two.find('\n') + 1);  // stops after the first object and the space after it
  auto again = d.feed(std::string_view(two).substr(*n));
  BOOST_REQUIRE(again);
  BOOST_TEST(*again == 0u);  // nothing consumed until the event is popped
  auto e = d.pop();
  BOOST_REQUIRE(e);
  BOOST_TEST((e->type == watch_event_type::added));
  BOOST_TEST(!d.pop());
  auto rest = d.feed(std::string_view(two).substr(*n));
  BOOST_REQUIRE(rest);
  BOOST_TEST(*rest == two.size() - *n);
  auto e2 = d.pop();
  BOOST_REQUIRE(e2);
  BOOST_TEST((e2->type == watch_event_type::deleted));
}

BOOST_AUTO_TEST_CASE(error_events) {
  const std::string gone =
      R"({"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"the resourceVersion is too old","reason":"Gone","code":410}})";
  const std::string only_code = R"({"type":"ERROR","object":{"kind":"Status","code":410}})";
  const std::string internal =
      R"({"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"etcd down","reason":"InternalError","code":500}})";
  auto d = decode(gone + "\n" + only_code + "\n" + internal + "\n");
  BOOST_TEST(d.error == "ok");
  BOOST_REQUIRE_EQUAL(d.events.size(), 3u);
  BOOST_TEST(d.events[0].expired());
  BOOST_TEST((d.events[0].error->error() == k8s::api_errc::gone));
  BOOST_TEST(d.events[1].expired());  // no reason: the code decides
  BOOST_TEST(!d.events[2].expired());
  BOOST_TEST((d.events[2].error->error() == k8s::api_errc::internal_error));
  BOOST_TEST(d.events[2].error->message == "etcd down");
}

BOOST_AUTO_TEST_CASE(malformed) {
  struct case_t {
    std::string input;
    std::string error;
  };
  const std::vector<case_t> cases = {
      {"garbage\n", "malformed_json"},
      {"[1,2]\n", "malformed_json"},
      {"\"text\"\n", "malformed_json"},
      {"{\"type\":}\n", "malformed_json"},
      {"{\"type\":\"ADDED\",\"object\":{}}}\n", "malformed_json"},               // stray '}'
      {"{\"type\":\"ADDED\",\"object\":{}},\n", "malformed_json"},               // stray ','
      {"{\"type\":\"ADDED\",\"object\":{\"a\":\"\xff\"}}\n", "malformed_json"},  // not UTF-8
      {"{}\n", "malformed_event"},
      {"{\"object\":{}}\n", "malformed_event"},
      {"{\"type\":\"ADDED\"}\n", "malformed_event"},
      {"{\"type\":\"ADDED\",\"object\":null}\n", "malformed_event"},
      {"{\"type\":\"ADDED\",\"object\":[]}\n", "malformed_event"},
      {"{\"type\":7,\"object\":{}}\n", "malformed_event"},
      {"{\"type\":\"added\",\"object\":{}}\n", "malformed_event"},  // types are upper case
      {"{\"type\":\"SYNC\",\"object\":{}}\n", "malformed_event"},
      {"{\"type\":\"ADDED\",\"object\":{\"metadata\":[]}}\n", "malformed_event"},
      {"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":5}}}\n",
       "malformed_event"},
      {"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Pod\"}}\n", "malformed_event"},
      {"{\"type\":\"ERROR\",\"object\":{\"code\":\"410\"}}\n", "malformed_event"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("input " << c.input) {
      BOOST_TEST(decode(c.input).error == c.error);
      // The same, byte by byte: the error does not depend on how the bytes arrive.
      std::vector<std::string_view> bytes;
      for (std::size_t i = 0; i < c.input.size(); ++i)
        bytes.push_back(std::string_view(c.input).substr(i, 1));
      BOOST_TEST(decode(bytes).error == c.error);
    }
  }
}

BOOST_AUTO_TEST_CASE(errors_are_final) {
  k8s::watch_decoder d;
  BOOST_TEST(!d.feed("nope"));
  auto n = d.feed(R"({"type":"ADDED","object":{}})");
  BOOST_REQUIRE(!n);
  BOOST_TEST(errc_name(n.error()) == "malformed_json");
}

BOOST_AUTO_TEST_CASE(truncated_stream_is_mid_event) {
  const std::string s = R"({"type":"ADDED","object":{}})"
                        "\n"
                        R"({"type":"MODIFIED","obj)";
  auto d = decode(s);
  BOOST_TEST(d.error == "ok");
  BOOST_TEST(d.events.size() == 1u);
  BOOST_TEST(d.mid_event);  // the caller at end of body knows the last event was cut
  BOOST_TEST(!decode("\n\n").mid_event);
}

BOOST_AUTO_TEST_CASE(size_cap) {
  const std::string prefix = R"({"type":"ADDED","object":{"a":")";
  const std::string suffix = R"("}})";
  const std::size_t cap = 200;
  const std::string fits = prefix + std::string(cap - prefix.size() - suffix.size(), 'x') + suffix;
  BOOST_REQUIRE_EQUAL(fits.size(), cap);
  const std::string over =
      prefix + std::string(cap + 1 - prefix.size() - suffix.size(), 'x') + suffix;
  k8s::watch_limits limits;
  limits.max_event_size = cap;

  auto ok = decode(fits + "\n" + fits + "\n", limits);  // the cap is per event, not per stream
  BOOST_TEST(ok.error == "ok");
  BOOST_TEST(ok.events.size() == 2u);

  BOOST_TEST(decode(over, limits).error == "too_large");
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < over.size(); ++i)
    bytes.push_back(std::string_view(over).substr(i, 1));
  BOOST_TEST(decode(bytes, limits).error == "too_large");

  // An object that never ends is cut off at the cap, not buffered: the decoder consumed at
  // most cap bytes before refusing.
  const std::string endless = prefix + std::string(10 * cap, 'y');
  k8s::watch_decoder d(limits);
  std::size_t consumed = 0;
  std::string_view rest(endless);
  boost::system::error_code error;
  while (!rest.empty()) {
    auto n = d.feed(rest.substr(0, 7));
    if (!n) {
      error = n.error();
      break;
    }
    consumed += *n;
    rest.remove_prefix(*n);
  }
  BOOST_TEST(errc_name(error) == "too_large");
  BOOST_TEST(consumed <= cap);
}

BOOST_AUTO_TEST_CASE(default_cap_is_16_mib) {
  BOOST_TEST(k8s::watch_limits{}.max_event_size == std::size_t{16} << 20);
  // A 1 MiB object (a big ConfigMap) is fine with the default.
  const std::string big =
      R"({"type":"ADDED","object":{"data":")" + std::string(1 << 20, 'z') + R"("}})";
  auto d = decode(big);
  BOOST_TEST(d.error == "ok");
  BOOST_TEST(d.events.size() == 1u);
}

BOOST_AUTO_TEST_CASE(nesting_cap) {
  std::string deep = R"({"type":"ADDED","object":)";
  for (int i = 0; i < 100; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 100; ++i) deep += "}";
  deep += "}\n";
  BOOST_TEST(decode(deep).error == "too_large");
  k8s::watch_limits limits;
  limits.max_depth = 200;
  BOOST_TEST(decode(deep, limits).error == "ok");
}

BOOST_AUTO_TEST_CASE(type_names) {
  BOOST_TEST(k8s::to_string(watch_event_type::added) == "ADDED");
  BOOST_TEST(k8s::to_string(watch_event_type::modified) == "MODIFIED");
  BOOST_TEST(k8s::to_string(watch_event_type::deleted) == "DELETED");
  BOOST_TEST(k8s::to_string(watch_event_type::bookmark) == "BOOKMARK");
  BOOST_TEST(k8s::to_string(watch_event_type::error) == "ERROR");
}

BOOST_AUTO_TEST_SUITE_END()
