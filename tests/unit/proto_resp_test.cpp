// RESP2/RESP3 parser (parse_reply), command encoder, owning replies and to_int64.
#include <kage/proto/error.hpp>
#include <kage/proto/redis_text.hpp>
#include <kage/proto/resp.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kage::proto {
// Boost.Test prints both sides of a failed comparison; found by ADL.
inline std::ostream& operator<<(std::ostream& os, resp_type t) {
  static constexpr const char* names[] = {
      "simple_string", "error",           "integer",     "bulk_string",
      "null",          "array",           "map",         "set",
      "push",          "attribute",       "double_type", "boolean",
      "big_number",    "verbatim_string", "blob_error"};
  const auto i = static_cast<std::size_t>(t);
  return os << (i < std::size(names) ? names[i] : "resp_type(?)");
}
}  // namespace kage::proto

namespace kp = kage::proto;
using kp::errc;
using kp::resp_node;
using kp::resp_type;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

std::string errc_name(const boost::system::error_code& ec) {
  if (ec.category() != kp::proto_category()) return "foreign:" + ec.message();
  switch (static_cast<errc>(ec.value())) {
    case errc::needs_more:
      return "needs_more";
    case errc::protocol_error:
      return "protocol_error";
    case errc::too_large:
      return "too_large";
    case errc::too_deep:
      return "too_deep";
    case errc::timeout:
      return "timeout";
    case errc::closed:
      return "closed";
    case errc::server_error:
      return "server_error";
    case errc::closed_at_hello:
      return "closed_at_hello";
    case errc::bad_node_id:
      return "bad_node_id";
  }
  return "errc(" + std::to_string(ec.value()) + ")";
}

// "ok:<consumed>" or the error's name, so failed checks print something readable.
std::string outcome(const boost::system::result<std::size_t>& r) {
  return r ? "ok:" + std::to_string(*r) : errc_name(r.error());
}

struct parsed {
  std::string result;
  std::vector<resp_node> nodes;
};

parsed parse(std::string_view data, const kp::resp_limits& limits = {}) {
  parsed p;
  p.result = outcome(kp::parse_reply(data, p.nodes, limits));
  return p;
}

std::string ok(std::size_t n) {
  return "ok:" + std::to_string(n);
}

void check_node(const resp_node& n, resp_type type, std::uint32_t depth, std::size_t size,
                std::string_view value) {
  BOOST_TEST(n.type == type);
  BOOST_TEST(n.depth == depth);
  BOOST_TEST(n.size == size);
  BOOST_TEST(n.value == value);
}

// Single-node replies: (bytes, type, value).
void check_scalar(std::string_view data, resp_type type, std::string_view value) {
  BOOST_TEST_CONTEXT("reply " << kp::printable(data)) {
    auto p = parse(data);
    BOOST_TEST(p.result == ok(data.size()));
    BOOST_TEST_REQUIRE(p.nodes.size() == 1u);
    BOOST_TEST(p.nodes[0].type == type);
    BOOST_TEST(p.nodes[0].depth == 0u);
    BOOST_TEST(p.nodes[0].value == value);
  }
}

resp_node dummy() {
  resp_node d;
  d.type = resp_type::simple_string;
  d.depth = 7;
  d.size = 99;
  d.value = "dummy";
  return d;
}

bool is_dummy(const resp_node& n) {
  return n.type == resp_type::simple_string && n.depth == 7 && n.size == 99 && n.value == "dummy";
}

// Checks that nodes[i...] is exactly one well-formed pre-order tree rooted at `depth`.
// Returns the index after the tree, or npos.
std::size_t walk(const std::vector<resp_node>& nodes, std::size_t i, std::uint32_t depth) {
  if (i >= nodes.size() || nodes[i].depth != depth) return std::string::npos;
  const resp_node& n = nodes[i++];
  if (!kp::is_aggregate(n.type)) return i;
  for (std::size_t c = 0; c < n.size; ++c) {
    i = walk(nodes, i, depth + 1);
    if (i == std::string::npos) return i;
  }
  return i;
}

bool well_formed(const std::vector<resp_node>& nodes, std::size_t first) {
  return walk(nodes, first, 0) == nodes.size();
}

std::string nested(int levels, std::string_view leaf = ":1\r\n") {
  std::string s;
  for (int i = 0; i < levels; ++i) s += "*1\r\n";
  s += leaf;
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(proto_resp)

// ---------------------------------------------------------------------------------------------
// RESP2 types

BOOST_AUTO_TEST_CASE(simple_string_and_error) {
  check_scalar("+OK\r\n", resp_type::simple_string, "OK");
  check_scalar("+\r\n", resp_type::simple_string, "");
  check_scalar("+a b\rc\r\n", resp_type::simple_string, "a b\rc");
  check_scalar("-ERR unknown command 'FOO'\r\n", resp_type::error, "ERR unknown command 'FOO'");
  check_scalar("-MOVED 3999 127.0.0.1:6381\r\n", resp_type::error, "MOVED 3999 127.0.0.1:6381");
  auto p = parse("+OK\r\n");
  BOOST_TEST_REQUIRE(p.nodes.size() == 1u);
  BOOST_TEST(p.nodes[0].size == 0u);
}

BOOST_AUTO_TEST_CASE(integers) {
  check_scalar(":0\r\n", resp_type::integer, "0");
  check_scalar(":1000\r\n", resp_type::integer, "1000");
  check_scalar(":-42\r\n", resp_type::integer, "-42");
  check_scalar(":9223372036854775807\r\n", resp_type::integer, "9223372036854775807");
  check_scalar(":-9223372036854775808\r\n", resp_type::integer, "-9223372036854775808");
  BOOST_TEST(parse(":9223372036854775808\r\n").result == "protocol_error");
}

BOOST_AUTO_TEST_CASE(bulk_strings) {
  auto p = parse("$5\r\nhello\r\n");
  BOOST_TEST(p.result == "ok:11");
  BOOST_TEST_REQUIRE(p.nodes.size() == 1u);
  check_node(p.nodes[0], resp_type::bulk_string, 0, 5, "hello");

  p = parse("$0\r\n\r\n");
  BOOST_TEST(p.result == "ok:6");
  BOOST_TEST_REQUIRE(p.nodes.size() == 1u);
  BOOST_TEST(p.nodes[0].type == resp_type::bulk_string);
  BOOST_TEST(p.nodes[0].value.empty());
  BOOST_TEST(p.nodes[0].size == 0u);
}

BOOST_AUTO_TEST_CASE(bulk_string_is_binary_safe) {
  const std::string content = "a\0b\r\nc\xff\r"s;  // NUL, CRLF, 0xff and a lone CR inside
  BOOST_TEST_REQUIRE(content.size() == 8u);
  const std::string data = "$8\r\n" + content + "\r\n";
  auto p = parse(data);
  BOOST_TEST(p.result == ok(data.size()));
  BOOST_TEST_REQUIRE(p.nodes.size() == 1u);
  BOOST_TEST(p.nodes[0].type == resp_type::bulk_string);
  BOOST_TEST(p.nodes[0].value == content);
  BOOST_TEST(p.nodes[0].size == 8u);
  // The view points into the input, not into a copy.
  BOOST_TEST(static_cast<const void*>(p.nodes[0].value.data()) ==
             static_cast<const void*>(data.data() + 4));
}

BOOST_AUTO_TEST_CASE(null_bulk_and_null_array) {
  auto p = parse("$-1\r\n");
  BOOST_TEST(p.result == "ok:5");
  BOOST_TEST_REQUIRE(p.nodes.size() == 1u);
  check_node(p.nodes[0], resp_type::null, 0, 0, "");

  p = parse("*-1\r\n");
  BOOST_TEST(p.result == "ok:5");
  BOOST_TEST_REQUIRE(p.nodes.size() == 1u);
  check_node(p.nodes[0], resp_type::null, 0, 0, "");
}

BOOST_AUTO_TEST_CASE(empty_array) {
  auto p = parse("*0\r\n");
  BOOST_TEST(p.result == "ok:4");
  BOOST_TEST_REQUIRE(p.nodes.size() == 1u);
  check_node(p.nodes[0], resp_type::array, 0, 0, "");
}

BOOST_AUTO_TEST_CASE(nested_arrays) {
  const std::string data = "*4\r\n:1\r\n*2\r\n+a\r\n$-1\r\n*0\r\n*1\r\n*1\r\n$3\r\nxyz\r\n";
  auto p = parse(data);
  BOOST_TEST(p.result == ok(data.size()));
  BOOST_TEST_REQUIRE(p.nodes.size() == 9u);
  check_node(p.nodes[0], resp_type::array, 0, 4, "");
  check_node(p.nodes[1], resp_type::integer, 1, 0, "1");
  check_node(p.nodes[2], resp_type::array, 1, 2, "");
  check_node(p.nodes[3], resp_type::simple_string, 2, 0, "a");
  check_node(p.nodes[4], resp_type::null, 2, 0, "");
  check_node(p.nodes[5], resp_type::array, 1, 0, "");
  check_node(p.nodes[6], resp_type::array, 1, 1, "");
  check_node(p.nodes[7], resp_type::array, 2, 1, "");
  check_node(p.nodes[8], resp_type::bulk_string, 3, 3, "xyz");
  BOOST_TEST(well_formed(p.nodes, 0));
}

BOOST_AUTO_TEST_CASE(inner_aggregate_closes_before_sibling) {
  // The inner array ends after one element; the next element belongs to the outer one.
  auto p = parse("*2\r\n*1\r\n:1\r\n:2\r\n:3\r\n");
  BOOST_TEST(p.result == "ok:16");
  BOOST_TEST_REQUIRE(p.nodes.size() == 4u);
  check_node(p.nodes[0], resp_type::array, 0, 2, "");
  check_node(p.nodes[1], resp_type::array, 1, 1, "");
  check_node(p.nodes[2], resp_type::integer, 2, 0, "1");
  check_node(p.nodes[3], resp_type::integer, 1, 0, "2");
}

// ---------------------------------------------------------------------------------------------
// RESP3 types

BOOST_AUTO_TEST_CASE(resp3_scalars) {
  check_scalar("_\r\n", resp_type::null, "");
  check_scalar("#t\r\n", resp_type::boolean, "t");
  check_scalar("#f\r\n", resp_type::boolean, "f");
  check_scalar(",3.14\r\n", resp_type::double_type, "3.14");
  check_scalar(",-inf\r\n", resp_type::double_type, "-inf");
  check_scalar(",1.5e-10\r\n", resp_type::double_type, "1.5e-10");
  check_scalar("(3492890328409238509324850943850943825024385\r\n", resp_type::big_number,
               "3492890328409238509324850943850943825024385");
  check_scalar("=15\r\ntxt:Some string\r\n", resp_type::verbatim_string, "txt:Some string");
  check_scalar("!21\r\nSYNTAX invalid syntax\r\n", resp_type::blob_error, "SYNTAX invalid syntax");
  check_scalar("=-1\r\n", resp_type::null, "");
}

BOOST_AUTO_TEST_CASE(resp3_set) {
  const std::string data = "~3\r\n+a\r\n:2\r\n$1\r\nc\r\n";
  auto p = parse(data);
  BOOST_TEST(p.result == ok(data.size()));
  BOOST_TEST_REQUIRE(p.nodes.size() == 4u);
  check_node(p.nodes[0], resp_type::set, 0, 3, "");
  check_node(p.nodes[1], resp_type::simple_string, 1, 0, "a");
  check_node(p.nodes[2], resp_type::integer, 1, 0, "2");
  check_node(p.nodes[3], resp_type::bulk_string, 1, 1, "c");
}

BOOST_AUTO_TEST_CASE(resp3_map_size_counts_keys_and_values) {
  const std::string data = "%2\r\n+first\r\n:1\r\n+second\r\n*2\r\n#t\r\n_\r\n";
  auto p = parse(data);
  BOOST_TEST(p.result == ok(data.size()));
  BOOST_TEST_REQUIRE(p.nodes.size() == 7u);
  check_node(p.nodes[0], resp_type::map, 0, 4, "");
  check_node(p.nodes[1], resp_type::simple_string, 1, 0, "first");
  check_node(p.nodes[2], resp_type::integer, 1, 0, "1");
  check_node(p.nodes[3], resp_type::simple_string, 1, 0, "second");
  check_node(p.nodes[4], resp_type::array, 1, 2, "");
  check_node(p.nodes[5], resp_type::boolean, 2, 0, "t");
  check_node(p.nodes[6], resp_type::null, 2, 0, "");

  p = parse("%0\r\n");
  BOOST_TEST(p.result == "ok:4");
  BOOST_TEST_REQUIRE(p.nodes.size() == 1u);
  check_node(p.nodes[0], resp_type::map, 0, 0, "");

  // A map with a single pair: the parser must wait for the value, not stop after the key.
  BOOST_TEST(parse("%1\r\n+k\r\n").result == "needs_more");
}

BOOST_AUTO_TEST_CASE(resp3_push) {
  const std::string data = ">3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n$2\r\nhi\r\n";
  auto p = parse(data);
  BOOST_TEST(p.result == ok(data.size()));
  BOOST_TEST_REQUIRE(p.nodes.size() == 4u);
  check_node(p.nodes[0], resp_type::push, 0, 3, "");
  check_node(p.nodes[1], resp_type::bulk_string, 1, 7, "message");
  check_node(p.nodes[2], resp_type::bulk_string, 1, 4, "chan");
  check_node(p.nodes[3], resp_type::bulk_string, 1, 2, "hi");
}

BOOST_AUTO_TEST_CASE(resp3_null_aggregates) {
  for (std::string_view data : {"~-1\r\n"sv, "%-1\r\n"sv, ">-1\r\n"sv}) {
    BOOST_TEST_CONTEXT(data) {
      auto p = parse(data);
      BOOST_TEST(p.result == "ok:5");
      BOOST_TEST_REQUIRE(p.nodes.size() == 1u);
      check_node(p.nodes[0], resp_type::null, 0, 0, "");
    }
  }
}

BOOST_AUTO_TEST_CASE(is_aggregate_classification) {
  BOOST_TEST(kp::is_aggregate(resp_type::array));
  BOOST_TEST(kp::is_aggregate(resp_type::map));
  BOOST_TEST(kp::is_aggregate(resp_type::set));
  BOOST_TEST(kp::is_aggregate(resp_type::push));
  BOOST_TEST(kp::is_aggregate(resp_type::attribute));
  for (auto t :
       {resp_type::simple_string, resp_type::error, resp_type::integer, resp_type::bulk_string,
        resp_type::null, resp_type::double_type, resp_type::boolean, resp_type::big_number,
        resp_type::verbatim_string, resp_type::blob_error}) {
    BOOST_TEST(!kp::is_aggregate(t), t);
  }
}

// ---------------------------------------------------------------------------------------------
// Incremental input

BOOST_AUTO_TEST_CASE(every_proper_prefix_needs_more_and_restores_out) {
  const std::vector<std::string> replies = {
      "+OK\r\n",
      ":-123\r\n",
      "$5\r\nhello\r\n",
      "$0\r\n\r\n",
      "$-1\r\n",
      "*-1\r\n",
      "*0\r\n",
      "#t\r\n",
      "_\r\n",
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
      "*2\r\n$1\r\n0\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$2\r\n\r\n\r\n",  // a SCAN reply
      "*4\r\n:1\r\n*2\r\n+a\r\n$-1\r\n*0\r\n*1\r\n*1\r\n$3\r\nxyz\r\n",
      "%2\r\n+k1\r\n:1\r\n+k2\r\n~2\r\n,1.5\r\n(12345678901234567890\r\n",
      ">2\r\n=8\r\ntxt:abcd\r\n*1\r\n!3\r\nERR\r\n",
      "*2\r\n$6\r\na\0\r\n\xff\r\r\n-ERR x\r\n"s,
  };
  for (const auto& reply : replies) {
    BOOST_TEST_CONTEXT("reply " << kp::printable(reply)) {
      for (std::size_t k = 0; k < reply.size(); ++k) {
        std::vector<resp_node> out{dummy()};
        const auto r = kp::parse_reply(std::string_view(reply).substr(0, k), out);
        BOOST_TEST(outcome(r) == "needs_more", "prefix of " << k << " bytes");
        BOOST_TEST(out.size() == 1u, "prefix of " << k << " bytes");
        BOOST_TEST(is_dummy(out[0]));
      }
      std::vector<resp_node> out{dummy()};
      const auto r = kp::parse_reply(reply, out);
      BOOST_TEST(outcome(r) == ok(reply.size()));
      BOOST_TEST_REQUIRE(out.size() >= 2u);
      BOOST_TEST(is_dummy(out[0]));
      BOOST_TEST(well_formed(out, 1));
    }
  }
}

BOOST_AUTO_TEST_CASE(two_replies_back_to_back) {
  const std::string data = "*2\r\n+a\r\n:1\r\n$3\r\nfoo\r\n";
  std::vector<resp_node> out;
  auto r = kp::parse_reply(data, out);
  BOOST_TEST(outcome(r) == "ok:12");
  BOOST_TEST(out.size() == 3u);
  // The second reply, appended after the first one's nodes, at depth 0 again.
  r = kp::parse_reply(std::string_view(data).substr(12), out);
  BOOST_TEST(outcome(r) == "ok:9");
  BOOST_TEST_REQUIRE(out.size() == 4u);
  check_node(out[3], resp_type::bulk_string, 0, 3, "foo");
  check_node(out[0], resp_type::array, 0, 2, "");

  // Scalars back to back, and a partial second reply does not disturb the first.
  out.clear();
  BOOST_TEST(outcome(kp::parse_reply("+OK\r\n:5\r\n", out)) == "ok:5");
  BOOST_TEST(outcome(kp::parse_reply("+OK\r\n*2\r\n:1", out)) == "ok:5");
  BOOST_TEST(outcome(kp::parse_reply("$-1\r\n$-1\r\n", out)) == "ok:5");
  BOOST_TEST(outcome(kp::parse_reply("*0\r\n*0\r\n", out)) == "ok:4");
  BOOST_TEST(out.size() == 4u);
}

BOOST_AUTO_TEST_CASE(empty_input_needs_more) {
  std::vector<resp_node> out{dummy()};
  BOOST_TEST(outcome(kp::parse_reply("", out)) == "needs_more");
  BOOST_TEST(out.size() == 1u);
}

// ---------------------------------------------------------------------------------------------
// Protocol errors

BOOST_AUTO_TEST_CASE(protocol_errors) {
  const std::vector<std::string> bad = {
      "?x\r\n",                     // unknown marker
      "x\r\n",                      //
      "\r\n\r\n",                   // a CR is no marker either
      "|1\r\n+a\r\n+b\r\n+OK\r\n",  // RESP3 attributes are never requested
      ":12a\r\n",                   // bad integer
      ":\r\n",                      //
      ": 1\r\n",                    //
      ":+1\r\n",                    //
      ":1.0\r\n",                   //
      "$3\r\nabcd\r\n",             // no CRLF after the bulk
      "$3\r\nabc\n\r",              //
      "$3\r\nabcxx",                // the two bytes after the bulk are there and are not CRLF
      "$-2\r\n",                    // negative length
      "*-2\r\n",                    //
      "%-5\r\n",                    //
      "$\r\n",                      //
      "$abc\r\n",                   //
      "$+3\r\nabc\r\n",             //
      "$ 3\r\nabc\r\n",             //
      "*x\r\n",                     //
      "#x\r\n",                     // boolean other than t/f
      "#\r\n",                      //
      "#tt\r\n",                    //
      "#T\r\n",                     //
      "_x\r\n",                     // RESP3 null with a payload
  };
  for (const auto& data : bad) {
    std::vector<resp_node> out{dummy()};
    BOOST_TEST(outcome(kp::parse_reply(data, out)) == "protocol_error", kp::printable(data));
    BOOST_TEST(out.size() == 1u, kp::printable(data));
  }
}

BOOST_AUTO_TEST_CASE(protocol_error_inside_aggregate_restores_out) {
  std::vector<resp_node> out{dummy()};
  BOOST_TEST(outcome(kp::parse_reply("*3\r\n:1\r\n*1\r\n+ok\r\n:x\r\n", out)) == "protocol_error");
  BOOST_TEST_REQUIRE(out.size() == 1u);
  BOOST_TEST(is_dummy(out[0]));
  BOOST_TEST(outcome(kp::parse_reply("%1\r\n+k\r\n$2\r\nabc\r\n", out)) == "protocol_error");
  BOOST_TEST(out.size() == 1u);
}

// ---------------------------------------------------------------------------------------------
// Limits

BOOST_AUTO_TEST_CASE(bulk_over_max_bulk_is_too_large_from_the_header) {
  kp::resp_limits limits;
  limits.max_bulk = 10;
  BOOST_TEST(parse("$11\r\n", limits).result == "too_large");
  BOOST_TEST(parse("$11\r\n0123", limits).result == "too_large");
  BOOST_TEST(parse("!11\r\n", limits).result == "too_large");
  BOOST_TEST(parse("=11\r\n", limits).result == "too_large");
  BOOST_TEST(parse("$10\r\n", limits).result == "needs_more");
  BOOST_TEST(parse("$10\r\n0123456789\r\n", limits).result == "ok:17");
  BOOST_TEST(parse("*2\r\n$1\r\na\r\n$99\r\n", limits).result == "too_large");

  // Default cap: 512 MiB, Redis's own proto-max-bulk-len.
  BOOST_TEST(parse("$536870913\r\n").result == "too_large");
  BOOST_TEST(parse("$536870912\r\n").result == "needs_more");
  BOOST_TEST(parse("$9223372036854775807\r\n").result == "too_large");
}

BOOST_AUTO_TEST_CASE(line_over_max_line_is_too_large) {
  kp::resp_limits limits;
  limits.max_line = 8;
  BOOST_TEST(parse("+12345678\r\n", limits).result == "ok:11");
  BOOST_TEST(parse("+12345678", limits).result == "needs_more");
  BOOST_TEST(parse("+12345678\r", limits).result == "needs_more");
  BOOST_TEST(parse("+123456789\r\n", limits).result == "too_large");
  BOOST_TEST(parse("+123456789\r", limits).result == "too_large");  // 9 bytes, then no LF
  BOOST_TEST(parse("+123456789x", limits).result == "too_large");
  BOOST_TEST(parse("+" + std::string(100, 'x'), limits).result == "too_large");
  BOOST_TEST(parse("-" + std::string(100, 'x'), limits).result == "too_large");
  BOOST_TEST(parse(":" + std::string(100, '1'), limits).result == "too_large");
  BOOST_TEST(parse("*1\r\n+" + std::string(100, 'x'), limits).result == "too_large");
  // Bulk contents are not lines.
  BOOST_TEST(parse("$20\r\n" + std::string(20, 'x') + "\r\n", limits).result == "ok:27");

  // Default: 64 KiB, without a CRLF in sight.
  BOOST_TEST(parse("+" + std::string(70000, 'x')).result == "too_large");
  BOOST_TEST(parse("+" + std::string(65536, 'x') + "\r\n").result == ok(65539));
}

BOOST_AUTO_TEST_CASE(aggregate_over_max_elements_is_too_large) {
  kp::resp_limits limits;
  limits.max_elements = 4;
  BOOST_TEST(parse("*5\r\n", limits).result == "too_large");
  BOOST_TEST(parse("~5\r\n", limits).result == "too_large");
  BOOST_TEST(parse(">5\r\n", limits).result == "too_large");
  BOOST_TEST(parse("%3\r\n", limits).result == "too_large");  // 6 keys+values
  BOOST_TEST(parse("*4\r\n", limits).result == "needs_more");
  BOOST_TEST(parse("%2\r\n", limits).result == "needs_more");
  BOOST_TEST(parse("*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n", limits).result == "ok:20");
  BOOST_TEST(parse("*1\r\n*5\r\n", limits).result == "too_large");
  BOOST_TEST(parse("*9223372036854775807\r\n").result == "too_large");
  BOOST_TEST(parse("%9223372036854775807\r\n").result == "too_large");
}

BOOST_AUTO_TEST_CASE(nesting_over_max_depth_is_too_deep) {
  kp::resp_limits limits;
  limits.max_depth = 2;
  auto p = parse(nested(2), limits);
  BOOST_TEST(p.result == "ok:12");
  BOOST_TEST_REQUIRE(p.nodes.size() == 3u);
  BOOST_TEST(p.nodes[2].depth == 2u);
  BOOST_TEST(parse(nested(3), limits).result == "too_deep");
  BOOST_TEST(parse("*1\r\n*1\r\n*1\r\n", limits).result == "too_deep");  // before the rest arrives
  BOOST_TEST(parse(nested(2, "*0\r\n"), limits).result == "ok:12");      // empty: nothing nests

  limits.max_depth = 0;
  BOOST_TEST(parse(":1\r\n", limits).result == "ok:4");
  BOOST_TEST(parse("*0\r\n", limits).result == "ok:4");
  BOOST_TEST(parse("*1\r\n:1\r\n", limits).result == "too_deep");
  BOOST_TEST(parse("%1\r\n+a\r\n+b\r\n", limits).result == "too_deep");

  // Default: 32.
  BOOST_TEST(parse(nested(32)).result == ok(32 * 4 + 4));
  BOOST_TEST(parse(nested(33)).result == "too_deep");
}

BOOST_AUTO_TEST_CASE(huge_max_depth_is_capped_without_overflow) {
  kp::resp_limits limits;
  limits.max_depth = 100000;
  auto p = parse(nested(63), limits);
  BOOST_TEST(p.result == ok(63 * 4 + 4));
  BOOST_TEST_REQUIRE(p.nodes.size() == 64u);
  BOOST_TEST(p.nodes.back().depth == 63u);
  BOOST_TEST(parse(nested(64), limits).result == "too_deep");
  BOOST_TEST(parse(nested(1000), limits).result == "too_deep");
}

// ---------------------------------------------------------------------------------------------
// Fuzz: the parser never crashes, and what it accepts is self-consistent.

namespace {

// A random valid reply, with the number of nodes it parses into.
void gen_reply(std::mt19937_64& rng, int depth, std::string& out, std::size_t& nodes) {
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  auto word = [&] {
    static constexpr char chars[] = "abcXYZ019 :-_";
    std::string w;
    for (std::size_t i = pick(6); i > 0; --i) w.push_back(chars[pick(sizeof chars - 1)]);
    return w;
  };
  ++nodes;
  switch (depth >= 4 ? pick(9) : pick(14)) {
    case 0:
      out += "+" + word() + "\r\n";
      return;
    case 1:
      out += "-ERR " + word() + "\r\n";
      return;
    case 2:
      out += ":" + std::to_string(static_cast<std::int64_t>(rng())) + "\r\n";
      return;
    case 3: {
      std::string b;
      for (std::size_t i = pick(8); i > 0; --i) b.push_back(static_cast<char>(rng()));
      out += "$" + std::to_string(b.size()) + "\r\n" + b + "\r\n";
      return;
    }
    case 4:
      out += pick(2) ? "$-1\r\n" : "*-1\r\n";
      return;
    case 5:
      out += pick(2) ? "#t\r\n" : "_\r\n";
      return;
    case 6:
      out += ",-1.25\r\n";
      return;
    case 7:
      out += "(123456789012345678901234567890\r\n";
      return;
    case 8:
      out += "=7\r\ntxt:" + std::string(3, static_cast<char>('a' + pick(26))) + "\r\n";
      return;
    default: {
      static constexpr char markers[] = "*~>%";
      const char m = markers[pick(4)];
      const std::size_t n = pick(4);
      out += m + std::to_string(n) + "\r\n";
      for (std::size_t i = 0; i < (m == '%' ? 2 * n : n); ++i)
        gen_reply(rng, depth + 1, out, nodes);
      return;
    }
  }
}

void mutate(std::mt19937_64& rng, std::string& s) {
  static constexpr char interesting[] = "+-:$*_#,(=~%>!|\r\n0123456789-tfx\0\xff";
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::size_t count = 1 + pick(3);
  for (std::size_t m = 0; m < count; ++m) {
    const char c = pick(2) ? interesting[pick(sizeof interesting - 1)] : static_cast<char>(rng());
    switch (pick(5)) {
      case 0:
        if (!s.empty()) s[pick(s.size())] = c;
        break;
      case 1:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pick(s.size() + 1)), c);
        break;
      case 2:
        if (!s.empty()) s.erase(pick(s.size()), 1 + pick(3));
        break;
      case 3:
        if (!s.empty()) s.resize(pick(s.size()));
        break;
      default:
        if (!s.empty()) {
          const std::size_t at = pick(s.size());
          s.insert(pick(s.size() + 1), s.substr(at, 1 + pick(6)));
        }
        break;
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(deterministic_fuzz) {
  std::mt19937_64 rng(0x6b616765'70726f74ULL);  // fixed seed: failures reproduce
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  static constexpr char alphabet[] = "+-:$*_#,(=~%>!\r\n\r\n0123456789-1tfab";
  std::size_t failures = 0, accepted = 0, generated_ok = 0;
  std::string first_failure;
  auto fail = [&](const std::string& what, const std::string& data) {
    if (failures++ == 0) first_failure = what + " on " + kp::printable(data, 400);
  };
  for (int iter = 0; iter < 20000; ++iter) {
    std::string data;
    std::size_t expected_nodes = 0;
    bool valid = false;
    switch (iter % 4) {
      case 0:  // random bytes from RESP's own alphabet
        for (std::size_t i = pick(40); i > 0; --i)
          data.push_back(alphabet[pick(sizeof alphabet - 1)]);
        break;
      case 1:  // random bytes
        for (std::size_t i = pick(40); i > 0; --i) data.push_back(static_cast<char>(rng()));
        break;
      case 2:  // a valid reply, exactly
        gen_reply(rng, 0, data, expected_nodes);
        valid = true;
        break;
      default:  // a valid reply, mutated
        gen_reply(rng, 0, data, expected_nodes);
        mutate(rng, data);
        break;
    }
    kp::resp_limits limits;
    if (!valid && pick(4) == 0) {  // tight limits exercise the too_large / too_deep paths
      limits.max_bulk = pick(8);
      limits.max_line = pick(12);
      limits.max_elements = pick(5);
      limits.max_depth = static_cast<std::uint32_t>(pick(4));
    }
    std::vector<resp_node> out{dummy()};
    const auto r = kp::parse_reply(data, out, limits);
    if (valid) {
      if (!r || *r != data.size()) fail("valid reply not parsed whole: " + outcome(r), data);
      if (out.size() != 1 + expected_nodes) fail("valid reply node count", data);
      if (r) ++generated_ok;
    }
    if (!is_dummy(out[0])) fail("earlier node changed", data);
    if (!r) {
      const auto name = errc_name(r.error());
      if (name != "needs_more" && name != "protocol_error" && name != "too_large" &&
          name != "too_deep") {
        fail("unexpected error " + name, data);
      }
      if (out.size() != 1) fail("out not restored after " + name, data);
      continue;
    }
    ++accepted;
    const std::size_t n = *r;
    if (n == 0 || n > data.size()) fail("consumed " + std::to_string(n), data);
    if (!well_formed(out, 1)) fail("malformed node tree", data);
    for (std::size_t i = 1; i < out.size(); ++i) {
      const auto& v = out[i].value;
      if (!v.empty() && (v.data() < data.data() || v.data() + v.size() > data.data() + n)) {
        fail("node value outside the consumed bytes", data);
      }
    }
    // Same answer on exactly the consumed bytes, and on them plus trailing garbage; every proper
    // prefix is incomplete.
    const std::string_view used = std::string_view(data).substr(0, std::min(n, data.size()));
    std::vector<resp_node> again;
    if (outcome(kp::parse_reply(used, again, limits)) != ok(n) || again.size() != out.size() - 1) {
      fail("not reproducible on the consumed prefix", data);
    }
    for (std::size_t k = 0; k < used.size() && used.size() <= 4096; ++k) {
      std::vector<resp_node> part;
      if (outcome(kp::parse_reply(used.substr(0, k), part, limits)) != "needs_more" ||
          !part.empty()) {
        fail("proper prefix of " + std::to_string(k) + " bytes is not needs_more", data);
        break;
      }
    }
  }
  BOOST_TEST(failures == 0u, first_failure);
  BOOST_TEST(generated_ok == 5000u);
  BOOST_TEST(accepted > 5000u);  // the loop did exercise the success path beyond generated input
}

// ---------------------------------------------------------------------------------------------
// Encoder

BOOST_AUTO_TEST_CASE(append_command_exact_bytes) {
  std::string out;
  kp::append_command(out, {"SET", "k", "v"});
  BOOST_TEST(out == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");

  // Appends; never clears.
  kp::append_command(out, {"PING"});
  BOOST_TEST(out == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nPING\r\n");
}

BOOST_AUTO_TEST_CASE(append_command_binary_and_empty_args) {
  const std::string key = "a\0\r\n\xff"s;
  std::string out;
  kp::append_command(out, {"GET", key, ""});
  BOOST_TEST(out == "*3\r\n$3\r\nGET\r\n$5\r\na\0\r\n\xff\r\n$0\r\n\r\n"s);

  std::vector<std::string_view> args(12, "x");
  std::string longer(1234, 'z');
  args.push_back(longer);
  out.clear();
  kp::append_command(out, args);
  BOOST_TEST(out.substr(0, 12) == "*13\r\n$1\r\nx\r\n");
  BOOST_TEST(out.substr(out.size() - 1234 - 9) == "$1234\r\n" + longer + "\r\n");

  out.clear();
  kp::append_command(out, std::span<const std::string_view>{});
  BOOST_TEST(out == "*0\r\n");
}

BOOST_AUTO_TEST_CASE(append_command_round_trips_through_the_parser) {
  const std::string key = "k\0\r\n"s;
  std::string wire;
  kp::append_command(wire, {"RESTORE", key, "0", std::string_view("\x00\xff\r\n", 4), "REPLACE"});
  std::vector<resp_node> out;
  BOOST_TEST(outcome(kp::parse_reply(wire, out)) == ok(wire.size()));
  BOOST_TEST_REQUIRE(out.size() == 6u);
  check_node(out[0], resp_type::array, 0, 5, "");
  BOOST_TEST(out[1].value == "RESTORE");
  BOOST_TEST(out[2].value == key);
  BOOST_TEST(out[3].value == "0");
  BOOST_TEST(out[4].value == std::string_view("\x00\xff\r\n", 4));
  BOOST_TEST(out[5].value == "REPLACE");
}

// ---------------------------------------------------------------------------------------------
// Owning replies

BOOST_AUTO_TEST_CASE(to_reply_builds_the_tree_and_owns_it) {
  std::string data =
      "*3\r\n"
      "*5\r\n$2\r\nid\r\n$3\r\nabc\r\n$4\r\nport\r\n:7000\r\n$6\r\ndangle\r\n"
      "%2\r\n+k\r\n*1\r\n$1\r\nv\r\n+n\r\n_\r\n"
      "-ERR oops\r\n";
  std::vector<resp_node> nodes;
  BOOST_TEST(outcome(kp::parse_reply(data, nodes)) == ok(data.size()));
  const kp::reply r = kp::to_reply(nodes);
  std::fill(data.begin(), data.end(), '#');  // the reply must not point into the buffer

  BOOST_TEST(r.type == resp_type::array);
  BOOST_TEST_REQUIRE(r.elements.size() == 3u);

  const kp::reply& flat = r.elements[0];
  BOOST_TEST(flat.type == resp_type::array);
  BOOST_TEST_REQUIRE(flat.elements.size() == 5u);
  BOOST_TEST(flat.elements[1].value == "abc");
  BOOST_TEST(flat.elements[1].is_string());
  const kp::reply* port = flat.find("port");
  BOOST_TEST_REQUIRE(port != nullptr);
  BOOST_TEST(port->type == resp_type::integer);
  BOOST_TEST(port->value == "7000");
  BOOST_TEST_REQUIRE(flat.find("id") != nullptr);
  BOOST_TEST(flat.find("id")->value == "abc");
  BOOST_TEST(flat.find("abc") == nullptr);  // values are not keys
  BOOST_TEST(flat.find("7000") == nullptr);
  BOOST_TEST(flat.find("dangle") == nullptr);  // a trailing key without a value
  BOOST_TEST(flat.find("missing") == nullptr);

  const kp::reply& map = r.elements[1];
  BOOST_TEST(map.type == resp_type::map);
  BOOST_TEST_REQUIRE(map.elements.size() == 4u);
  const kp::reply* k = map.find("k");
  BOOST_TEST_REQUIRE(k != nullptr);
  BOOST_TEST(k->type == resp_type::array);
  BOOST_TEST_REQUIRE(k->elements.size() == 1u);
  BOOST_TEST(k->elements[0].value == "v");
  BOOST_TEST_REQUIRE(map.find("n") != nullptr);
  BOOST_TEST(map.find("n")->is_null());

  const kp::reply& err = r.elements[2];
  BOOST_TEST(err.is_error());
  BOOST_TEST(!err.is_string());
  BOOST_TEST(err.value == "ERR oops");
}

BOOST_AUTO_TEST_CASE(reply_predicates) {
  kp::reply r;
  BOOST_TEST(r.is_null());
  BOOST_TEST(kp::to_reply({}).is_null());
  r.type = resp_type::blob_error;
  BOOST_TEST(r.is_error());
  for (auto t : {resp_type::simple_string, resp_type::bulk_string, resp_type::verbatim_string}) {
    r.type = t;
    BOOST_TEST(r.is_string(), t);
    BOOST_TEST(!r.is_error(), t);
  }
  for (auto t : {resp_type::integer, resp_type::null, resp_type::array, resp_type::error}) {
    r.type = t;
    BOOST_TEST(!r.is_string(), t);
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers

BOOST_AUTO_TEST_CASE(to_int64_accepts_exact_integers) {
  std::int64_t v = 42;
  BOOST_TEST(kp::to_int64("0", v));
  BOOST_TEST(v == 0);
  BOOST_TEST(kp::to_int64("-5", v));
  BOOST_TEST(v == -5);
  BOOST_TEST(kp::to_int64("9223372036854775807", v));
  BOOST_TEST(v == INT64_MAX);
  BOOST_TEST(kp::to_int64("-9223372036854775808", v));
  BOOST_TEST(v == INT64_MIN);
  BOOST_TEST(kp::to_int64("007", v));
  BOOST_TEST(v == 7);
}

BOOST_AUTO_TEST_CASE(to_int64_rejects_everything_else) {
  for (std::string_view text : {""sv, "+1"sv, "1.5"sv, "99999999999999999999"sv,
                                "9223372036854775808"sv, "-9223372036854775809"sv, "-"sv, " 1"sv,
                                "1 "sv, "0x10"sv, "1e3"sv, "abc"sv, "--1"sv, "1\0"sv}) {
    std::int64_t v = 0;
    BOOST_TEST(!kp::to_int64(text, v), kp::printable(text));
  }
}

// ---------------------------------------------------------------------------------------------
// reply_parser: the resumable parser the connection uses (issue 14: a reply arriving in small
// chunks was parsed from its start on every read, 17.7 s of CPU for a 16 MB reply).

BOOST_AUTO_TEST_CASE(reply_parser_keeps_the_elements_it_has_read) {
  kp::reply_parser p;
  const std::string wire = "*3\r\n:1\r\n$2\r\nab\r\n:3\r\n";
  auto r = p.parse(std::string_view(wire).substr(0, wire.size() - 2));
  BOOST_REQUIRE(!r);
  BOOST_TEST((r.error() == errc::needs_more));
  // The array header and its first two elements are parsed once and kept.
  BOOST_TEST(p.nodes().size() == 3u);
  r = p.parse(wire);
  BOOST_REQUIRE(r);
  BOOST_TEST(*r == wire.size());
  BOOST_REQUIRE(p.nodes().size() == 4u);
  BOOST_TEST(p.nodes()[2].value == "ab");
  BOOST_TEST(p.nodes()[3].value == "3");
}

BOOST_AUTO_TEST_CASE(reply_parser_byte_by_byte_in_a_moving_buffer_matches_parse_reply) {
  std::string wire = "*3\r\n%1\r\n+key\r\n*2\r\n$5\r\nhello\r\n$0\r\n\r\n_\r\n";
  wire += "$300\r\n" + std::string(300, 'v') + "\r\n";
  std::vector<resp_node> expected;
  BOOST_REQUIRE(kp::parse_reply(wire, expected));
  kp::reply_parser p;
  std::size_t calls = 0;
  for (std::size_t have = 1; have <= wire.size(); ++have) {
    // A fresh copy each time: the views of earlier calls point into freed memory.
    const auto copy = std::make_unique<std::string>(wire.substr(0, have));
    auto r = p.parse(*copy);
    ++calls;
    if (have < wire.size()) {
      BOOST_REQUIRE(!r);
      BOOST_REQUIRE((r.error() == errc::needs_more));
      continue;
    }
    BOOST_REQUIRE(r);
    BOOST_TEST(*r == wire.size());
    BOOST_REQUIRE(p.nodes().size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      BOOST_TEST(p.nodes()[i].type == expected[i].type);
      BOOST_TEST(p.nodes()[i].depth == expected[i].depth);
      BOOST_TEST(p.nodes()[i].size == expected[i].size);
      BOOST_TEST(p.nodes()[i].value == expected[i].value);
      if (!p.nodes()[i].value.empty()) {
        BOOST_TEST((p.nodes()[i].value.data() >= copy->data() &&
                    p.nodes()[i].value.data() < copy->data() + copy->size()));
      }
    }
  }
  BOOST_TEST(calls == wire.size());
}

BOOST_AUTO_TEST_CASE(reply_parser_large_reply_in_small_chunks_is_linear) {
  // 200,000 elements in 16-byte chunks: about 200,000 calls. Parsed from the start each time
  // this took minutes; resumed, each call looks at its new bytes only.
  std::string wire = "*200000\r\n";
  for (int i = 0; i < 200000; ++i) wire += "$3\r\nk" + std::to_string(i % 90 + 10) + "\r\n";
  kp::reply_parser p;
  boost::system::result<std::size_t> r = std::size_t{0};
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t have = 16;; have = std::min(have + 16, wire.size())) {
    r = p.parse(std::string_view(wire).substr(0, have));
    if (r || r.error() != errc::needs_more || have == wire.size()) break;
  }
  BOOST_REQUIRE(r);
  BOOST_TEST(*r == wire.size());
  BOOST_TEST(p.nodes().size() == 200001u);
  // Generous even under sanitizers; quadratic re-parsing needs about 10^11 steps here.
  BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(20)));
}

BOOST_AUTO_TEST_CASE(reply_parser_error_resets_and_reset_starts_a_new_reply) {
  kp::reply_parser p;
  auto r = p.parse("*2\r\n:1\r\n?\r\n");
  BOOST_REQUIRE(!r);
  BOOST_TEST((r.error() == errc::protocol_error));
  BOOST_TEST(p.nodes().empty());
  r = p.parse("+OK\r\n");
  BOOST_REQUIRE(r);
  BOOST_TEST(p.nodes().size() == 1u);
  p.reset();
  r = p.parse(":7\r\n");
  BOOST_REQUIRE(r);
  BOOST_REQUIRE(p.nodes().size() == 1u);
  BOOST_TEST(p.nodes()[0].value == "7");
}

// ---------------------------------------------------------------------------------------------
// Error codes

BOOST_AUTO_TEST_CASE(error_category) {
  BOOST_TEST(std::string(kp::proto_category().name()) == "kage.proto");
  const boost::system::error_code ec = errc::too_large;  // implicit, via is_error_code_enum
  BOOST_TEST(ec.value() == 3);
  BOOST_TEST((ec.category() == kp::proto_category()));
  BOOST_TEST((ec == errc::too_large));
  BOOST_TEST((ec != errc::too_deep));
  for (auto e : {errc::needs_more, errc::protocol_error, errc::too_large, errc::too_deep,
                 errc::timeout, errc::closed}) {
    const auto m = kp::make_error_code(e).message();
    BOOST_TEST(!m.empty());
    BOOST_TEST(m != kp::proto_category().message(999));
  }
  BOOST_TEST(kp::make_error_code(errc::needs_more).value() == 1);
}

BOOST_AUTO_TEST_SUITE_END()
