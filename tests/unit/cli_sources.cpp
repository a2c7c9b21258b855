// The config file and the environment, and how they stack under the flags.
#include <boost/test/unit_test.hpp>

#include "cli_test_util.hpp"

using namespace kage::cli;
using namespace kage::cli::test;

BOOST_AUTO_TEST_SUITE(cli_sources)

BOOST_AUTO_TEST_CASE(precedence_flag_beats_env_beats_file) {
  temp_dir dir;
  auto file = dir.write("kage.yaml",
                        "redis:\n"
                        "  nodes: [file:1]\n"
                        "  user: file-user\n"
                        "store:\n"
                        "  location: /from-file\n"
                        "log:\n"
                        "  level: warn\n");
  env_map env{{"REDIS_NODE", "env:2"}, {"REDIS_USER", "env-user"}, {"BACKUP_DIR", "/from-env"}};

  auto only_file = load({"config", "--config", file});
  BOOST_TEST(only_file.nodes == std::vector<std::string>{"file:1"});
  BOOST_TEST(only_file.user == "file-user");
  BOOST_TEST(only_file.locations == std::vector<std::string>{"/from-file"});
  BOOST_TEST(only_file.log_level == "warn");
  BOOST_TEST(only_file.config_file == file);

  auto with_env = load({"list", "--config", file}, env);
  BOOST_TEST(with_env.nodes == std::vector<std::string>{"env:2"});
  BOOST_TEST(with_env.user == "env-user");
  BOOST_TEST(with_env.locations == std::vector<std::string>{"/from-env"});
  BOOST_TEST(with_env.log_level == "warn");  // set by the file alone

  auto with_flags = load({"restore", "--config", file, "--node", "flag:3", "--user", "flag-user",
                          "--from", "/from-flag", "--log-level", "error"},
                         env);
  BOOST_TEST(with_flags.nodes == std::vector<std::string>{"flag:3"});
  BOOST_TEST(with_flags.user == "flag-user");
  BOOST_TEST(with_flags.locations == std::vector<std::string>{"/from-flag"});
  BOOST_TEST(with_flags.log_level == "error");
}

BOOST_AUTO_TEST_CASE(config_path_from_env_and_flag) {
  temp_dir dir;
  auto a = dir.write("a.yaml", "redis: {user: a}\n");
  auto b = dir.write("b.yaml", "redis: {user: b}\n");
  BOOST_TEST(load({"config"}, {{"KAGE_CONFIG", a}}).user == "a");
  BOOST_TEST(load({"config", "--config", b}, {{"KAGE_CONFIG", a}}).user == "b");
  BOOST_TEST(load({"config", "--config=" + b}).user == "b");
}

BOOST_AUTO_TEST_CASE(each_legacy_environment_variable) {
  temp_dir dir;
  auto pw = dir.write("pw", "from-file\n");
  auto cfg = dir.write("c.yaml", "backup: {window: 9}\n");
  env_map env{{"REDIS_NODE", "a:1, b:2"},
              {"REDIS_USER", "alice"},
              {"CACERT", "/ca.pem"},
              {"TLS_CRT", "/c.pem"},
              {"TLS_KEY", "/k.pem"},
              {"PATTERN", "user:*,,session:*,"},
              {"BACKUP_DIR", "/backups"},
              {"SCHEDULE_TIME", "3600"},
              {"S3_ENDPOINT_URL", "http://minio:9000"},
              {"S3_BUCKET_NAME", "redis-backups"},
              {"NODECONF_FILE_PATH", "/data/nodes.conf"},
              {"KUBECONFIG", "/root/.kube/config"},
              {"KAGE_LOG_LEVEL", "debug"},
              {"KAGE_CONFIG", cfg}};
  auto s = load({"backup"}, env);
  BOOST_TEST(s.nodes == (std::vector<std::string>{"a:1", "b:2"}));
  BOOST_TEST(s.user == "alice");
  BOOST_TEST(s.ca_file == "/ca.pem");
  BOOST_TEST(s.cert_file == "/c.pem");
  BOOST_TEST(s.key_file == "/k.pem");
  BOOST_TEST(s.tls);
  BOOST_TEST(s.patterns == (std::vector<std::string>{"user:*", "session:*"}));
  BOOST_TEST(s.locations == std::vector<std::string>{"/backups"});
  BOOST_TEST(s.schedule_seconds == 3600);
  BOOST_TEST(s.s3_endpoint == "http://minio:9000");
  BOOST_TEST(s.s3_bucket == "redis-backups");
  BOOST_TEST(s.nodeconf_file_path == "/data/nodes.conf");
  BOOST_TEST(s.kubeconfig == "/root/.kube/config");
  BOOST_TEST(s.log_level == "debug");
  BOOST_TEST(s.window == 9);
  BOOST_TEST(s.config_file == cfg);

  BOOST_TEST(load({"config"}, {{"REDISCLI_AUTH", "pass"}}).password.value() == "pass");
  BOOST_TEST(load({"config"}, {{"REDIS_PASSWORD_FILE", pw}}).password.value() == "from-file");
}

BOOST_AUTO_TEST_CASE(empty_environment_variables_are_unset) {
  temp_dir dir;
  auto file = dir.write("k.yaml", "store: {location: /file}\nschedule: {every_seconds: 5}\n");
  auto s = load({"config", "--config", file}, {{"BACKUP_DIR", ""},
                                               {"SCHEDULE_TIME", ""},
                                               {"REDISCLI_AUTH", ""},
                                               {"KAGE_LOG_LEVEL", ""},
                                               {"REDIS_NODE", ""},
                                               {"KAGE_CONFIG", ""}});
  BOOST_TEST(s.locations == std::vector<std::string>{"/file"});
  BOOST_TEST(s.schedule_seconds == 5);
  BOOST_TEST(!s.password);
  BOOST_TEST(s.log_level == "info");
  BOOST_TEST(s.nodes.empty());
}

BOOST_AUTO_TEST_CASE(bad_environment_values) {
  BOOST_TEST(usage_message({"config"}, {{"SCHEDULE_TIME", "x"}}) ==
             "environment variable SCHEDULE_TIME: expected a positive integer number of seconds, "
             "got 'x'");
  BOOST_TEST(usage_message({"config"}, {{"REDIS_NODE", "a:1,nope"}}) ==
             "environment variable REDIS_NODE: expected HOST:PORT, got 'nope' (no ':PORT')");
  BOOST_TEST(usage_message({"config"}, {{"KAGE_LOG_LEVEL", "loud"}})
                 .starts_with("environment variable KAGE_LOG_LEVEL: expected one of"));
  auto m = usage_message({"config"}, {{"REDIS_PASSWORD_FILE", "/nonexistent/pw"}});
  BOOST_TEST(m.starts_with("environment variable REDIS_PASSWORD_FILE: cannot read password file "
                           "'/nonexistent/pw': No such file or directory"),
             m);
}

BOOST_AUTO_TEST_CASE(password_sources_stack) {
  temp_dir dir;
  auto pw = dir.write("pw", "file-pass");
  auto file = dir.write("k.yaml", "redis:\n  password: yaml-pass\n");
  BOOST_TEST(load({"config", "--config", file}).password.value() == "yaml-pass");
  BOOST_TEST(load({"config", "--config", file}, {{"REDISCLI_AUTH", "env-pass"}}).password.value() ==
             "env-pass");
  BOOST_TEST(
      load({"config", "--config", file, "--password-file", pw}, {{"REDISCLI_AUTH", "env-pass"}})
          .password.value() == "file-pass");
  // A file named by a lower layer and overridden is never read.
  auto low = dir.write("low.yaml", "redis:\n  password_file: /nonexistent/pw\n");
  BOOST_TEST(load({"config", "--config", low}, {{"REDISCLI_AUTH", "e"}}).password.value() == "e");

  auto both = dir.write("both.yaml", "redis:\n  password: a\n  password_file: " + pw + "\n");
  BOOST_TEST(usage_message({"config", "--config", both}) ==
             "config file '" + both +
                 "' gives both a password (redis.password) and a password file "
                 "(redis.password_file); keep only one");
  BOOST_TEST(usage_message({"config"}, {{"REDISCLI_AUTH", "a"}, {"REDIS_PASSWORD_FILE", pw}}) ==
             "the environment gives both a password (REDISCLI_AUTH) and a password file "
             "(REDIS_PASSWORD_FILE); keep only one");
}

BOOST_AUTO_TEST_CASE(password_file_in_config_names_its_position) {
  temp_dir dir;
  auto file = dir.write("k.yaml", "redis:\n  password_file: /nonexistent/pw\n");
  auto m = usage_message({"config", "--config", file});
  BOOST_TEST(m.starts_with(file + ":2:18: redis.password_file: cannot read password file"), m);
}

BOOST_AUTO_TEST_CASE(full_config_file) {
  temp_dir dir;
  auto pw = dir.write("pw", "pw\n");
  auto file = dir.write("k.yaml",
                        "# all of it\n"
                        "redis:\n"
                        "  nodes:\n"
                        "    - 10.0.0.1:7000\n"
                        "    - '[fd00::1]:7001'\n"
                        "  user: backup\n"
                        "  password_file: " +
                            pw +
                            "\n"
                            "  tls: yes\n"
                            "  sni: redis.internal\n"
                            "  insecure_skip_verify: false\n"
                            "  connect_timeout_ms: 1500\n"
                            "  read_timeout_ms: 2500\n"
                            "backup:\n"
                            "  patterns: 'user:*, order:*'\n"
                            "  scan_count: 50\n"
                            "  window: 64\n"
                            "  read_from: prefer-replica\n"
                            "  compression_level: 3\n"
                            "store:\n"
                            "  location: /srv/backups\n"
                            "  s3:\n"
                            "    endpoint: https://s3.example\n"
                            "    bucket: b\n"
                            "restore:\n"
                            "  replace: true\n"
                            "schedule:\n"
                            "  every_seconds: 86400\n"
                            "cluster:\n"
                            "  nodeconf_file_path: /data/nodes.conf\n"
                            "  kubeconfig: /kube\n"
                            "log:\n"
                            "  level: error\n");
  auto s = load({"config", "--config", file});
  BOOST_TEST(s.nodes == (std::vector<std::string>{"10.0.0.1:7000", "[fd00::1]:7001"}));
  BOOST_TEST(s.user == "backup");
  BOOST_TEST(s.password.value() == "pw");
  BOOST_TEST(s.tls);
  BOOST_TEST(s.sni == "redis.internal");
  BOOST_TEST(!s.insecure);
  BOOST_TEST(s.connect_timeout_ms == 1500);
  BOOST_TEST(s.read_timeout_ms == 2500);
  BOOST_TEST(s.patterns == (std::vector<std::string>{"user:*", "order:*"}));
  BOOST_TEST(s.scan_count == 50);
  BOOST_TEST(s.window == 64);
  BOOST_TEST(s.read_from == "prefer-replica");
  BOOST_TEST(s.compression_level == 3);
  BOOST_TEST(s.locations == std::vector<std::string>{"/srv/backups"});
  BOOST_TEST(s.s3_endpoint == "https://s3.example");
  BOOST_TEST(s.s3_bucket == "b");
  BOOST_TEST(s.replace);
  BOOST_TEST(s.schedule_seconds == 86400);
  BOOST_TEST(s.nodeconf_file_path == "/data/nodes.conf");
  BOOST_TEST(s.kubeconfig == "/kube");
  BOOST_TEST(s.log_level == "error");
}

BOOST_AUTO_TEST_CASE(empty_and_comment_only_files) {
  temp_dir dir;
  for (auto text : {"", "# nothing here\n\n# at all\n", "---\n", "redis:\n"}) {
    auto file = dir.write("e.yaml", text);
    auto s = load({"config", "--config", file});
    BOOST_TEST(s.nodes.empty());
    BOOST_TEST(s.window == 512);
  }
}

BOOST_AUTO_TEST_CASE(missing_config_file) {
  temp_dir dir;
  auto path = dir.path("absent.yaml");
  BOOST_TEST(usage_message({"config", "--config", path}) ==
             "cannot read config file '" + path + "': No such file or directory");
  BOOST_TEST(usage_message({"config"}, {{"KAGE_CONFIG", path}}).find(path) != std::string::npos);
  auto m = usage_message({"config", "--config", dir.path("")});
  BOOST_TEST(m.find("Is a directory") != std::string::npos, m);
}

// A config path that is not a config file at all (an endless device, a huge file) is refused
// after at most 1 MiB instead of being read until memory runs out.
BOOST_AUTO_TEST_CASE(endless_or_huge_config_file) {
  auto endless = usage_message({"config", "--config", "/dev/zero"});
  BOOST_TEST(endless.find("larger than 1 MiB") != std::string::npos, endless);
  temp_dir dir;
  auto huge = dir.write("huge.yaml", "# " + std::string((1 << 20) + 10, 'x') + "\n");
  auto m = usage_message({"config", "--config", huge});
  BOOST_TEST(m.find("larger than 1 MiB") != std::string::npos, m);
  auto fits = dir.write("fits.yaml", "# " + std::string(1000, 'x') + "\nredis:\n  nodes: [a:1]\n");
  BOOST_TEST(load({"config", "--config", fits}).nodes == std::vector<std::string>{"a:1"});
}

BOOST_AUTO_TEST_CASE(unknown_key_with_position) {
  temp_dir dir;
  auto file = dir.write("k.yaml",
                        "# seeds\n"
                        "redis:\n"
                        "  nodes: [a:1]\n"
                        "  nodez: [b:2]\n");
  BOOST_TEST(usage_message({"config", "--config", file}) ==
             file + ":4:3: unknown setting 'redis.nodez' (did you mean 'redis.nodes'?)");

  auto moved = dir.write("m.yaml", "redis:\n  patterns: [x]\n");
  BOOST_TEST(usage_message({"config", "--config", moved}) ==
             moved + ":2:3: unknown setting 'redis.patterns' (did you mean 'backup.patterns'?)");

  auto section = dir.write("s.yaml", "\n\nredsi:\n  nodes: [a:1]\n");
  BOOST_TEST(usage_message({"config", "--config", section}) ==
             section + ":3:1: unknown setting 'redsi' (did you mean 'redis'?)");

  auto far = dir.write("f.yaml", "log:\n  colour: json\n");
  BOOST_TEST(usage_message({"config", "--config", far}) ==
             far + ":2:3: unknown setting 'log.colour'");
}

BOOST_AUTO_TEST_CASE(malformed_yaml) {
  temp_dir dir;
  auto file = dir.write("k.yaml", "redis:\n  nodes: [a:1\n  user: x\n");
  auto m = usage_message({"config", "--config", file});
  BOOST_TEST(m.starts_with(file + ":"), m);
  // FILE:LINE:COL: message, with 1-based numbers.
  auto rest = m.substr(file.size() + 1);
  auto colon = rest.find(':');
  BOOST_TEST(std::stoi(rest.substr(0, colon)) >= 2, m);
  BOOST_TEST(rest.find(": ", colon + 1) != std::string::npos, m);

  auto tab = dir.write("t.yaml", "redis:\n  user: a\n   nodes: b\n");
  m = usage_message({"config", "--config", tab});
  BOOST_TEST(m.starts_with(tab + ":3:"), m);
}

BOOST_AUTO_TEST_CASE(wrong_types_and_values) {
  temp_dir dir;
  auto check = [&](const std::string& text, const std::string& expected_tail) {
    auto file = dir.write("k.yaml", text);
    BOOST_TEST(usage_message({"config", "--config", file}) == file + ":" + expected_tail);
  };
  check("redis:\n  connect_timeout_ms: abc\n",
        "2:23: redis.connect_timeout_ms: expected a positive integer, got 'abc'");
  check("redis:\n  tls: maybe\n", "2:8: redis.tls: expected true or false, got 'maybe'");
  check("backup:\n  window: 0\n", "2:11: backup.window: expected a positive integer, got '0'");
  check("backup:\n  compression_level: 25\n",
        "2:22: backup.compression_level: expected a positive integer no greater than 19, got "
        "'25'");
  check("backup:\n  read_from: replica\n",
        "2:14: backup.read_from: expected one of primary, prefer-replica, got 'replica'");
  check("redis:\n  user: [a, b]\n", "2:9: redis.user: expected a value, got a list");
  check("redis:\n  nodes: {a: 1}\n",
        "2:10: redis.nodes: expected a list or a comma-separated string, got a map");
  check("redis:\n  nodes: [a:1, [b]]\n",
        "2:10: redis.nodes: expected a list of strings, got 'a list in the list'");
  check("redis:\n  nodes: [nohost]\n",
        "2:10: redis.nodes: expected HOST:PORT, got 'nohost' (no ':PORT')");
  check("redis: yes\n", "1:8: redis: expected a map of settings, got 'yes'");
  check("- a\n- b\n", "1:1: expected a map of settings (such as 'redis:'), got a list");
  check("redis:\n  user: a\n  user: b\n", "3:3: redis.user is set twice (first on line 2)");
  check("redis:\n  password: <redacted>\n",
        "2:13: redis.password: the password is '<redacted>', as 'kage config' prints it; give "
        "the real password, or use redis.password_file");
}

BOOST_AUTO_TEST_CASE(patterns_as_list_or_string) {
  temp_dir dir;
  auto list = dir.write("l.yaml", "backup:\n  patterns:\n    - 'a:*'\n    - 'b:*'\n");
  BOOST_TEST(load({"config", "--config", list}).patterns ==
             (std::vector<std::string>{"a:*", "b:*"}));
  auto text = dir.write("s.yaml", "backup: {patterns: 'a:*,b:*'}\n");
  BOOST_TEST(load({"config", "--config", text}).patterns ==
             (std::vector<std::string>{"a:*", "b:*"}));
  // The environment replaces the file's list rather than adding to it.
  BOOST_TEST(load({"config", "--config", list}, {{"PATTERN", "c:*"}}).patterns ==
             std::vector<std::string>{"c:*"});
  auto node = dir.write("n.yaml", "redis: {nodes: 'h:1'}\n");
  BOOST_TEST(load({"config", "--config", node}).nodes == std::vector<std::string>{"h:1"});
}

BOOST_AUTO_TEST_CASE(origins_name_default_file_env_and_flag) {
  temp_dir dir;
  auto file = dir.write("kage.yaml", "redis:\n  user: file-user\nbackup:\n  window: 7\n");
  auto s = load({"config", "--config", file, "--window", "9"},
                {{"REDIS_NODE", "a:1"}, {"REDIS_USER", "env-user"}});
  BOOST_TEST(s.origins["redis.nodes"] == "env REDIS_NODE");
  BOOST_TEST(s.origins["redis.user"] == "env REDIS_USER");  // the environment beats the file
  BOOST_TEST(s.origins["backup.window"] == "flag --window");
  BOOST_TEST(s.origins.count("backup.scan_count") == 0u);  // a default
  auto f = load({"config", "--config", file});
  BOOST_TEST(f.origins["redis.user"] == "config file " + file + ":2:9");
  const std::string shown = describe_settings(s);
  BOOST_TEST(shown.find("user: env-user  # env REDIS_USER") != std::string::npos, shown);
  BOOST_TEST(shown.find("window: 9  # flag --window") != std::string::npos, shown);
  BOOST_TEST(shown.find("scan_count: 1000  # default") != std::string::npos, shown);
  BOOST_TEST(shown.find("\n    location:") == std::string::npos, shown);  // shown once
}

BOOST_AUTO_TEST_CASE(several_locations_and_the_bucket) {
  temp_dir dir;
  BOOST_TEST(store_locations(load({"backup", "--node", "a:1", "--to", "/x", "--to", "s3://b/p"})) ==
             (std::vector<std::string>{"/x", "s3://b/p"}));
  // BACKUP_DIR and S3_BUCKET_NAME: both get every backup, local first.
  env_map legacy{{"BACKUP_DIR", "/backup"}, {"S3_BUCKET_NAME", "bk"}, {"REDIS_NODE", "a:1"}};
  BOOST_TEST(store_locations(load({"backup"}, legacy)) ==
             (std::vector<std::string>{"/backup", "s3://bk"}));
  // A location in S3 already: the bucket is not a second one.
  BOOST_TEST(store_locations(load({"backup", "--to", "s3://other/x"}, legacy)) ==
             (std::vector<std::string>{"s3://other/x"}));
  BOOST_TEST(store_locations(load({"list"}, {{"S3_BUCKET_NAME", "bk"}})) ==
             (std::vector<std::string>{"s3://bk"}));
  auto file = dir.write("k.yaml", "store:\n  locations: [/a, s3://b/c]\n");
  BOOST_TEST(load({"list", "--config", file}).locations ==
             (std::vector<std::string>{"/a", "s3://b/c"}));
  // The flags' list replaces the file's.
  BOOST_TEST(load({"list", "--config", file, "--from", "/z"}).locations ==
             (std::vector<std::string>{"/z"}));
}

BOOST_AUTO_TEST_CASE(the_existing_deployments_cycle) {
  temp_dir dir;
  env_map legacy{{"SCHEDULE_TIME", "2"},       {"PATTERN", "a*,b*"},
                 {"BACKUP_DIR", "/backup"},    {"S3_ENDPOINT_URL", "http://127.0.0.1:1"},
                 {"S3_BUCKET_NAME", "bk"},     {"REDIS_NODE", "a:1"},
                 {"NODECONF_FILE_PATH", "/n"}, {"KUBECONFIG", "/k"}};
  auto s = load({"run"}, legacy);
  BOOST_TEST(s.legacy_cycle);
  BOOST_TEST(s.restore_missing);
  BOOST_TEST(s.origins["restore.missing_after_backup"].find("existing deployments") !=
             std::string::npos);
  BOOST_TEST(s.patterns == (std::vector<std::string>{"a*", "b*"}));
  // RESTORE_MISSING=false turns the restore off.
  auto off = legacy;
  off["RESTORE_MISSING"] = "false";
  s = load({"run"}, off);
  BOOST_TEST(s.legacy_cycle);
  BOOST_TEST(!s.restore_missing);
  BOOST_TEST(s.origins["restore.missing_after_backup"] == "env RESTORE_MISSING");
  // A config file, or a schedule from elsewhere, is not the existing deployments' setup.
  auto file = dir.write("empty.yaml", "");
  s = load({"run", "--config", file}, legacy);
  BOOST_TEST(!s.legacy_cycle);
  BOOST_TEST(!s.restore_missing);
  auto flagged = legacy;
  flagged.erase("SCHEDULE_TIME");
  s = load({"run", "--every", "5"}, flagged);
  BOOST_TEST(!s.legacy_cycle);
  // 'kage config' shows what 'kage run' would do.
  s = load({"config"}, legacy);
  BOOST_TEST(s.restore_missing);
}

BOOST_AUTO_TEST_SUITE_END()
