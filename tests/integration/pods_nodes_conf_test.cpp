// `kage backup --pods` and `kage snapshot --pods` from the command line: every pod's nodes.conf,
// read by exec through the fake API server, lands in the backup byte for byte with its SHA-256
// and node id. The "pods" are the nodes of a real cluster: each pod's exec directory is its
// redis-server's directory, and NODECONF_FILE_PATH names the file relative to it.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "fixture_kube.hpp"
#include "fixture_redis.hpp"

#include <kage/storage/sha256.hpp>

#include <filesystem>

using namespace kage::test;

namespace {

struct cluster_in_pods {
  redis_cluster cluster{3, 1};
  fake_kube kube;
  std::string kubeconfig = kube.write_kubeconfig("kubeconfig", R"("token": "test-token")");
  temp_dir empty_pod{"empty-pod"};  // a pod whose Redis has no nodes.conf (yet)

  cluster_in_pods() {
    int i = 0;
    for (auto* n : cluster.nodes()) {
      kube.control("add_pod", R"({"name": "redis-)" + std::to_string(i++) +
                                  R"(", "labels": {"app": "redis"}, "podIP": ")" + n->host() +
                                  R"(", "dir": ")" + n->dir() + R"("})");
    }
    kube.control("add_pod", R"({"name": "redis-9", "labels": {"app": "redis"}, "dir": ")" +
                                empty_pod.path() + R"("})");
    kube.control("add_pod", R"({"name": "other", "labels": {"app": "other"}})");
  }

  std::vector<std::string> with_pods(std::vector<std::string> args) const {
    for (const std::string a :
         {"--pods", "app=redis", "--namespace", "default", "--kubeconfig", kubeconfig.c_str()})
      args.push_back(a);
    return args;
  }

  // The node id and nodes.conf of pod redis-<i>, read now.
  std::pair<std::string, std::string> node(std::size_t i) {
    auto* n = cluster.nodes().at(i);
    std::string id = n->cli({"CLUSTER", "MYID"});
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return {id, read_file(n->dir() + "/nodes.conf")};
  }
};

const std::map<std::string, std::string> env{{"NODECONF_FILE_PATH", "nodes.conf"}};

// Checks the backup's pod_node_configs against the pods' files; returns the entries.
void check_pod_files(cluster_in_pods& c, const std::string& dir, const std::string& id) {
  const auto m = manifest(dir, id);
  const auto& pods = m.at("pod_node_configs").as_array();
  BOOST_TEST_REQUIRE(pods.size() == 7u);  // 6 nodes + redis-9; "other" is not selected
  for (std::size_t i = 0; i < 6; ++i) {
    const auto& p = pods[i].as_object();
    BOOST_TEST(p.at("pod").as_string() == "redis-" + std::to_string(i));
    BOOST_TEST(p.at("error").as_string() == "");
    BOOST_TEST(p.at("path").as_string() == "nodes.conf");
    const auto [node_id, conf] = c.node(i);
    const std::string name(p.at("name").as_string());
    BOOST_TEST(name == "pods/redis-" + std::to_string(i) + ".nodes.conf");
    const std::string stored = read_file(dir + "/" + id + "/" + name);
    BOOST_TEST(stored == conf, "pod redis-" << i << ": the stored nodes.conf differs");
    BOOST_TEST(p.at("sha256").as_string() == kage::storage::sha256_hex(stored));
    BOOST_TEST(p.at("bytes").as_int64() == static_cast<std::int64_t>(stored.size()));
    BOOST_TEST(p.at("node_id").as_string() == node_id);
  }
  const auto& missing = pods[6].as_object();
  BOOST_TEST(missing.at("pod").as_string() == "redis-9");
  BOOST_TEST(missing.at("name").as_string() == "");
  BOOST_TEST(missing.at("sha256").as_string() == "");
  BOOST_TEST(std::string(missing.at("error").as_string()).find("exit") != std::string::npos,
             missing.at("error").as_string());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pods_nodes_conf)

BOOST_AUTO_TEST_CASE(backup_and_snapshot_keep_every_pods_nodes_conf) {
  cluster_in_pods c;
  temp_dir store;
  auto b = run_kage(c.with_pods({"backup", "--node", c.cluster.seed(), "--to", store.path(),
                                 "--json", "--quiet"}),
                    env);
  BOOST_TEST_REQUIRE(b.exit_code == 0, describe(b));
  auto out = json_result(b);
  BOOST_TEST(out.at("pod_nodes_conf").as_int64() == 6);
  BOOST_TEST(out.at("pods_without_nodes_conf").as_array().size() == 1u);
  BOOST_TEST(contains(b.err, "pod redis-9: its nodes.conf (nodes.conf) is not in this backup"),
             b.err);
  const std::string id(out.at("id").as_string());
  check_pod_files(c, store.path(), id);

  // The other commands read such a backup.
  auto v = run_kage({"verify", "--from", store.path(), "--id", id});
  BOOST_TEST(v.exit_code == 0, describe(v));
  BOOST_TEST(contains(v.out, "pods/redis-0.nodes.conf  ok"), v.out);
  auto show = run_kage({"show", "--from", store.path(), "--id", id});
  BOOST_TEST(show.exit_code == 0, describe(show));
  BOOST_TEST(contains(show.out, "pod redis-9 MISSING: "), show.out);
  auto list = run_kage({"list", "--from", store.path(), "--json"});
  BOOST_TEST(list.exit_code == 0, describe(list));

  // A damaged copy is found.
  const std::string victim = store.path() + "/" + id + "/pods/redis-1.nodes.conf";
  write_file(victim, read_file(victim) + "x");
  auto damaged = run_kage({"verify", "--from", store.path(), "--id", id});
  BOOST_TEST(damaged.exit_code == exit_integrity, describe(damaged));
  BOOST_TEST(contains(damaged.out, "pods/redis-1.nodes.conf  DAMAGED"), damaged.out);

  // A snapshot keeps them too, beside its own nodes/<id>.conf.
  temp_dir snapshots;
  auto s = run_kage(c.with_pods({"snapshot", "--node", c.cluster.seed(), "--to", snapshots.path(),
                                 "--json", "--quiet"}),
                    env);
  BOOST_TEST_REQUIRE(s.exit_code == 0, describe(s));
  const std::string sid(json_result(s).at("id").as_string());
  check_pod_files(c, snapshots.path(), sid);
  auto sv = run_kage({"verify", "--from", snapshots.path(), "--id", sid});
  BOOST_TEST(sv.exit_code == 0, describe(sv));
}

BOOST_AUTO_TEST_CASE(what_goes_wrong_with_pods_says_what_to_do) {
  cluster_in_pods c;
  temp_dir store;
  auto none = run_kage({"backup", "--node", c.cluster.seed(), "--to", store.path(), "--pods",
                        "app=nothing", "--namespace", "default", "--kubeconfig", c.kubeconfig});
  BOOST_TEST(none.exit_code == exit_usage, describe(none));
  BOOST_TEST(contains(none.err, "no pod in namespace 'default' matches --pods 'app=nothing'"),
             none.err);
  BOOST_TEST(backup_ids(store.path()).empty());

  // The default path (/bitnami/redis/data/nodes.conf) is not in these pods: every pod is
  // reported, the backup of the keys is still made.
  auto missing = run_kage(c.with_pods(
      {"backup", "--node", c.cluster.seed(), "--to", store.path(), "--json", "--quiet"}));
  BOOST_TEST_REQUIRE(missing.exit_code == 0, describe(missing));
  BOOST_TEST(json_result(missing).at("pods_without_nodes_conf").as_array().size() == 7u);
  BOOST_TEST(contains(missing.err, "/bitnami/redis/data/nodes.conf"), missing.err);

  const auto wrong = c.kube.write_kubeconfig("wrong", R"("token": "not-the-token")");
  auto refused = run_kage({"backup", "--node", c.cluster.seed(), "--to", store.path(), "--pods",
                           "app=redis", "--namespace", "default", "--kubeconfig", wrong});
  BOOST_TEST(refused.exit_code != 0);
  BOOST_TEST(contains(refused.err, "cannot list the Redis pods"), refused.err);
}

BOOST_AUTO_TEST_SUITE_END()
