// CLUSTER NODES lines and the nodes.conf built from them for each node.
#include <kage/proto/cluster_config.hpp>
#include <kage/proto/error.hpp>

#include <boost/test/unit_test.hpp>

#include <sstream>

namespace kp = kage::proto;

namespace {

const std::string a(40, 'a'), b(40, 'b'), c(40, 'c'), d(40, 'd'), h(40, 'e');

// As 127.0.0.1:7000 (node a) sees a 2-master cluster with one replica and a node in handshake.
std::string view_of_a() {
  return a + " 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-8191 [8192->-" + b + "]\n" +
         b + " 127.0.0.1:7001@17001,host-b master - 0 1700000000123 2 connected 8192-16383\n" + c +
         " 127.0.0.1:7002@17002 slave " + a + " 0 1700000000456 1 connected\n" + d +
         " 127.0.0.1:7003@17003 slave,fail? " + b +
         " 1700000000001 1700000000000 2 disconnected\n" + h +
         " 127.0.0.1:7009@17009 handshake - 1700000000002 0 0 disconnected\n";
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(proto_cluster_config)

BOOST_AUTO_TEST_CASE(parses_fields) {
  auto view = kp::parse_cluster_nodes_lines(view_of_a());
  BOOST_TEST_REQUIRE(bool(view));
  BOOST_TEST_REQUIRE(view->size() == 5u);
  const auto& first = (*view)[0];
  BOOST_TEST(first.id == a);
  BOOST_TEST(first.has_flag("myself"));
  BOOST_TEST(first.has_flag("master"));
  BOOST_TEST(first.host() == "127.0.0.1");
  BOOST_TEST(first.port() == 7000);
  BOOST_TEST(first.slots.size() == 2u);
  BOOST_TEST(first.config_epoch == 1u);
  BOOST_TEST((*view)[1].port() == 7001);  // ",hostname" after the bus port
  BOOST_TEST((*view)[1].address == "127.0.0.1:7001@17001,host-b");
  BOOST_TEST((*view)[2].master == a);
  BOOST_TEST((*view)[3].has_flag("fail?"));
  // Lines read back as Redis wrote them.
  const auto original = lines(view_of_a());
  for (std::size_t i = 0; i < view->size(); ++i) BOOST_TEST((*view)[i].text() == original[i]);
}

BOOST_AUTO_TEST_CASE(own_view_keeps_myself_and_drops_handshakes) {
  auto view = kp::parse_cluster_nodes_lines(view_of_a());
  auto conf = kp::make_nodes_conf(*view, a, 7, 7);
  BOOST_TEST_REQUIRE(bool(conf));
  const auto l = lines(*conf);
  BOOST_TEST_REQUIRE(l.size() == 5u);  // 4 nodes (no handshake) + vars
  BOOST_TEST(l[0] == lines(view_of_a())[0]);
  BOOST_TEST(l[4] == "vars currentEpoch 7 lastVoteEpoch 7");
  BOOST_TEST(conf->find(h) == std::string::npos);
  BOOST_TEST(conf->back() == '\n');
}

BOOST_AUTO_TEST_CASE(peer_view_moves_myself) {
  auto view = kp::parse_cluster_nodes_lines(view_of_a());
  auto conf = kp::make_nodes_conf(*view, c, 9, 3);
  BOOST_TEST_REQUIRE(bool(conf));
  const auto l = lines(*conf);
  BOOST_TEST(l[0] ==
             a + " 127.0.0.1:7000@17000 master - 0 0 1 connected 0-8191 [8192->-" + b + "]");
  BOOST_TEST(l[2] == c + " 127.0.0.1:7002@17002 myself,slave " + a + " 0 0 1 connected");
  BOOST_TEST(l.back() == "vars currentEpoch 9 lastVoteEpoch 3");
  std::size_t myself = 0;
  for (const auto& line : l) myself += line.find("myself") != std::string::npos;
  BOOST_TEST(myself == 1u);
}

BOOST_AUTO_TEST_CASE(slot_fields) {
  using kage::proto::parse_slot_field;
  using kind = kage::proto::slot_field::kind;
  auto range = parse_slot_field("0-5460");
  BOOST_TEST_REQUIRE(range.has_value());
  BOOST_TEST((range->state == kind::served));
  BOOST_TEST(range->range.first == 0);
  BOOST_TEST(range->range.last == 5460);
  auto one = parse_slot_field("16383");
  BOOST_TEST_REQUIRE(one.has_value());
  BOOST_TEST(one->range.first == 16383);
  BOOST_TEST(one->range.last == 16383);
  const std::string peer(40, 'b');
  auto out = parse_slot_field("[93->-" + peer + "]");
  BOOST_TEST_REQUIRE(out.has_value());
  BOOST_TEST((out->state == kind::migrating));
  BOOST_TEST(out->range.first == 93);
  BOOST_TEST(out->peer == peer);
  auto in = parse_slot_field("[93-<-" + peer + "]");
  BOOST_TEST_REQUIRE(in.has_value());
  BOOST_TEST((in->state == kind::importing));
  BOOST_TEST(in->peer == peer);
  for (const char* bad :
       {"", "-", "5-", "-5", "16384", "10-3", "x", "[93]", "[93->-", "[x->-a]", "0-16384"}) {
    BOOST_TEST(!parse_slot_field(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(errors) {
  auto view = kp::parse_cluster_nodes_lines(view_of_a());
  BOOST_TEST((kp::make_nodes_conf(*view, std::string(40, 'f'), 1, 1).error() ==
              kp::make_error_code(kp::errc::protocol_error)));
  BOOST_TEST((kp::make_nodes_conf(*view, h, 1, 1).error() ==  // in handshake: not a member yet
              kp::make_error_code(kp::errc::protocol_error)));
  BOOST_TEST(!kp::parse_cluster_nodes_lines("abc 127.0.0.1:1@2 master - 0 0\n"));
  BOOST_TEST(!kp::parse_cluster_nodes_lines(a + " 127.0.0.1:1@2 master - 0 0 x connected\n"));
  // Node ids become object keys and file names: only 40 lowercase hex passes.
  const auto bad_id = kp::make_error_code(kp::errc::bad_node_id);
  BOOST_TEST((kp::parse_cluster_nodes_lines("../../../../tmp/x 127.0.0.1:1@2 master - 0 0 1 "
                                            "connected 0-16383\n")
                  .error() == bad_id));
  BOOST_TEST(
      (kp::parse_cluster_nodes_lines(c + " 127.0.0.1:1@2 slave ../x 0 0 1 connected\n").error() ==
       bad_id));
  BOOST_TEST((kp::parse_cluster_nodes_lines(std::string(40, 'A') + " 127.0.0.1:1@2 master - 0 0 1 "
                                                                   "connected\n")
                  .error() == bad_id));
  BOOST_TEST(kp::valid_node_id(a));
  BOOST_TEST(kp::valid_node_id("0123456789abcdef0123456789abcdef01234567"));
  BOOST_TEST(!kp::valid_node_id(""));
  BOOST_TEST(!kp::valid_node_id(std::string(39, 'a')));
  BOOST_TEST(!kp::valid_node_id(std::string(41, 'a')));
  BOOST_TEST(!kp::valid_node_id(std::string(39, 'a') + "/"));
  auto empty = kp::parse_cluster_nodes_lines("\r\n\n");
  BOOST_TEST_REQUIRE(bool(empty));
  BOOST_TEST(empty->empty());
}

BOOST_AUTO_TEST_SUITE_END()
