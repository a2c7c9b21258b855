#include "kage/config_loader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <type_traits>
#include <variant>

#include "kage/suggestions.hpp"
#include "kage/text.hpp"
#include "kage/value_parsers.hpp"

namespace kage::cli::detail {
namespace {

// POSIX reads give errno for every failure, including a directory given as a file (EISDIR).
// A config file is a few KiB; anything past this is the wrong file (/dev/zero, a backup).
constexpr std::size_t max_config_bytes = 1 << 20;

std::error_code read_whole_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {errno, std::generic_category()};
  out.clear();
  char buffer[8192];
  std::error_code ec;
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ec = {errno, std::generic_category()};
      break;
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_config_bytes) {
      ec = std::make_error_code(std::errc::file_too_large);
      break;
    }
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return ec;
}

std::string at(const std::string& path, const YAML::Mark& mark) {
  if (mark.is_null()) return path + ": ";
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": ";
}

std::string what_it_is(const YAML::Node& n) {
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  if (n.IsScalar()) return quoted(n.Scalar());
  return "nothing";
}

}  // namespace

void loader::assign_list(const setting_spec& spec, std::vector<std::string> items,
                         const std::string& where, layer& l) {
  for (const auto& item : items)
    if (spec.check)
      if (auto why = spec.check(item))
        throw usage_error(where + ": expected " + std::string(spec.metavar) + ", got " +
                          quoted(item) + " (" + *why + ")");
  auto& list = s.*std::get<std::vector<std::string> settings::*>(spec.target);
  if (l.touched.insert(&spec).second) list.clear();
  list.insert(list.end(), items.begin(), items.end());
}

// text: a scalar from any source; for lists it is comma-separated.
void loader::assign(const setting_spec& spec, std::string_view text, const std::string& where,
                    layer& l) {
  if (std::holds_alternative<std::vector<std::string> settings::*>(spec.target))
    return assign_list(spec, split_commas(text), where, l);
  l.touched.insert(&spec);
  std::visit(
      [&](auto m) {
        using type = std::remove_reference_t<decltype(s.*m)>;
        if constexpr (std::is_same_v<type, bool>) {
          s.*m = parse_bool(text, where);
        } else if constexpr (std::is_same_v<type, int>) {
          s.*m = parse_count(spec, text, where);
        } else if constexpr (!std::is_same_v<type, std::vector<std::string>>) {
          if (text.empty()) throw usage_error(where + ": expected a value, got nothing");
          s.*m = spec.choices.empty() ? std::string(text) : parse_choice(spec, text, where);
        }
      },
      spec.target);
  // The password and its file are one setting: whichever comes last wins.
  if (spec.key == "redis.password") {
    if (text == "<redacted>")
      throw usage_error(where +
                        ": the password is '<redacted>', as 'kage config' prints it; "
                        "give the real password, or use redis.password_file");
    s.password_file.clear();
  } else if (spec.key == "redis.password_file") {
    s.password.reset();
    password_file_origin = where;
  } else if (spec.key == "redis.sentinel.password") {
    if (text == "<redacted>")
      throw usage_error(where +
                        ": the sentinel password is '<redacted>', as 'kage config' prints it; "
                        "give the real password, or use redis.sentinel.password_file");
    s.sentinel_password_file.clear();
  } else if (spec.key == "redis.sentinel.password_file") {
    s.sentinel_password.reset();
    sentinel_password_file_origin = where;
  }
}

// Two sources for the password within one layer is a mistake worth stopping for.
void loader::check_layer(const layer& l) const {
  for (const auto& prefix : {std::string("redis."), std::string("redis.sentinel.")}) {
    const auto& password = spec_for(prefix + "password");
    const auto& file = spec_for(prefix + "password_file");
    if (!l.touched.count(&password) || !l.touched.count(&file)) continue;
    bool env = l.name == "the environment";
    throw usage_error(
        l.name + " gives both a password (" + std::string(env ? password.env[0] : password.key) +
        ") and a password file (" + std::string(env ? file.env[0] : file.key) + "); keep only one");
  }
}

void loader::load_file(const std::string& path) {
  std::string text;
  auto ec = read_whole_file(path, text);
  if (ec == std::errc::file_too_large)
    throw usage_error("config file " + quoted(path) + " is larger than " +
                      std::to_string(max_config_bytes >> 20) +
                      " MiB, far more than any kage config; check the path given to --config or "
                      "KAGE_CONFIG");
  if (ec) throw usage_error("cannot read config file " + quoted(path) + ": " + ec.message());
  load_text(text, path);
}

void loader::load_text(const std::string& text, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw usage_error(at(path, e.mark) + e.msg);
  }
  if (root.IsNull()) return;  // empty, or only comments
  if (!root.IsMap())
    throw usage_error(at(path, root.Mark()) +
                      "expected a map of settings (such as 'redis:'), got " + what_it_is(root));
  layer l{"config file " + quoted(path), {}};
  std::map<std::string, int> seen;
  load_map(root, "", path, seen, l);
  check_layer(l);
}

void loader::load_map(const YAML::Node& map, const std::string& prefix, const std::string& path,
                      std::map<std::string, int>& seen, layer& l) {
  for (const auto& pair : map) {
    const YAML::Node& key = pair.first;
    const YAML::Node& value = pair.second;
    if (!key.IsScalar())
      throw usage_error(at(path, key.Mark()) + "expected a setting name, got " + what_it_is(key));
    std::string name = prefix.empty() ? key.Scalar() : prefix + "." + key.Scalar();
    // yaml-cpp keeps both copies of a repeated key; silently taking one would hide a mistake.
    if (auto [it, fresh] = seen.emplace(name, key.Mark().line + 1); !fresh)
      throw usage_error(at(path, key.Mark()) + name + " is set twice (first on line " +
                        std::to_string(it->second) + ")");
    if (is_section(name)) {
      if (value.IsNull()) continue;
      if (!value.IsMap())
        throw usage_error(at(path, value.Mark()) + name + ": expected a map of settings, got " +
                          what_it_is(value));
      load_map(value, name, path, seen, l);
      continue;
    }
    const setting_spec* spec = find_key(name);
    if (!spec) {
      std::vector<std::string> known;
      std::optional<std::string> moved;  // same name in another section ("redis.patterns")
      auto leaf = name.substr(name.rfind('.') + 1);
      for (const auto& other : setting_table()) {
        if (other.key.empty()) continue;
        known.emplace_back(other.key);
        for (auto dot = other.key.find('.'); dot != std::string_view::npos;
             dot = other.key.find('.', dot + 1))
          known.emplace_back(other.key.substr(0, dot));
        if (other.key.substr(other.key.rfind('.') + 1) == leaf) moved = std::string(other.key);
      }
      auto hint = closest(name, known);
      throw usage_error(at(path, key.Mark()) + "unknown setting " + quoted(name) +
                        did_you_mean(hint ? hint : moved));
    }
    const std::string here = at(path, value.Mark());
    load_value(*spec, value, here + name, "config file " + here.substr(0, here.size() - 2), l);
  }
}

void loader::note(const setting_spec& spec, std::string origin) {
  for (const auto& first : setting_table()) {
    if (first.target != spec.target) continue;
    if (!first.key.empty()) s.origins[std::string(first.key)] = std::move(origin);
    return;
  }
}

void loader::load_value(const setting_spec& spec, const YAML::Node& value, const std::string& where,
                        const std::string& origin, layer& l) {
  // "user:" or 'user: ""' (as 'kage config' prints unset values) leaves the setting alone.
  if (value.IsNull()) return;
  bool is_list = std::holds_alternative<std::vector<std::string> settings::*>(spec.target);
  if (is_list && value.IsSequence()) {
    std::vector<std::string> items;
    for (const auto& item : value) {
      if (!item.IsScalar())
        bad_value(where, "a list of strings", what_it_is(item) + " in the list");
      items.push_back(item.Scalar());
    }
    note(spec, origin);
    return assign_list(spec, std::move(items), where, l);
  }
  if (!value.IsScalar())
    throw usage_error(where + ": expected " +
                      (is_list ? std::string("a list or a comma-separated string") : "a value") +
                      ", got " + what_it_is(value));
  if (value.Scalar().empty() && !is_list) return;
  assign(spec, value.Scalar(), where, l);
  note(spec, origin);
}

void loader::load_env(const std::map<std::string, std::string>& env) {
  layer l{"the environment", {}};
  for (const auto& spec : setting_table()) {
    for (auto name : spec.env) {
      if (name.empty()) continue;
      auto it = env.find(std::string(name));
      if (it == env.end() || it->second.empty()) continue;  // empty counts as unset
      assign(spec, it->second, "environment variable " + std::string(name), l);
      note(spec, "env " + std::string(name));
    }
  }
  check_layer(l);
}

// Cross-setting rules that only make sense once every layer is in.
void loader::finish() {
  if (!s.password_file.empty()) {
    std::string text;
    if (auto ec = read_whole_file(s.password_file, text))
      throw usage_error(password_file_origin + ": cannot read password file " +
                        quoted(s.password_file) + ": " + ec.message());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.empty())
      throw usage_error(password_file_origin + ": password file " + quoted(s.password_file) +
                        " is empty");
    s.password = std::move(text);
  }
  if (!s.sentinel_password_file.empty()) {
    std::string text;
    if (auto ec = read_whole_file(s.sentinel_password_file, text))
      throw usage_error(sentinel_password_file_origin + ": cannot read sentinel password file " +
                        quoted(s.sentinel_password_file) + ": " + ec.message());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.empty())
      throw usage_error(sentinel_password_file_origin + ": sentinel password file " +
                        quoted(s.sentinel_password_file) + " is empty");
    s.sentinel_password = std::move(text);
  }
  if (!s.ca_file.empty() || !s.cert_file.empty() || !s.key_file.empty()) s.tls = true;
  if (s.cert_file.empty() != s.key_file.empty())
    throw usage_error(std::string("a TLS client certificate and its private key go together: ") +
                      (s.cert_file.empty() ? "a key is set but no certificate"
                                           : "a certificate is set but no key") +
                      "; set both --cert and --key (TLS_CRT and TLS_KEY, or redis.cert_file and "
                      "redis.key_file)");

  const auto& c = s.command;
  bool needs_nodes = c == "backup" || c == "restore" || c == "snapshot" || c == "run";
  bool needs_location =
      needs_nodes || c == "fetch" || c == "list" || c == "verify" || c == "show" || c == "prune";
  if (needs_nodes && s.nodes.empty() && s.sentinel_nodes.empty())
    throw usage_error("kage " + c +
                      " needs a Redis node: pass --node HOST:PORT or set REDIS_NODE (for a "
                      "Sentinel deployment: --sentinel HOST:PORT or SENTINEL_NODES)");
  if (!s.nodes.empty() && !s.sentinel_nodes.empty())
    throw usage_error(
        "both Redis nodes (--node, REDIS_NODE, redis.nodes) and sentinels (--sentinel, "
        "SENTINEL_NODES, redis.sentinel.nodes) are set; name the sentinels alone for a Sentinel "
        "deployment, the nodes alone for a cluster or a single server");
  if (c == "fetch" && s.node_id.empty())
    throw usage_error(
        "kage fetch needs --node-id ID: the cluster node id (CLUSTER MYID) whose "
        "files to fetch");
  if (c == "fetch" && s.data_dir.empty())
    throw usage_error("kage fetch needs --to DIR: the Redis data directory to put the files in");
  if (c == "run" && s.schedule_seconds == 0 && s.schedule_cron.empty())
    throw usage_error(
        "kage run needs a schedule: set schedule.every_seconds in the config file, "
        "SCHEDULE_TIME, or --every SECONDS (or a cron expression: schedule.cron, "
        "KAGE_CRON, --cron)");
  if (c == "run" && s.schedule_seconds != 0 && !s.schedule_cron.empty())
    throw usage_error(
        "kage run takes one schedule: schedule.every_seconds (SCHEDULE_TIME, "
        "--every) or schedule.cron (KAGE_CRON, --cron), not both");
  if (c == "heal" && s.pod_selector.empty())
    throw usage_error(
        "kage heal needs the Redis pods: pass --pods SELECTOR (a label selector such as "
        "app.kubernetes.io/instance=redis), or set KAGE_POD_SELECTOR or k8s.pod_selector");
  if (c == "run" && s.heal_enabled && s.pod_selector.empty())
    throw usage_error(
        "heal.enabled needs the Redis pods: set k8s.pod_selector (a label selector such as "
        "app.kubernetes.io/instance=redis) or KAGE_POD_SELECTOR");
  // The existing deployments' cycle: their tool restored missing keys every cycle. 'kage
  // config' shows what 'kage run' would do with the same settings.
  if ((c == "run" || c == "config") && s.config_file.empty() &&
      s.origins["schedule.every_seconds"] == "env SCHEDULE_TIME") {
    s.legacy_cycle = true;
    if (!s.origins.count("restore.missing_after_backup")) {
      s.restore_missing = true;
      s.origins["restore.missing_after_backup"] =
          "default with the existing deployments' variables (SCHEDULE_TIME, no config file)";
    }
  }
  if (c == "prune" && s.keep_last == 0 && s.keep_within.empty())
    throw usage_error("kage prune needs a rule: --keep-last N and/or --keep-within AGE");
  if (s.part_size_mb < 5)
    throw usage_error("store.s3.part_size_mb: S3 parts must be at least 5 MiB, got " +
                      std::to_string(s.part_size_mb));
  if (needs_location && store_locations(s).empty())
    throw usage_error("kage " + c + " needs a backup location: pass " +
                      (c == "backup" || c == "snapshot" ? "--to" : "--from") +
                      " LOCATION or set BACKUP_DIR");
}

}  // namespace kage::cli::detail
