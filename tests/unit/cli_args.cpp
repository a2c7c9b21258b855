// Subcommands, flags and per-command requirements of load_settings.
#include <boost/test/unit_test.hpp>

#include "cli_test_util.hpp"

using namespace kage::cli;
using namespace kage::cli::test;

BOOST_AUTO_TEST_SUITE(cli_args)

BOOST_AUTO_TEST_CASE(no_command_is_help) {
  BOOST_TEST(load({}).command == "help");
  BOOST_TEST(load({}).help_topic == "");
}

BOOST_AUTO_TEST_CASE(help_forms_remember_the_command) {
  BOOST_TEST(load({"--help"}).command == "help");
  BOOST_TEST(load({"-h"}).help_topic == "");
  auto s = load({"backup", "--node", "a:1", "--help"});
  BOOST_TEST(s.command == "help");
  BOOST_TEST(s.help_topic == "backup");
  BOOST_TEST(load({"help", "restore"}).help_topic == "restore");
  BOOST_TEST(load({"help"}).help_topic == "");
  BOOST_TEST(load({"verify", "-h"}).help_topic == "verify");
  // A typo elsewhere on the line must not stop --help from answering.
  BOOST_TEST(load({"backup", "--nod", "x", "--help"}).command == "help");
  BOOST_TEST(usage_message({"help", "bakup"}).find("did you mean 'backup'?") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(help_ignores_a_broken_config) {
  temp_dir dir;
  auto file = dir.write("bad.yaml", "redis: [\n");
  BOOST_TEST(load({"backup", "--help"}, {{"KAGE_CONFIG", file}}).command == "help");
  BOOST_TEST(load({"--version"}, {{"KAGE_CONFIG", file}}).command == "version");
}

BOOST_AUTO_TEST_CASE(version_forms) {
  BOOST_TEST(load({"--version"}).command == "version");
  BOOST_TEST(load({"version"}).command == "version");
}

BOOST_AUTO_TEST_CASE(unknown_command_suggests_the_closest) {
  BOOST_TEST(usage_message({"bakup"}) ==
             "unknown command 'bakup' (did you mean 'backup'?); run 'kage --help' to see the "
             "commands");
  BOOST_TEST(usage_message({"restroe"}).find("did you mean 'restore'?") != std::string::npos);
  BOOST_TEST(usage_message({"frobnicate"}) ==
             "unknown command 'frobnicate'; run 'kage --help' to see the commands");
}

BOOST_AUTO_TEST_CASE(options_before_the_command) {
  auto m = usage_message({"--node", "a:1", "backup"});
  BOOST_TEST(m.find("the command comes first: 'kage backup") != std::string::npos, m);
  m = usage_message({"--node", "a:1"});
  BOOST_TEST(m.find("kage needs a command before '--node'") != std::string::npos, m);
}

BOOST_AUTO_TEST_CASE(every_command_parses) {
  BOOST_TEST(load({"backup", "--node", "a:1", "--to", "/b"}).command == "backup");
  BOOST_TEST(load({"restore", "--node", "a:1", "--from", "/b"}).command == "restore");
  BOOST_TEST(load({"list", "--from", "/b"}).command == "list");
  BOOST_TEST(load({"verify", "--from", "/b"}).command == "verify");
  BOOST_TEST(load({"show", "--from", "/b"}).command == "show");
  BOOST_TEST(load({"config"}).command == "config");
}

BOOST_AUTO_TEST_CASE(defaults) {
  auto s = load({"config"});
  BOOST_TEST(s.nodes.empty());
  BOOST_TEST(!s.password);
  BOOST_TEST(!s.tls);
  BOOST_TEST(s.connect_timeout_ms == 5000);
  BOOST_TEST(s.read_timeout_ms == 30000);
  BOOST_TEST(s.scan_count == 1000);
  BOOST_TEST(s.window == 512);
  BOOST_TEST(s.read_from == "primary");
  BOOST_TEST(s.compression_level == 1);
  BOOST_TEST(s.log_level == "info");
  BOOST_TEST(s.patterns.empty());
}

BOOST_AUTO_TEST_CASE(every_flag_sets_its_field) {
  auto s = load({"backup",
                 "--node",
                 "a:1",
                 "--user",
                 "u",
                 "--tls",
                 "--cacert",
                 "ca.pem",
                 "--cert",
                 "c.pem",
                 "--key",
                 "k.pem",
                 "--sni",
                 "redis.example",
                 "--insecure",
                 "--connect-timeout",
                 "100",
                 "--read-timeout",
                 "200",
                 "--pattern",
                 "p:*",
                 "--scan-count",
                 "300",
                 "--window",
                 "400",
                 "--read-from",
                 "prefer-replica",
                 "--compression-level",
                 "19",
                 "--to",
                 "/backups",
                 "--json",
                 "--quiet",
                 "--log-level",
                 "debug"});
  BOOST_TEST(s.nodes == std::vector<std::string>{"a:1"});
  BOOST_TEST(s.user == "u");
  BOOST_TEST(s.tls);
  BOOST_TEST(s.ca_file == "ca.pem");
  BOOST_TEST(s.cert_file == "c.pem");
  BOOST_TEST(s.key_file == "k.pem");
  BOOST_TEST(s.sni == "redis.example");
  BOOST_TEST(s.insecure);
  BOOST_TEST(s.connect_timeout_ms == 100);
  BOOST_TEST(s.read_timeout_ms == 200);
  BOOST_TEST(s.patterns == std::vector<std::string>{"p:*"});
  BOOST_TEST(s.scan_count == 300);
  BOOST_TEST(s.window == 400);
  BOOST_TEST(s.read_from == "prefer-replica");
  BOOST_TEST(s.compression_level == 19);
  BOOST_TEST(s.locations == std::vector<std::string>{"/backups"});
  BOOST_TEST(s.json);
  BOOST_TEST(s.quiet);
  BOOST_TEST(s.log_level == "debug");

  auto r = load({"restore", "--node", "a:1", "--from", "/b", "--id", "20260101T000000Z",
                 "--replace", "--dry-run"});
  BOOST_TEST(r.locations == std::vector<std::string>{"/b"});
  BOOST_TEST(r.id == "20260101T000000Z");
  BOOST_TEST(r.replace);
  BOOST_TEST(r.dry_run);
}

BOOST_AUTO_TEST_CASE(equals_form) {
  auto s = load({"backup", "--node=a:1", "--to=/b", "--window=7", "--pattern=x:*", "--tls=false"});
  BOOST_TEST(s.nodes == std::vector<std::string>{"a:1"});
  BOOST_TEST(s.locations == std::vector<std::string>{"/b"});
  BOOST_TEST(s.window == 7);
  BOOST_TEST(s.patterns == std::vector<std::string>{"x:*"});
  BOOST_TEST(!s.tls);
  // Only the first '=' splits: a value may hold more.
  BOOST_TEST(load({"config", "--user=a=b"}).user == "a=b");
}

BOOST_AUTO_TEST_CASE(repeatable_and_comma_separated_lists) {
  auto s = load({"backup", "--node", "a:1,b:2", "--node", "c:3", "--to", "/b", "--pattern",
                 "user:*", "--pattern", "session:*"});
  BOOST_TEST(s.nodes == (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  BOOST_TEST(s.patterns == (std::vector<std::string>{"user:*", "session:*"}));
}

BOOST_AUTO_TEST_CASE(flag_lists_replace_lower_layers) {
  auto s = load({"backup", "--pattern", "flag:*", "--to", "/b"},
                {{"PATTERN", "env:*,other:*"}, {"REDIS_NODE", "a:1"}});
  BOOST_TEST(s.patterns == std::vector<std::string>{"flag:*"});
}

BOOST_AUTO_TEST_CASE(unknown_flag_suggests_the_closest) {
  BOOST_TEST(usage_message({"backup", "--nod", "a:1"}) ==
             "unknown option '--nod' for 'kage backup' (did you mean '--node'?); run 'kage "
             "backup --help'");
  BOOST_TEST(usage_message({"backup", "--bogus"}) ==
             "unknown option '--bogus' for 'kage backup'; run 'kage backup --help'");
  BOOST_TEST(
      usage_message({"backup", "--compression=3"}).find("did you mean '--compression-level'?") !=
      std::string::npos);
  BOOST_TEST(usage_message({"list", "-from", "/b"}).find("did you mean '--from'?") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(flag_of_another_command) {
  auto m = usage_message({"list", "--from", "/b", "--scan-count", "5"});
  BOOST_TEST(m.find("option '--scan-count' does not apply to 'kage list'") != std::string::npos, m);
  BOOST_TEST(m.find("kage backup") != std::string::npos, m);
}

BOOST_AUTO_TEST_CASE(to_and_from_belong_to_their_commands) {
  auto m = usage_message({"restore", "--node", "a:1", "--to", "/b"});
  BOOST_TEST(m.find("does not apply to 'kage restore'") != std::string::npos, m);
  BOOST_TEST(m.find("--from LOCATION") != std::string::npos, m);
  m = usage_message({"backup", "--node", "a:1", "--from", "/b"});
  BOOST_TEST(m.find("--to LOCATION") != std::string::npos, m);
  for (auto cmd : {"list", "verify", "show"}) {
    BOOST_TEST(load({cmd, "--from", "/b"}).locations == std::vector<std::string>{"/b"});
    BOOST_TEST(usage_message({cmd, "--to", "/b"}).find("--from") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(missing_values) {
  BOOST_TEST(usage_message({"backup", "--node"}).starts_with("option '--node' needs a value"));
  BOOST_TEST(usage_message({"backup", "--node", "--to", "/b"})
                 .starts_with("option '--node' needs a value"));
  BOOST_TEST(usage_message({"backup", "--node=", "--to", "/b"})
                 .starts_with("option '--node' needs a value"));
}

BOOST_AUTO_TEST_CASE(positional_arguments_are_refused) {
  auto m = usage_message({"backup", "--node", "a:1", "--to", "/b", "extra"});
  BOOST_TEST(m.starts_with("unexpected argument 'extra' for 'kage backup'"), m);
}

BOOST_AUTO_TEST_CASE(password_never_from_argv) {
  for (auto form : {std::vector<std::string>{"backup", "--password", "hunter2"},
                    std::vector<std::string>{"backup", "--password=hunter2"},
                    std::vector<std::string>{"config", "--password", "hunter2"}}) {
    auto m = usage_message(form);
    BOOST_TEST(m.find("no --password option") != std::string::npos, m);
    BOOST_TEST(m.find("REDISCLI_AUTH") != std::string::npos, m);
    BOOST_TEST(m.find("--password-file") != std::string::npos, m);
    BOOST_TEST(m.find("config file") != std::string::npos, m);
    BOOST_TEST(m.find("hunter2") == std::string::npos, m);
  }
  // No option other than the password files carries a password.
  for (const auto& name : option_names(""))
    BOOST_TEST((name.find("pass") == std::string::npos || name == "--password-file" ||
                name == "--sentinel-password-file"),
               name);
}

BOOST_AUTO_TEST_CASE(password_file_flag) {
  temp_dir dir;
  auto file = dir.write("pw", "s3cret\n");
  auto s = load({"config", "--password-file", file}, {{"REDISCLI_AUTH", "from-env"}});
  BOOST_TEST(s.password.value() == "s3cret");
  BOOST_TEST(s.password_file == file);

  auto crlf = dir.write("pw2", "with space \r\n");
  BOOST_TEST(load({"config", "--password-file", crlf}).password.value() == "with space ");

  auto missing = dir.path("nope");
  auto m = usage_message({"config", "--password-file", missing});
  BOOST_TEST(m.starts_with("--password-file: cannot read password file '" + missing + "'"), m);
  BOOST_TEST(m.find("No such file or directory") != std::string::npos, m);

  BOOST_TEST(
      usage_message({"config", "--password-file", dir.write("empty", "\n")}).find("is empty") !=
      std::string::npos);
}

BOOST_AUTO_TEST_CASE(numeric_ranges) {
  BOOST_TEST(usage_message({"config", "--window", "0"}) ==
             "--window: expected a positive integer, got '0'");
  BOOST_TEST(usage_message({"config", "--window", "100001"}) ==
             "--window: expected a positive integer no greater than 100000, got '100001'");
  BOOST_TEST(load({"config", "--window", "100000"}).window == 100000);
  BOOST_TEST(usage_message({"config", "--scan-count", "1000001"}).find("1000000") !=
             std::string::npos);
  BOOST_TEST(usage_message({"config", "--compression-level", "20"}).find("19") !=
             std::string::npos);
  BOOST_TEST(usage_message({"config", "--connect-timeout", "3600001"}).find("3600000") !=
             std::string::npos);
  BOOST_TEST(usage_message({"config", "--read-timeout", "-5"}) ==
             "--read-timeout: expected a positive integer, got '-5'");
  BOOST_TEST(usage_message({"config", "--window", "12abc"}).find("got '12abc'") !=
             std::string::npos);
  BOOST_TEST(usage_message({"config", "--window", "99999999999999999999"}).find("no greater") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(choices) {
  auto m = usage_message({"config", "--read-from", "replica"});
  BOOST_TEST(m.starts_with("--read-from: expected one of primary, prefer-replica, got 'replica'"),
             m);
  BOOST_TEST(load({"config", "--log-level", "WARN"}).log_level == "warn");
  BOOST_TEST(usage_message({"config", "--log-level", "verbose"}).find("debug, info, warn, error") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(node_syntax) {
  auto s = load({"config", "--node", "[::1]:7000", "--node", "redis-0.redis:6379"});
  BOOST_TEST(s.nodes == (std::vector<std::string>{"[::1]:7000", "redis-0.redis:6379"}));
  for (auto bad : {"localhost", ":7000", "host:", "host:0", "host:65536", "host:x", "::1:7000",
                   "[::1]7000", "redis://host:7000"}) {
    auto m = usage_message({"config", "--node", bad});
    BOOST_TEST(m.starts_with(std::string("--node: expected HOST:PORT, got '") + bad + "'"), m);
  }
  BOOST_TEST(usage_message({"config", "--node", "::1:7000"}).find("[::1]:7000") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(tls_implied_and_cert_key_pairing) {
  BOOST_TEST(load({"config", "--cacert", "ca.pem"}).tls);
  BOOST_TEST(load({"config", "--cert", "c", "--key", "k"}).tls);
  BOOST_TEST(!load({"config"}).tls);
  auto m = usage_message({"config", "--cert", "c.pem"});
  BOOST_TEST(m.find("a certificate is set but no key") != std::string::npos, m);
  m = usage_message({"config"}, {{"TLS_KEY", "k.pem"}});
  BOOST_TEST(m.find("a key is set but no certificate") != std::string::npos, m);
}

BOOST_AUTO_TEST_CASE(required_settings_per_command) {
  BOOST_TEST(usage_message({"backup", "--to", "/b"}) ==
             "kage backup needs a Redis node: pass --node HOST:PORT or set REDIS_NODE (for a "
             "Sentinel deployment: --sentinel HOST:PORT or SENTINEL_NODES)");
  BOOST_TEST(usage_message({"backup", "--node", "a:1"}) ==
             "kage backup needs a backup location: pass --to LOCATION or set BACKUP_DIR");
  BOOST_TEST(usage_message({"restore", "--from", "/b"}) ==
             "kage restore needs a Redis node: pass --node HOST:PORT or set REDIS_NODE (for a "
             "Sentinel deployment: --sentinel HOST:PORT or SENTINEL_NODES)");
  BOOST_TEST(usage_message({"restore", "--node", "a:1"}) ==
             "kage restore needs a backup location: pass --from LOCATION or set BACKUP_DIR");
  for (auto cmd : {"list", "verify", "show"})
    BOOST_TEST(usage_message({cmd}) == std::string("kage ") + cmd +
                                           " needs a backup location: pass --from LOCATION or "
                                           "set BACKUP_DIR");
  BOOST_TEST(load({"config"}).command == "config");
  // Satisfied from the environment as well.
  BOOST_TEST(load({"backup"}, {{"REDIS_NODE", "a:1"}, {"BACKUP_DIR", "/b"}}).locations ==
             std::vector<std::string>{"/b"});
}

// The healer's settings: kage heal's flags, and kage run's heal: section.
BOOST_AUTO_TEST_CASE(heal_settings) {
  auto s = load({"heal", "--pods", "app=redis", "--lease", "on", "--identity", "h-1", "--listen",
                 "127.0.0.1:9121"});
  BOOST_TEST(s.heal_lease == "on");
  BOOST_TEST(s.heal_identity == "h-1");
  BOOST_TEST(s.listen == "127.0.0.1:9121");
  BOOST_TEST(s.heal_lease_name == "kage-heal");
  BOOST_TEST(s.heal_lease_duration_seconds == 15);
  BOOST_TEST(load({"heal", "--pods", "a=b"}, {{"POD_NAME", "redis-2"}}).heal_identity == "redis-2");
  BOOST_TEST(usage_message({"heal", "--pods", "a=b", "--lease", "sometimes"}).find("--lease") !=
             std::string::npos);

  temp_dir dir;
  const auto config = dir.write("kage.yaml",
                                "heal:\n  enabled: true\n  lease: off\n"
                                "  lease_duration_seconds: 5\nk8s:\n  pod_selector: app=redis\n");
  auto r = load({"run", "--config", config, "--every", "60", "--node", "a:1", "--to", "/b"});
  BOOST_TEST(r.heal_enabled);
  BOOST_TEST(r.heal_lease == "off");
  BOOST_TEST(r.heal_lease_duration_seconds == 5);
  BOOST_TEST(r.pod_selector == "app=redis");
  BOOST_TEST(usage_message({"run", "--every", "60", "--node", "a:1", "--to", "/b"},
                           {{"KAGE_HEAL", "true"}}) ==
             "heal.enabled needs the Redis pods: set k8s.pod_selector (a label selector such as "
             "app.kubernetes.io/instance=redis) or KAGE_POD_SELECTOR");
}

BOOST_AUTO_TEST_SUITE_END()
