// help_text and describe_settings.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <sstream>

#include "cli_test_util.hpp"

using namespace kage::cli;
using namespace kage::cli::test;

namespace {
const std::vector<std::string> k_commands = {"backup", "restore", "list",     "verify",
                                             "show",   "config",  "snapshot", "fetch",
                                             "prune",  "heal",    "doctor",   "controller"};
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(cli_help)

BOOST_AUTO_TEST_CASE(overview_lists_commands_examples_and_exit_codes) {
  auto text = help_text("");
  for (const auto& c : k_commands) BOOST_TEST(contains(text, "  " + c), c);
  BOOST_TEST(contains(text, "kage backup --node 127.0.0.1:7000 --to /var/backups/redis"));
  BOOST_TEST(contains(text, "kage restore --node 127.0.0.1:7100 --from /var/backups/redis"));
  BOOST_TEST(contains(text, "kage verify --from"));
  BOOST_TEST(contains(text, "kage list --from"));
  BOOST_TEST(contains(text, "kage show --from"));
  BOOST_TEST(contains(text, "kage config"));
  for (auto code : {"  0 ", "  1 ", "  2 ", "  3 ", "  4 ", "  5 ", "  6 ", "  130 "})
    BOOST_TEST(contains(text, code), code);
  BOOST_TEST(contains(text, "REDISCLI_AUTH"));
  BOOST_TEST(help_text("nonsense") == text);
  BOOST_TEST(help_text("help") == text);
}

BOOST_AUTO_TEST_CASE(command_help_mentions_every_option) {
  for (const auto& c : k_commands) {
    auto text = help_text(c);
    BOOST_TEST(text.starts_with("kage " + c), c);
    auto options = option_names(c);
    BOOST_TEST(!options.empty(), c);
    for (const auto& o : options) BOOST_TEST(contains(text, "  " + o), c << " " << o);
    BOOST_TEST(contains(text, "Exit codes"), c);
    BOOST_TEST(contains(text, "< environment < flags"), c);
  }
  // Across commands, every option of the parser is documented somewhere.
  for (const auto& o : option_names("")) {
    bool found = false;
    for (const auto& c : k_commands) found = found || contains(help_text(c), "  " + o);
    BOOST_TEST(found, o);
  }
}

BOOST_AUTO_TEST_CASE(command_help_names_env_and_defaults) {
  auto text = help_text("backup");
  for (auto part : {"env REDIS_NODE", "env PATTERN", "env BACKUP_DIR", "env CACERT", "env TLS_CRT",
                    "env TLS_KEY", "env REDIS_USER", "default 512", "default 5000",
                    "env REDISCLI_AUTH", "--password-file", "config redis.nodes"})
    BOOST_TEST(contains(text, part), part);
  BOOST_TEST(contains(help_text("run"), "env SCHEDULE_TIME"));
  BOOST_TEST(contains(help_text("run"), "env RESTORE_MISSING"));
  BOOST_TEST(!contains(text, "--from"));
  BOOST_TEST(contains(help_text("restore"), "--replace"));
  BOOST_TEST(!contains(help_text("list"), "REDISCLI_AUTH"));
}

BOOST_AUTO_TEST_CASE(option_names_follow_the_command) {
  auto backup = option_names("backup");
  BOOST_TEST((std::find(backup.begin(), backup.end(), "--to") != backup.end()));
  BOOST_TEST((std::find(backup.begin(), backup.end(), "--from") == backup.end()));
  auto list = option_names("list");
  BOOST_TEST((std::find(list.begin(), list.end(), "--node") == list.end()));
  // Each listed option is accepted by the parser for that command.
  for (const auto& o : list) BOOST_TEST(!contains(usage_message({"list", o}), "unknown option"));
}

BOOST_AUTO_TEST_CASE(describe_redacts_the_password) {
  const std::string secret = "correct-horse-battery-staple";
  auto s = load({"config", "--node", "a:1"}, {{"REDISCLI_AUTH", secret}});
  auto text = describe_settings(s);
  BOOST_TEST(!contains(text, secret), text);
  BOOST_TEST(contains(text, "<redacted>"), text);

  temp_dir dir;
  auto pw = dir.write("pw", secret + "\n");
  text = describe_settings(load({"config", "--password-file", pw}));
  BOOST_TEST(!contains(text, secret), text);
  BOOST_TEST(contains(text, pw), text);

  text = describe_settings(load({"config"}));
  BOOST_TEST(!contains(text, "redacted"), text);
  BOOST_TEST(!contains(text, "password:"), text);
}

BOOST_AUTO_TEST_CASE(describe_reads_back_as_a_config_file) {
  auto original = load({"config", "--node", "a:1,[::1]:2", "--user", "u", "--pattern",
                        "x:*,{tag}:*,[ab]*", "--window", "3", "--read-from", "prefer-replica",
                        "--cacert", "/ca", "--replace", "--log-level", "warn"},
                       {{"SCHEDULE_TIME", "60"}, {"BACKUP_DIR", "/b"}, {"S3_BUCKET_NAME", "bk"}});
  temp_dir dir;
  auto file = dir.write("round.yaml", describe_settings(original));
  auto again = load({"config", "--config", file});
  BOOST_TEST(again.nodes == original.nodes);
  BOOST_TEST(again.user == "u");
  BOOST_TEST(again.patterns == original.patterns);
  BOOST_TEST(again.window == 3);
  BOOST_TEST(again.read_from == "prefer-replica");
  BOOST_TEST(again.ca_file == "/ca");
  BOOST_TEST(again.tls);
  BOOST_TEST(again.replace);
  BOOST_TEST(again.log_level == "warn");
  BOOST_TEST(again.schedule_seconds == 60);
  BOOST_TEST(again.locations == std::vector<std::string>{"/b"});
  BOOST_TEST(again.s3_bucket == "bk");
  BOOST_TEST(again.connect_timeout_ms == original.connect_timeout_ms);
}

// The settings part of 'kage config', without the comments saying where each value came from.
std::string values_of(const std::string& described) {
  std::string out;
  std::istringstream in(described.substr(described.find("\nredis:")));
  for (std::string line; std::getline(in, line);) out += line.substr(0, line.find("  #")) + "\n";
  return out;
}

BOOST_AUTO_TEST_CASE(describe_of_defaults_reads_back) {
  temp_dir dir;
  auto defaults = load({"config"});
  auto file = dir.write("defaults.yaml", describe_settings(defaults));
  auto again = load({"config", "--config", file});
  BOOST_TEST(values_of(describe_settings(again)) == values_of(describe_settings(defaults)));
  BOOST_TEST(again.schedule_seconds == 0);
}

BOOST_AUTO_TEST_CASE(example_config_loads) {
  // The commented example shipped next to the program must stay valid.
  // ctest gives the source root (__FILE__ may be relative, e.g. under ccache's base_dir).
  const char* from_ctest = std::getenv("KAGE_SOURCE_DIR");
  auto root = from_ctest && *from_ctest
                  ? std::filesystem::path(from_ctest)
                  : std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  auto path = (root / "tools/kage/kage.example.yaml").string();
  auto s = load({"config", "--config", path});
  BOOST_TEST(!s.nodes.empty());
  BOOST_TEST(!s.locations.empty());
}

BOOST_AUTO_TEST_SUITE_END()
