// The test fixtures themselves: processes with deadlines, Redis servers and clusters (plain, TLS,
// ACL), and tools/local-cluster.sh.
#include <signal.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "fixture_redis.hpp"

using namespace kage::test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

long long ms_since(clock_type::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start).count();
}

bool process_exists(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  // A zombie waiting for a reaper other than us counts as gone.
  std::string stat;
  try {
    stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  } catch (const std::exception&) {
    return false;
  }
  auto paren = stat.rfind(')');
  return paren == std::string::npos || stat.substr(paren + 2, 1) != "Z";
}

std::string owner_of_slot_zero(redis_cluster& cluster) {
  return cluster.masters().at(0)->address();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fixture_smoke)

BOOST_AUTO_TEST_CASE(run_process_captures_output_and_exit_code) {
  auto r = run_process({"sh", "-c", "echo out; echo err >&2; cat; exit 3"}, {}, 10s, "from stdin");
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(!r.timed_out);
  BOOST_TEST(r.out == "out\nfrom stdin");
  BOOST_TEST(r.err == "err\n");

  auto env = run_process({"sh", "-c", "printf %s \"$KAGE_SMOKE\""}, {{"KAGE_SMOKE", "a b"}});
  BOOST_TEST(env.exit_code == 0);
  BOOST_TEST(env.out == "a b");

  // Large output must not block the child (no pipe to fill).
  auto big = run_process({"head", "-c", "1000000", "/dev/zero"}, {}, 10s);
  BOOST_TEST(big.exit_code == 0);
  BOOST_TEST(big.out.size() == 1000000u);
}

BOOST_AUTO_TEST_CASE(run_process_enforces_deadline) {
  auto start = clock_type::now();
  auto r = run_process({"sleep", "5"}, {}, 1s);
  BOOST_TEST(ms_since(start) < 3000);
  BOOST_TEST(r.timed_out);
  BOOST_TEST(r.term_signal == SIGKILL);

  // The whole process group goes, not only the shell.
  start = clock_type::now();
  r = run_process({"sh", "-c", "sleep 7; echo never"}, {}, 1s);
  BOOST_TEST(r.timed_out);
  BOOST_TEST(r.out.empty());
  BOOST_TEST(ms_since(start) < 3000);
}

BOOST_AUTO_TEST_CASE(run_process_reports_a_missing_program) {
  BOOST_CHECK_EXCEPTION(
      run_process({"kage-no-such-program"}), std::runtime_error, [](const std::runtime_error& e) {
        return std::string(e.what()).find("kage-no-such-program") != std::string::npos;
      });
}

BOOST_AUTO_TEST_CASE(background_process_waits_and_kills) {
  background_process p({"sh", "-c", "echo ready; exec sleep 30"});
  BOOST_TEST(p.pid() > 0);
  BOOST_TEST(p.wait_for_output("ready", 5s));
  BOOST_TEST(p.running());
  p.kill(SIGTERM);
  auto r = p.wait(5s);
  BOOST_TEST(!r.timed_out);
  BOOST_TEST(r.term_signal == SIGTERM);
  BOOST_TEST(r.out == "ready\n");
  BOOST_TEST(!p.running());

  pid_t orphan = 0;
  {
    background_process q({"sleep", "30"});
    orphan = q.pid();
  }  // destructor kills and reaps
  BOOST_TEST(!process_exists(orphan));
}

BOOST_AUTO_TEST_CASE(temp_dir_is_removed) {
  std::string path;
  {
    temp_dir d("smoke");
    path = d.path();
    write_file(d.file("x"), "y");
    BOOST_TEST(std::filesystem::is_directory(path));
  }
  BOOST_TEST(std::filesystem::exists(path) == keep_test_dirs());
}

BOOST_AUTO_TEST_CASE(free_ports_are_bindable_and_distinct) {
  int a = free_port(), b = free_port();
  BOOST_TEST(a != b);
  for (int p : {a, b}) {
    BOOST_TEST(p >= 20000);
    BOOST_TEST(p < 30000);
  }
  int base = free_port_range(4);
  BOOST_TEST(base >= 20000);
  BOOST_TEST(base + 3 < 30000);
}

BOOST_AUTO_TEST_CASE(standalone_server) {
  redis_server server({});
  BOOST_TEST(server.running());
  BOOST_TEST(server.cli({"PING"}) == "PONG\n");
  BOOST_TEST(server.cli({"SET", "k", "v"}) == "OK\n");
  BOOST_TEST(server.cli({"GET", "k"}) == "v\n");
  BOOST_CHECK_THROW(server.cli({"NO-SUCH-COMMAND"}), std::runtime_error);
  BOOST_TEST(server.address() == "127.0.0.1:" + std::to_string(server.port()));

  // restart keeps the port; data is gone (no persistence) but the server answers.
  const int port = server.port();
  server.restart();
  BOOST_TEST(server.port() == port);
  BOOST_TEST(server.cli({"PING"}) == "PONG\n");

  const pid_t pid = server.pid();
  server.kill();
  BOOST_TEST(!server.running());
  BOOST_TEST(!process_exists(pid));
  BOOST_TEST(!port_accepts("127.0.0.1", port));

  // Another loopback address models another host.
  redis_options other;
  other.host = "127.0.0.2";
  other.requirepass = "pw";
  redis_server second(other);
  BOOST_TEST(second.address().rfind("127.0.0.2:", 0) == 0);
  BOOST_TEST(second.cli({"PING"}) == "PONG\n");  // authenticates through REDISCLI_AUTH
  auto unauthenticated = second.cli_result({"PING"}, credentials{"", ""});
  BOOST_TEST(unauthenticated.out.find("NOAUTH") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(failed_start_reports_the_server_error) {
  redis_options opts;
  opts.extra_args = {"--no-such-directive", "1"};
  BOOST_CHECK_EXCEPTION(redis_server{opts}, std::runtime_error, [](const std::runtime_error& e) {
    return std::string(e.what()).find("Bad directive") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(cluster_3x1_with_failover) {
  redis_cluster cluster(3, 1);
  BOOST_TEST(cluster.nodes().size() == 6u);
  auto masters = cluster.masters();
  BOOST_TEST_REQUIRE(masters.size() == 3u);
  for (auto* m : masters) {
    auto nodes = parse_cluster_nodes(m->cli({"CLUSTER", "NODES"}));
    auto self =
        std::find_if(nodes.begin(), nodes.end(), [](auto& e) { return e.has_flag("myself"); });
    BOOST_TEST_REQUIRE((self != nodes.end()));
    BOOST_TEST(!self->slots.empty());
    BOOST_TEST(cluster.replicas_of(*m).size() == 1u);
  }
  BOOST_TEST(cluster.cli({"SET", "{a}k", "v"}) == "OK\n");
  BOOST_TEST(cluster.cli({"GET", "{a}k"}) == "v\n");
  BOOST_TEST(cluster.seed() == cluster.nodes()[0]->address());

  // Kill the master of slot 0: its replica takes over and wait_ok sees a healthy cluster again.
  redis_server* victim = masters[0];
  redis_server* heir = cluster.replicas_of(*victim).at(0);
  victim->kill();
  cluster.wait_ok();
  BOOST_TEST(owner_of_slot_zero(cluster) == heir->address());
  BOOST_TEST(cluster.masters().size() == 3u);
  // The old master comes back as a replica of the new one.
  victim->restart();
  cluster.wait_ok();
  auto replicas = cluster.replicas_of(*heir);
  BOOST_TEST_REQUIRE(replicas.size() == 1u);
  BOOST_TEST(replicas[0] == victim);
}

BOOST_AUTO_TEST_CASE(cluster_1x1_formed_by_hand_on_two_hosts) {
  redis_cluster cluster(1, 1, {}, {"127.0.0.1", "127.0.0.2"});
  BOOST_TEST(cluster.nodes()[1]->host() == "127.0.0.2");
  auto masters = cluster.masters();
  BOOST_TEST_REQUIRE(masters.size() == 1u);
  BOOST_TEST(cluster.replicas_of(*masters[0]).size() == 1u);
  BOOST_TEST(cluster.cli({"SET", "x", "1"}) == "OK\n");
}

BOOST_AUTO_TEST_CASE(tls_server_with_acl_user) {
  redis_options opts;
  opts.tls = make_tls_files();
  opts.requirepass = "default-secret";
  opts.acl_lines = {"user backup on >backup-secret ~* &* +@all"};
  redis_server server(opts);
  BOOST_TEST(server.cli({"PING"}) == "PONG\n");
  BOOST_TEST(server.cli_as({"backup", "backup-secret"}, {"ACL", "WHOAMI"}) == "backup\n");
  BOOST_CHECK_THROW(server.cli_as({"backup", "wrong"}, {"PING"}), std::runtime_error);
  // TLS only: the port does not speak plain RESP.
  auto plain = run_process(
      {"redis-cli", "-h", server.host(), "-p", std::to_string(server.port()), "PING"}, {}, 10s);
  BOOST_TEST(plain.out.find("PONG") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(tls_cluster_with_password) {
  redis_options opts;
  opts.tls = make_tls_files();
  opts.requirepass = "cluster-secret";
  opts.acl_lines = {"user backup on >backup-secret ~* &* +@all"};
  redis_cluster cluster(3, 1, opts);  // replicas sync over TLS with masterauth
  BOOST_TEST(cluster.masters().size() == 3u);
  BOOST_TEST(cluster.cli({"SET", "k", "v"}) == "OK\n");
  BOOST_TEST(cluster.nodes()[0]->cli_as({"backup", "backup-secret"}, {"ACL", "WHOAMI"}) ==
             "backup\n");
}

BOOST_AUTO_TEST_CASE(local_cluster_script) {
  const std::string script = source_dir() + "/tools/local-cluster.sh";
  temp_dir dir("local-cluster");
  const std::string data = dir.path() + "/cluster";
  const int port = free_port_range(6);
  struct stop_guard {
    std::string script, data;
    ~stop_guard() { run_process({"bash", script, "stop", data}, {}, 30s); }
  } guard{script, data};

  auto start = run_process({"bash", script, "start", data, "--port", std::to_string(port),
                            "--masters", "3", "--replicas", "1"},
                           {}, 60s);
  BOOST_TEST_REQUIRE(start.exit_code == 0, start.err);
  BOOST_TEST(start.out == "127.0.0.1:" + std::to_string(port) + "\n");

  auto set = run_process({"redis-cli", "-c", "-p", std::to_string(port), "SET", "k", "v"});
  BOOST_TEST(set.out == "OK\n");
  auto status = run_process({"bash", script, "status", data});
  BOOST_TEST(status.exit_code == 0, status.out + status.err);

  std::vector<pid_t> pids;
  for (int p = port; p < port + 6; ++p)
    pids.push_back(std::stoi(read_file(data + "/" + std::to_string(p) + "/redis.pid")));
  auto again = run_process({"bash", script, "start", data, "--port", std::to_string(port)});
  BOOST_TEST(again.exit_code != 0);  // refuses: already running

  auto stop = run_process({"bash", script, "stop", data}, {}, 30s);
  BOOST_TEST(stop.exit_code == 0, stop.err);
  for (pid_t pid : pids) BOOST_TEST(!process_exists(pid));
  BOOST_TEST(!port_accepts("127.0.0.1", port));
}

BOOST_AUTO_TEST_SUITE_END()
