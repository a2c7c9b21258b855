// The node id of a nodes.conf: its "myself" line, whatever the flags around it.
#include <kage/engine/pod_files.hpp>

#include <boost/test/unit_test.hpp>

using kage::engine::nodes_conf_node_id;

BOOST_AUTO_TEST_CASE(nodes_conf_node_id_reads_the_myself_line) {
  const std::string a(40, 'a'), b(40, 'b');
  const std::string conf = a +
                           " 10.0.0.1:6379@16379 master - 0 1700000000000 1 connected 0-5460\n" +
                           b + " 10.0.0.2:6379@16379,redis-1.redis myself,slave " + a +
                           " 0 1700000000000 1 connected\nvars currentEpoch 6 lastVoteEpoch 0\n";
  BOOST_TEST(nodes_conf_node_id(conf) == b);
  BOOST_TEST(nodes_conf_node_id(b + " :0@0 myself,master - 0 0 0 connected") == b);
  BOOST_TEST(nodes_conf_node_id("vars currentEpoch 0 lastVoteEpoch 0\n") == "");
  BOOST_TEST(nodes_conf_node_id("") == "");
  BOOST_TEST(nodes_conf_node_id(a + " 10.0.0.1:6379@16379 notmyself,master -\n") == "");
  BOOST_TEST(kage::engine::pod_file_name("redis-0") == "pods/redis-0.nodes.conf");
}
