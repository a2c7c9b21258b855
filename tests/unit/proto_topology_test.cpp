// Cluster topology parsers (CLUSTER NODES, CLUSTER SHARDS, INFO), RDB versions.
#include <kage/proto/resp.hpp>
#include <kage/proto/topology.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kp = kage::proto;
using kp::reply;
using kp::resp_type;
using kp::slot_range;

namespace kage {  // slot_range's namespace, for argument-dependent lookup
inline std::ostream& operator<<(std::ostream& os, const slot_range& r) {
  return os << r.first << '-' << r.last;
}
}  // namespace kage

namespace {

const std::string M1 = "07c37dfeb235213a872192d90877d0cd55635b91";
const std::string M2 = "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1";
const std::string M3 = "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f";
const std::string R1 = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca";
const std::string R2 = "6ec23923021cf3ffec47632106199cb7f496ce01";
const std::string R3 = "824fe116063bc5fcf9f4ffd895bc17aee7731ac3";

// Redis 7 CLUSTER NODES: 3 masters, 3 replicas (one failing), a node in handshake, slot 93
// already moved to M2 and slot 5460 being migrated, hostnames on two nodes. Lines are not in
// slot order.
std::string cluster_nodes_text() {
  return R1 + " 127.0.0.1:7003@17003 slave " + M1 + " 0 1700000003000 1 connected\n" + M3 +
         " 127.0.0.1:7002@17002 master - 0 1700000002000 3 connected 10922-16383\n" + M2 +
         " 127.0.0.1:7001@17001,host-b master - 0 1700000001000 2 connected 93 5461-10921 "
         "[5460-<-" +
         M1 + "]\n" + R2 + " 127.0.0.1:7004@17004 slave,fail " + M2 +
         " 1700000000000 1700000000000 2 disconnected\n" +
         "1111111111111111111111111111111111111111 127.0.0.1:7006@17006 handshake - 0 0 0 "
         "connected\n" +
         M1 + " 127.0.0.1:7000@17000,host-a myself,master - 0 0 1 connected 0-92 94-5460 [5460->-" +
         M2 + "]\n" + R3 + " 127.0.0.1:7005@17005 slave " + M3 + " 0 1700000005000 3 connected\n";
}

const kp::endpoint queried{"10.0.0.9", 7777};

std::vector<std::string> ids(const std::vector<const kp::node_info*>& nodes) {
  std::vector<std::string> out;
  for (const auto* n : nodes) out.push_back(n->id);
  return out;
}

// --- CLUSTER SHARDS replies, as Redis 7.0 sends them in RESP2 -----------------------------------

reply bulk(std::string s) {
  reply r;
  r.type = resp_type::bulk_string;
  r.value = std::move(s);
  return r;
}

reply integer(std::int64_t v) {
  reply r;
  r.type = resp_type::integer;
  r.value = std::to_string(v);
  return r;
}

reply array(std::vector<reply> elements) {
  reply r;
  r.type = resp_type::array;
  r.elements = std::move(elements);
  return r;
}

struct shard_node {
  std::string id;
  std::int64_t port = 0;
  std::optional<std::int64_t> tls_port;
  std::string ip = "127.0.0.1";
  std::string role = "master";
  std::int64_t offset = 0;
  std::string health = "online";
};

reply node_reply(const shard_node& n) {
  std::vector<reply> e{bulk("id"), bulk(n.id), bulk("port"), integer(n.port)};
  if (n.tls_port) {
    e.push_back(bulk("tls-port"));
    e.push_back(integer(*n.tls_port));
  }
  for (auto* kv : {"ip", "endpoint"}) {
    if (n.ip.empty() && std::string_view(kv) == "ip") continue;
    e.push_back(bulk(kv));
    e.push_back(bulk(n.ip.empty() ? "node.example" : n.ip));
  }
  e.push_back(bulk("role"));
  e.push_back(bulk(n.role));
  e.push_back(bulk("replication-offset"));
  e.push_back(integer(n.offset));
  e.push_back(bulk("health"));
  e.push_back(bulk(n.health));
  return array(std::move(e));
}

reply shard(std::vector<std::int64_t> slots, const std::vector<shard_node>& nodes) {
  std::vector<reply> s;
  for (auto v : slots) s.push_back(integer(v));
  std::vector<reply> n;
  for (const auto& node : nodes) n.push_back(node_reply(node));
  return array({bulk("slots"), array(std::move(s)), bulk("nodes"), array(std::move(n))});
}

reply three_shards() {
  return array({
      shard({0, 5460}, {{M1, 7000, {}, "127.0.0.1", "master", 123456, "online"},
                        {R1, 7003, {}, "127.0.0.1", "replica", 123400, "online"}}),
      // Two ranges, out of order.
      shard({10000, 10921, 5461, 9999}, {{M2, 7001, {}, "127.0.0.2", "master", 999, "online"},
                                         {R2, 7004, {}, "127.0.0.2", "replica", 0, "failed"}}),
      // Replica listed before its master; a replica still loading.
      shard({10922, 16383}, {{R3, 7005, {}, "127.0.0.3", "replica", 0, "loading"},
                             {M3, 7002, {}, "127.0.0.3", "master", 77, "online"}}),
      // A failed master that lost its slots: no slots, not among masters().
      shard({}, {{"deadbeefdeadbeefdeadbeefdeadbeefdeadbeef",
                  7009,
                  {},
                  "127.0.0.4",
                  "master",
                  5,
                  "failed"}}),
  });
}

// RESP2 encoding of a reply tree (integers as ':', strings as bulk, aggregates as '*').
std::string encode(const reply& r) {
  switch (r.type) {
    case resp_type::integer:
      return ":" + r.value + "\r\n";
    case resp_type::array: {
      std::string s = "*" + std::to_string(r.elements.size()) + "\r\n";
      for (const auto& e : r.elements) s += encode(e);
      return s;
    }
    default:
      return "$" + std::to_string(r.value.size()) + "\r\n" + r.value + "\r\n";
  }
}

void check_three_shards(const kp::topology& t) {
  BOOST_TEST(t.cluster);
  BOOST_TEST(t.nodes.size() == 7u);
  BOOST_TEST(ids(t.masters()) == (std::vector<std::string>{M1, M2, M3}),
             boost::test_tools::per_element());
  const kp::node_info* m2 = t.find(M2);
  BOOST_TEST_REQUIRE(m2 != nullptr);
  BOOST_TEST(m2->master);
  BOOST_TEST(m2->ep.host == "127.0.0.2");
  BOOST_TEST(m2->ep.port == 7001);
  BOOST_TEST(m2->slots == (std::vector<slot_range>{{5461, 9999}, {10000, 10921}}),
             boost::test_tools::per_element());
  BOOST_TEST(m2->replication_offset == 999);
  BOOST_TEST(m2->master_id.empty());

  const kp::node_info* r1 = t.find(R1);
  BOOST_TEST_REQUIRE(r1 != nullptr);
  BOOST_TEST(!r1->master);
  BOOST_TEST(r1->master_id == M1);
  BOOST_TEST(r1->slots.empty());
  BOOST_TEST(r1->ep.port == 7003);
  BOOST_TEST(r1->replication_offset == 123400);
  BOOST_TEST(r1->healthy);

  BOOST_TEST(ids(t.replicas_of(M3)) == std::vector<std::string>{R3},
             boost::test_tools::per_element());
  BOOST_TEST(t.find(R3)->master_id == M3);  // although listed before its master
  BOOST_TEST(!t.find(R2)->healthy);         // "failed"
  BOOST_TEST(t.find(M3)->healthy);

  const kp::node_info* dead = t.find("deadbeefdeadbeefdeadbeefdeadbeefdeadbeef");
  BOOST_TEST_REQUIRE(dead != nullptr);
  BOOST_TEST(dead->master);
  BOOST_TEST(dead->slots.empty());
  BOOST_TEST(!dead->healthy);

  const auto owners = t.slot_owners();
  BOOST_TEST(owners[0] == 0);
  BOOST_TEST(owners[5460] == 0);
  BOOST_TEST(owners[5461] == 1);
  BOOST_TEST(owners[9999] == 1);
  BOOST_TEST(owners[10000] == 1);
  BOOST_TEST(owners[10921] == 1);
  BOOST_TEST(owners[10922] == 2);
  BOOST_TEST(owners[16383] == 2);
  BOOST_TEST(t.covers_all_slots());
}

}  // namespace

// =============================================================================================
BOOST_AUTO_TEST_SUITE(proto_topology_cluster_nodes)

BOOST_AUTO_TEST_CASE(parses_a_three_by_three_cluster) {
  auto r = kp::parse_cluster_nodes(cluster_nodes_text(), queried);
  BOOST_TEST_REQUIRE(r.has_value());
  const kp::topology& t = *r;
  BOOST_TEST(t.cluster);
  BOOST_TEST(t.nodes.size() == 6u);  // the handshake node is left out
  BOOST_TEST(t.find("1111111111111111111111111111111111111111") == nullptr);

  const kp::node_info* m1 = t.find(M1);
  BOOST_TEST_REQUIRE(m1 != nullptr);
  BOOST_TEST(m1->master);
  BOOST_TEST(m1->ep.host == "127.0.0.1");  // ",host-a" is not part of the address
  BOOST_TEST(m1->ep.port == 7000);
  BOOST_TEST(m1->master_id.empty());
  BOOST_TEST(m1->healthy);
  BOOST_TEST(m1->replication_offset == -1);
  BOOST_TEST(m1->slots == (std::vector<slot_range>{{0, 92}, {94, 5460}}),
             boost::test_tools::per_element());  // the migrating marker is no slot

  const kp::node_info* m2 = t.find(M2);
  BOOST_TEST_REQUIRE(m2 != nullptr);
  BOOST_TEST(m2->ep.host == "127.0.0.1");
  BOOST_TEST(m2->ep.port == 7001);
  BOOST_TEST(m2->slots == (std::vector<slot_range>{{93, 93}, {5461, 10921}}),
             boost::test_tools::per_element());

  const kp::node_info* r2 = t.find(R2);
  BOOST_TEST_REQUIRE(r2 != nullptr);
  BOOST_TEST(!r2->master);
  BOOST_TEST(r2->master_id == M2);
  BOOST_TEST(!r2->healthy);
  BOOST_TEST(r2->ep.port == 7004);

  for (const auto& id : {M2, M3, R1, R3}) BOOST_TEST(t.find(id)->healthy, id);
}

BOOST_AUTO_TEST_CASE(masters_in_slot_order_and_slot_owners) {
  auto r = kp::parse_cluster_nodes(cluster_nodes_text(), queried);
  BOOST_TEST_REQUIRE(r.has_value());
  const kp::topology& t = *r;
  BOOST_TEST(ids(t.masters()) == (std::vector<std::string>{M1, M2, M3}),
             boost::test_tools::per_element());

  const auto owners = t.slot_owners();
  BOOST_TEST(owners[0] == 0);
  BOOST_TEST(owners[92] == 0);
  BOOST_TEST(owners[93] == 1);  // the single slot
  BOOST_TEST(owners[94] == 0);
  BOOST_TEST(owners[5460] == 0);
  BOOST_TEST(owners[5461] == 1);
  BOOST_TEST(owners[10921] == 1);
  BOOST_TEST(owners[10922] == 2);
  BOOST_TEST(owners[16383] == 2);
  int per_master[3] = {0, 0, 0};
  for (auto o : owners) {
    BOOST_TEST_REQUIRE(o >= 0);
    BOOST_TEST_REQUIRE(o < 3);
    ++per_master[o];
  }
  BOOST_TEST(per_master[0] == 5460);  // 0..5460 without 93
  BOOST_TEST(per_master[1] == 5462);  // 93 and 5461..10921
  BOOST_TEST(per_master[2] == 5462);
  BOOST_TEST(t.covers_all_slots());
}

BOOST_AUTO_TEST_CASE(replicas_of_each_master) {
  auto r = kp::parse_cluster_nodes(cluster_nodes_text(), queried);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(ids(r->replicas_of(M1)) == std::vector<std::string>{R1},
             boost::test_tools::per_element());
  BOOST_TEST(ids(r->replicas_of(M2)) == std::vector<std::string>{R2},
             boost::test_tools::per_element());
  BOOST_TEST(ids(r->replicas_of(M3)) == std::vector<std::string>{R3},
             boost::test_tools::per_element());
  BOOST_TEST(r->replicas_of(R1).empty());
  BOOST_TEST(r->replicas_of("").empty());  // masters have no master_id, but are no replicas
  BOOST_TEST(r->find("nope") == nullptr);
}

BOOST_AUTO_TEST_CASE(uncovered_slots) {
  std::string text = cluster_nodes_text();
  // Drop M3's slots.
  const auto at = text.find(" 10922-16383");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  text.erase(at, std::string_view(" 10922-16383").size());
  auto r = kp::parse_cluster_nodes(text, queried);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(ids(r->masters()) == (std::vector<std::string>{M1, M2}),
             boost::test_tools::per_element());
  const auto owners = r->slot_owners();
  BOOST_TEST(owners[10921] == 1);
  BOOST_TEST(owners[10922] == -1);
  BOOST_TEST(owners[16383] == -1);
  BOOST_TEST(!r->covers_all_slots());
  BOOST_TEST(r->find(M3)->master);  // still a master, just without slots
}

BOOST_AUTO_TEST_CASE(myself_without_an_address_takes_the_queried_one) {
  const std::string text = M1 + " :0@0 myself,master - 0 0 0 connected 0-16383\n" + R1 +
                           " :0@0 noaddr,slave " + M1 + " 0 0 0 disconnected\n";
  auto r = kp::parse_cluster_nodes(text, queried);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST_REQUIRE(r->nodes.size() == 2u);
  const kp::node_info* me = r->find(M1);
  BOOST_TEST(me->ep.host == "10.0.0.9");
  BOOST_TEST(me->ep.port == 7777);
  BOOST_TEST(me->healthy);
  BOOST_TEST(r->covers_all_slots());
  const kp::node_info* other = r->find(R1);  // not myself: left empty, and unhealthy
  BOOST_TEST(other->ep.host.empty());
  BOOST_TEST(other->ep.port == 0);
  BOOST_TEST(!other->healthy);

  // A fresh node knows its port but not its IP yet.
  auto fresh =
      kp::parse_cluster_nodes(M1 + " :6390@16390 myself,master - 0 0 0 connected\n", queried);
  BOOST_TEST_REQUIRE(fresh.has_value());
  BOOST_TEST(fresh->nodes[0].ep.host == "10.0.0.9");
  BOOST_TEST(fresh->nodes[0].ep.port == 6390);
  BOOST_TEST(fresh->masters().empty());
  BOOST_TEST(!fresh->covers_all_slots());
}

BOOST_AUTO_TEST_CASE(flags_and_link_state_decide_health) {
  const std::string text =
      "a000000000000000000000000000000000000000 127.0.0.1:7000@17000 master,fail? - 0 0 1 "
      "connected 0-10\n"
      "a100000000000000000000000000000000000000 127.0.0.1:7001@17001 master - 0 0 2 disconnected "
      "11-20\n"
      "a200000000000000000000000000000000000000 127.0.0.1:7002@17002 master,fail - 0 0 3 "
      "disconnected\n"
      "a300000000000000000000000000000000000000 127.0.0.1:7003@17003 slave,nofailover "
      "a100000000000000000000000000000000000000 0 0 2 connected\n"
      "a400000000000000000000000000000000000000 127.0.0.1:7004@17004 myself,slave "
      "a100000000000000000000000000000000000000 0 0 2 connected\n"
      "a500000000000000000000000000000000000000 127.0.0.1:7005@17005 noflags - 0 0 0 connected\n";
  auto r = kp::parse_cluster_nodes(text, queried);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->nodes.size() == 5u);
  BOOST_TEST(!r->find("a000000000000000000000000000000000000000")->healthy);
  BOOST_TEST(!r->find("a100000000000000000000000000000000000000")->healthy);
  BOOST_TEST(!r->find("a200000000000000000000000000000000000000")->healthy);
  BOOST_TEST(r->find("a300000000000000000000000000000000000000")->healthy);
  BOOST_TEST(r->find("a400000000000000000000000000000000000000")->healthy);
  BOOST_TEST(r->find("a500000000000000000000000000000000000000") == nullptr);
  BOOST_TEST(
      ids(r->masters()) == (std::vector<std::string>{"a000000000000000000000000000000000000000",
                                                     "a100000000000000000000000000000000000000"}),
      boost::test_tools::per_element());
  BOOST_TEST(ids(r->replicas_of("a100000000000000000000000000000000000000")) ==
                 (std::vector<std::string>{"a300000000000000000000000000000000000000",
                                           "a400000000000000000000000000000000000000"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(crlf_lines_and_ipv6_addresses) {
  const std::string text =
      "b000000000000000000000000000000000000000 ::1:7000@17000 myself,master - 0 0 1 connected "
      "0-8191\r\n"
      "b100000000000000000000000000000000000000 ::1:7001@17001 master - 0 0 2 connected "
      "8192-16383\r\n"
      "b200000000000000000000000000000000000000 fe80::1:7002@17002,replica-b.example slave "
      "b000000000000000000000000000000000000000 0 0 1 connected\r\n";
  auto r = kp::parse_cluster_nodes(text, queried);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->find("b000000000000000000000000000000000000000")->ep.host == "::1");
  BOOST_TEST(r->find("b000000000000000000000000000000000000000")->ep.port == 7000);
  BOOST_TEST(r->find("b000000000000000000000000000000000000000")->ep.address() == "[::1]:7000");
  BOOST_TEST(r->find("b200000000000000000000000000000000000000")->ep.host == "fe80::1");
  BOOST_TEST(r->find("b200000000000000000000000000000000000000")->ep.port == 7002);
  BOOST_TEST(r->find("b000000000000000000000000000000000000000")->slots ==
                 (std::vector<slot_range>{{0, 8191}}),
             boost::test_tools::per_element());
  BOOST_TEST(r->covers_all_slots());
}

BOOST_AUTO_TEST_CASE(malformed_lines_are_errors) {
  const std::string ok_line =
      M1 + " 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-16383\n";
  BOOST_TEST_REQUIRE(kp::parse_cluster_nodes(ok_line, queried).has_value());
  const std::vector<std::string> bad = {
      "",                                                               // no nodes at all
      "\n\r\n",                                                         //
      M1 + " 127.0.0.1:7006@17006 handshake - 0 0 0 connected\n",       // only a handshake node
      M1 + " 127.0.0.1:7000@17000 master - 0 0 1\n",                    // 7 fields
      "garbage\n",                                                      //
      M1 + " 127.0.0.1@17000 master - 0 0 1 connected\n",               // no port
      M1 + " 127.0.0.1:70a0@17000 master - 0 0 1 connected\n",          // bad port
      M1 + " 127.0.0.1:65536@17000 master - 0 0 1 connected\n",         //
      M1 + " 127.0.0.1:-1@17000 master - 0 0 1 connected\n",            //
      M1 + " 127.0.0.1:7000@17000 master - 0 0 1 connected 16384\n",    // slot out of range
      M1 + " 127.0.0.1:7000@17000 master - 0 0 1 connected 0-16384\n",  //
      M1 + " 127.0.0.1:7000@17000 master - 0 0 1 connected abc\n",      //
      M1 + " 127.0.0.1:7000@17000 master - 0 0 1 connected 10-5\n",     // reversed range
      M1 + " 127.0.0.1:7000@17000 master - 0 0 1 connected -1\n",       //
      M1 + " 127.0.0.1:7000@17000 master - 0 0 1 connected 5-\n",       //
      M1 + " 127.0.0.1:7000@17000 master - 0 0 1 connected 1-2-3\n",    //
  };
  for (const auto& text : bad) {
    auto r = kp::parse_cluster_nodes(text, queried);
    BOOST_TEST(!r.has_value(), "accepted: " << text);
    if (!r) BOOST_TEST((r.error() == kp::make_error_code(kp::errc::protocol_error)), text);
  }
  // Node ids become object keys and file names: anything but 40 lowercase hex is refused.
  const std::vector<std::string> bad_ids = {
      "../../../../tmp/x 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-16383\n",
      M1.substr(1) + " 127.0.0.1:7000@17000 master - 0 0 1 connected 0-16383\n",  // 39
      M1 + "0 127.0.0.1:7000@17000 master - 0 0 1 connected 0-16383\n",           // 41
      std::string("07C37DFEB235213A872192D90877D0CD55635B91") +
          " 127.0.0.1:7000@17000 master - 0 0 1 connected\n",
      M1.substr(0, 39) + "g 127.0.0.1:7000@17000 master - 0 0 1 connected 0-16383\n",
      R1 + " 127.0.0.1:7003@17003 slave ../" + M1.substr(3) + " 0 0 1 connected\n",  // master
  };
  for (const auto& text : bad_ids) {
    auto r = kp::parse_cluster_nodes(text, queried);
    BOOST_TEST(!r.has_value(), "accepted: " << text);
    if (!r) BOOST_TEST((r.error() == kp::make_error_code(kp::errc::bad_node_id)), text);
  }
  // One bad line spoils the whole text.
  auto r = kp::parse_cluster_nodes(cluster_nodes_text() +
                                       "ffffffffffffffffffffffffffffffffffffffff "
                                       "127.0.0.1:7009@17009 master - 0 0 1 connected 99999\n",
                                   queried);
  BOOST_TEST(!r.has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================================
BOOST_AUTO_TEST_SUITE(proto_topology_cluster_shards)

BOOST_AUTO_TEST_CASE(parses_redis_7_resp2_reply) {
  auto r = kp::parse_cluster_shards(three_shards(), false);
  BOOST_TEST_REQUIRE(r.has_value());
  check_three_shards(*r);
  const kp::node_info* m1 = r->find(M1);
  BOOST_TEST(m1->ep.host == "127.0.0.1");
  BOOST_TEST(m1->ep.port == 7000);
  BOOST_TEST(m1->replication_offset == 123456);
  BOOST_TEST(m1->slots == (std::vector<slot_range>{{0, 5460}}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(wire_bytes_through_parser_and_to_reply) {
  const std::string wire = encode(three_shards());
  std::vector<kp::resp_node> nodes;
  auto consumed = kp::parse_reply(wire, nodes);
  BOOST_TEST_REQUIRE(consumed.has_value());
  BOOST_TEST(*consumed == wire.size());
  auto r = kp::parse_cluster_shards(kp::to_reply(nodes), false);
  BOOST_TEST_REQUIRE(r.has_value());
  check_three_shards(*r);
}

BOOST_AUTO_TEST_CASE(resp3_maps_work_too) {
  reply shards = three_shards();
  for (auto& s : shards.elements) {
    s.type = resp_type::map;
    for (auto& n : s.elements[3].elements) n.type = resp_type::map;
  }
  auto r = kp::parse_cluster_shards(shards, false);
  BOOST_TEST_REQUIRE(r.has_value());
  check_three_shards(*r);
}

BOOST_AUTO_TEST_CASE(health_values) {
  auto r = kp::parse_cluster_shards(three_shards(), false);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->find(M1)->healthy);   // "online"
  BOOST_TEST(!r->find(R2)->healthy);  // "failed"
  BOOST_TEST(r->find(R3)->healthy);   // "loading": Redis 7.0 says so of replicas at offset 0
}

BOOST_AUTO_TEST_CASE(tls_picks_tls_port) {
  const reply shards = array(
      {shard({0, 16383}, {{M1, 7000, 8000, "127.0.0.1", "master", 1, "online"},
                          {R1, 0, 8001, "127.0.0.1", "replica", 1, "online"},       // TLS only
                          {R2, 7002, {}, "127.0.0.1", "replica", 1, "online"}})});  // plain only
  auto tls = kp::parse_cluster_shards(shards, true);
  BOOST_TEST_REQUIRE(tls.has_value());
  BOOST_TEST(tls->find(M1)->ep.port == 8000);
  BOOST_TEST(tls->find(R1)->ep.port == 8001);
  BOOST_TEST(tls->find(R2)->ep.port == 7002);

  auto plain = kp::parse_cluster_shards(shards, false);
  BOOST_TEST_REQUIRE(plain.has_value());
  BOOST_TEST(plain->find(M1)->ep.port == 7000);
  BOOST_TEST(plain->find(R1)->ep.port == 8001);
  BOOST_TEST(plain->find(R2)->ep.port == 7002);
  BOOST_TEST(plain->find(R1)->master_id == M1);
}

BOOST_AUTO_TEST_CASE(endpoint_when_ip_is_missing) {
  const reply shards = array({shard({0, 16383}, {{M1, 7000, {}, "", "master", 1, "online"}})});
  auto r = kp::parse_cluster_shards(shards, false);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->find(M1)->ep.host == "node.example");
}

BOOST_AUTO_TEST_CASE(malformed_replies_are_errors) {
  auto rejects = [](const reply& r, const char* why) {
    auto t = kp::parse_cluster_shards(r, false);
    BOOST_TEST(!t.has_value(), why);
    if (!t) BOOST_TEST((t.error() == kp::make_error_code(kp::errc::protocol_error)), why);
  };
  const shard_node good{M1, 7000, {}, "127.0.0.1", "master", 1, "online"};
  BOOST_TEST_REQUIRE(
      kp::parse_cluster_shards(array({shard({0, 16383}, {good})}), false).has_value());

  reply err;
  err.type = resp_type::error;
  err.value = "ERR unknown subcommand 'SHARDS'";
  rejects(err, "error reply");
  rejects(bulk("slots"), "not an array");
  rejects(array({}), "no shards");
  rejects(array({array({bulk("slots"), array({integer(0), integer(5)})})}), "no nodes");
  rejects(array({array({bulk("nodes"), array({node_reply(good)})})}), "no slots");
  rejects(array({array({bulk("slots"), array({}), bulk("nodes"), bulk("x")})}),
          "nodes not an array");
  rejects(array({shard({0, 16384}, {good})}), "slot 16384");
  rejects(array({shard({-1, 5}, {good})}), "slot -1");
  rejects(array({shard({10, 5}, {good})}), "reversed range");
  rejects(array({array({bulk("slots"), array({bulk("a"), bulk("b")}), bulk("nodes"),
                        array({node_reply(good)})})}),
          "slots not numbers");
  // Node ids become object keys and file names: anything but 40 lowercase hex is refused.
  for (const std::string& id :
       {std::string(), std::string("../../../../tmp/x"), M1.substr(1), M1 + "0"}) {
    shard_node bad_id = good;
    bad_id.id = id;
    auto t = kp::parse_cluster_shards(array({shard({0, 16383}, {bad_id})}), false);
    BOOST_TEST(!t.has_value(), id);
    if (!t) BOOST_TEST((t.error() == kp::make_error_code(kp::errc::bad_node_id)), id);
  }
  shard_node no_port = good;
  no_port.port = 0;
  rejects(array({shard({0, 16383}, {no_port})}), "node without port");
  shard_node big_port = good;
  big_port.port = 70000;
  rejects(array({shard({0, 16383}, {big_port})}), "port 70000");
  shard_node neg_port = good;
  neg_port.port = -7000;
  rejects(array({shard({0, 16383}, {neg_port})}), "port -7000");
}

BOOST_AUTO_TEST_CASE(slot_numbers_beyond_int_are_errors) {
  // Regression (found by this test, fixed): slot numbers are
  // validated after static_cast<int>, so 4294967296 (2^32) wraps to 0 and the shard is
  // accepted as owning slots 0-4 instead of being rejected as a malformed reply.
  const shard_node good{M1, 7000, {}, "127.0.0.1", "master", 1, "online"};
  auto r = kp::parse_cluster_shards(array({shard({4294967296LL, 4294967300LL}, {good})}), false);
  BOOST_TEST(!r.has_value(),
             "slots [4294967296, 4294967300] accepted as "
                 << (r && !r->nodes.empty() && !r->nodes[0].slots.empty() ? r->nodes[0].slots[0]
                                                                          : slot_range{}));
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================================
BOOST_AUTO_TEST_SUITE(proto_topology_info_and_versions)

BOOST_AUTO_TEST_CASE(parse_info_fields) {
  auto f = kp::parse_info("# Server\r\nredis_version:7.0.15\r\nrun_id:abc\r\n");
  BOOST_TEST(f.size() == 2u);
  BOOST_TEST(f["redis_version"] == "7.0.15");
  BOOST_TEST(f["run_id"] == "abc");

  f = kp::parse_info(
      "# Server\r\nredis_version:7.2.4\r\nexecutable:/usr/bin/redis-server\r\nconfig_file:\r\n"
      "\r\n# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\nno colon here\r\n#comment:x\r\n");
  BOOST_TEST(f.size() == 4u);
  BOOST_TEST(f["executable"] == "/usr/bin/redis-server");
  BOOST_TEST(f.count("config_file") == 1u);
  BOOST_TEST(f["config_file"] == "");
  BOOST_TEST(f["db0"] == "keys=3,expires=0,avg_ttl=0");  // split at the first colon only
  BOOST_TEST(kp::parse_info("").empty());
}

BOOST_AUTO_TEST_CASE(rdb_version_for_redis_versions) {
  BOOST_TEST(kp::rdb_version_for("6.2.14") == 9);
  BOOST_TEST(kp::rdb_version_for("6.0.20") == 9);
  BOOST_TEST(kp::rdb_version_for("5.0.14") == 9);
  BOOST_TEST(kp::rdb_version_for("7.0.15") == 10);
  BOOST_TEST(kp::rdb_version_for("7.0.0") == 10);
  BOOST_TEST(kp::rdb_version_for("7.2.4") == 11);
  BOOST_TEST(kp::rdb_version_for("7.2") == 11);
  BOOST_TEST(kp::rdb_version_for("7.4.0") == 12);
  BOOST_TEST(kp::rdb_version_for("8.0.0") == 12);
  BOOST_TEST(kp::rdb_version_for("garbage") == 0);
  BOOST_TEST(kp::rdb_version_for("") == 0);
  BOOST_TEST(kp::rdb_version_for("7") == 0);
  BOOST_TEST(kp::rdb_version_for("7.") == 0);
  BOOST_TEST(kp::rdb_version_for("x.2.4") == 0);
  BOOST_TEST(kp::rdb_version_for("7.x.4") == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================================
BOOST_AUTO_TEST_SUITE(proto_ipv6_topology)

// Redis writes IPv6 addresses unbracketed: the last ':' starts the port.
BOOST_AUTO_TEST_CASE(cluster_nodes_with_ipv6_addresses) {
  const std::string text =
      M1 + " ::1:7000@17000 myself,master - 0 0 1 connected 0-8191\n" + M2 +
      " 2001:db8::7:7001@17001,redis-1.example master - 0 0 2 connected 8192-16383\n" + R1 +
      " ::1:7002@17002 slave " + M1 + " 0 0 1 connected\n";
  auto r = kp::parse_cluster_nodes(text, kp::endpoint{"::1", 7000});
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST_REQUIRE(r->nodes.size() == 3u);
  BOOST_TEST(r->find(M1)->ep.host == "::1");
  BOOST_TEST(r->find(M1)->ep.port == 7000);
  BOOST_TEST(r->find(M1)->ep.address() == "[::1]:7000");
  BOOST_TEST(r->find(M2)->ep.host == "2001:db8::7");
  BOOST_TEST(r->find(M2)->ep.port == 7001);
  BOOST_TEST(r->find(R1)->ep.address() == "[::1]:7002");
  BOOST_TEST(r->covers_all_slots());
}

BOOST_AUTO_TEST_CASE(cluster_nodes_with_a_bad_port_is_refused) {
  BOOST_TEST(!kp::parse_cluster_nodes(M1 + " ::1:70000@17000 myself,master - 0 0 1 connected\n",
                                      kp::endpoint{"::1", 7000}));
  BOOST_TEST(!kp::parse_cluster_nodes(M1 + " nohost@17000 myself,master - 0 0 1 connected\n",
                                      kp::endpoint{"::1", 7000}));
}

BOOST_AUTO_TEST_SUITE_END()
