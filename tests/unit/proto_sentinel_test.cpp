// Sentinel replies (GET-MASTER-ADDR-BY-NAME, REPLICAS), replica health and whom to believe.
#include <kage/proto/resp.hpp>
#include <kage/proto/sentinel.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace kp = kage::proto;

namespace {

kp::reply parse(const std::string& bytes) {
  std::vector<kp::resp_node> nodes;
  auto n = kp::parse_reply(bytes, nodes);
  BOOST_TEST_REQUIRE(n.has_value());
  BOOST_TEST_REQUIRE(*n == bytes.size());
  return kp::to_reply(nodes);
}

std::string bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

std::string flat(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out = "*" + std::to_string(fields.size() * 2) + "\r\n";
  for (const auto& [k, v] : fields) out += bulk(k) + bulk(v);
  return out;
}

std::string replica(const std::string& ip, const std::string& port, const std::string& flags,
                    const std::string& down_ms, const std::string& link = "ok") {
  return flat({{"name", ip + ":" + port},
               {"ip", ip},
               {"port", port},
               {"runid", "abc"},
               {"flags", flags},
               {"master-link-down-time", down_ms},
               {"master-link-status", link},
               {"slave-repl-offset", "1234"}});
}

kp::endpoint ep(const std::string& host, std::uint16_t port) {
  return kp::endpoint{host, port};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sentinel)

BOOST_AUTO_TEST_CASE(master_address) {
  auto a = kp::parse_master_addr(parse("*2\r\n" + bulk("127.0.0.2") + bulk("6380")));
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST_REQUIRE(a->has_value());
  BOOST_TEST((**a == ep("127.0.0.2", 6380)));
  // Unknown name: a null array (RESP2) or a null (RESP3).
  for (const char* null : {"*-1\r\n", "_\r\n"}) {
    auto n = kp::parse_master_addr(parse(null));
    BOOST_TEST_REQUIRE(n.has_value());
    BOOST_TEST(!n->has_value());
  }
  for (const std::string& bad : {"*1\r\n" + bulk("h"), "*2\r\n" + bulk("h") + bulk("port"),
                                 "*2\r\n" + bulk("h") + bulk("70000"),
                                 "*2\r\n" + bulk("") + bulk("1"), std::string(":1\r\n")}) {
    auto r = kp::parse_master_addr(parse(bad));
    BOOST_TEST(!r.has_value(), bad);
    if (!r) BOOST_TEST((r.error() == kp::sentinel_errc::bad_reply));
  }
}

BOOST_AUTO_TEST_CASE(replicas_and_their_health) {
  const std::string text = "*4\r\n" + replica("127.0.0.2", "7001", "slave", "0") +
                           replica("127.0.0.3", "7002", "s_down,slave,disconnected", "0") +
                           replica("127.0.0.4", "7003", "slave", "60000") +
                           replica("127.0.0.5", "7004", "slave", "0", "err");
  auto r = kp::parse_sentinel_replicas(parse(text));
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST_REQUIRE(r->size() == 4u);
  BOOST_TEST(((*r)[0].ep == ep("127.0.0.2", 7001)));
  BOOST_TEST((*r)[0].replication_offset == 1234);
  BOOST_TEST((*r)[2].master_link_down_ms == 60000);
  BOOST_TEST(kp::usable_replica((*r)[0], 10000));
  BOOST_TEST(!kp::usable_replica((*r)[1], 10000));  // s_down, disconnected
  BOOST_TEST(!kp::usable_replica((*r)[2], 10000));  // link down a minute
  BOOST_TEST(kp::usable_replica((*r)[2], 120000));
  BOOST_TEST(!kp::usable_replica((*r)[3], 10000));  // link status err
  kp::sentinel_replica o_down;
  o_down.flags = "slave,o_down";
  BOOST_TEST(!kp::usable_replica(o_down, 10000));
  kp::sentinel_replica similar;
  similar.flags = "slave,s_downish";  // whole flags only
  BOOST_TEST(kp::usable_replica(similar, 10000));

  auto empty = kp::parse_sentinel_replicas(parse("*0\r\n"));
  BOOST_TEST_REQUIRE(empty.has_value());
  BOOST_TEST(empty->empty());
  BOOST_TEST(!kp::parse_sentinel_replicas(parse(":3\r\n")).has_value());
  BOOST_TEST(!kp::parse_sentinel_replicas(parse("*1\r\n" + flat({{"ip", "h"}}))).has_value());
  BOOST_TEST(!kp::parse_sentinel_replicas(parse("*1\r\n" + replica("h", "1", "slave", "soon")))
                  .has_value());
}

BOOST_AUTO_TEST_CASE(the_majority_is_believed) {
  const auto a = ep("127.0.0.1", 7000), b = ep("127.0.0.2", 7001);
  BOOST_TEST(!kp::vote_primary({}).has_value());

  auto one = kp::vote_primary({a});
  BOOST_TEST_REQUIRE(one.has_value());
  BOOST_TEST((one->primary == a));
  BOOST_TEST(one->dissenters.empty());

  // The first sentinel names a stale primary; the two others outvote it.
  auto v = kp::vote_primary({a, b, b});
  BOOST_TEST_REQUIRE(v.has_value());
  BOOST_TEST((v->primary == b));
  BOOST_TEST(v->votes == 2u);
  BOOST_TEST(v->answers == 3u);
  BOOST_TEST(v->dissenters == std::vector<std::size_t>{0});

  // A tie goes to the first named; the caller sees no majority (votes * 2 <= answers).
  auto tie = kp::vote_primary({a, b});
  BOOST_TEST_REQUIRE(tie.has_value());
  BOOST_TEST((tie->primary == a));
  BOOST_TEST(tie->votes * 2 <= tie->answers);
}

BOOST_AUTO_TEST_CASE(error_messages) {
  for (int e = 1; e <= static_cast<int>(kp::sentinel_errc::primary_lost); ++e) {
    auto ec = kp::make_error_code(static_cast<kp::sentinel_errc>(e));
    BOOST_TEST(!ec.message().empty());
    BOOST_TEST(ec.message().find("Unknown") == std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
