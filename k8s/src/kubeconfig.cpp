#include <kage/k8s/kubeconfig.hpp>

#include "base64.hpp"

#include <yaml-cpp/yaml.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

namespace kage::k8s {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view exec_v1 = "client.authentication.k8s.io/v1";
constexpr std::string_view exec_v1beta1 = "client.authentication.k8s.io/v1beta1";

std::string quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

[[noreturn]] void bad_config(const std::string& message) {
  throw kage::failure(exit_code::usage, make_error_code(errc::bad_kubeconfig), message);
}

[[noreturn]] void bad_credential(const std::string& message) {
  throw kage::failure(exit_code::failure, make_error_code(errc::bad_exec_credential),
                      "exec credential plugin: " + message);
}

std::string what_it_is(const YAML::Node& n) {
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  if (n.IsScalar()) return quote(n.Scalar());
  return "nothing";
}

// Reads one document; every message starts "kubeconfig <origin>:<line>:<column>: <field>: ".
class reader {
 public:
  reader(std::string_view origin, const fs::path& base_dir) : origin_(origin), base_(base_dir) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& field,
                         const std::string& what) const {
    std::string where = "kubeconfig " + origin_;
    const YAML::Mark mark = at.Mark();
    if (!mark.is_null())
      where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    bad_config(where + ": " + field + ": " + what);
  }

  std::string string(const YAML::Node& n, const std::string& field) const {
    if (!n || n.IsNull()) return {};
    if (!n.IsScalar()) fail(n, field, "expected a string, got " + what_it_is(n));
    return n.Scalar();
  }

  bool boolean(const YAML::Node& n, const std::string& field) const {
    if (!n || n.IsNull()) return false;
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    fail(n, field, "expected true or false, got " + what_it_is(n));
  }

  std::string base64(const YAML::Node& n, const std::string& field) const {
    auto decoded = detail::base64_decode(string(n, field));
    if (!decoded) fail(n, field, "is not valid base64");
    return std::move(*decoded);
  }

  // kubectl resolves relative file references against the directory of the file naming them.
  std::string path(const YAML::Node& n, const std::string& field) const {
    std::string p = string(n, field);
    if (p.empty() || fs::path(p).is_absolute()) return p;
    return (base_ / p).lexically_normal().string();
  }

  void check_map(const YAML::Node& n, const std::string& field) const {
    if (n && !n.IsNull() && !n.IsMap()) fail(n, field, "expected a map, got " + what_it_is(n));
  }

  // A list of {name: .., <item_key>: {..}} entries, as clusters, users and contexts are.
  template <typename T, typename Parse>
  void named_list(const YAML::Node& root, const std::string& key, const std::string& item_key,
                  std::map<std::string, T>& out, Parse parse) const {
    const YAML::Node list = root[key];
    if (!list || list.IsNull()) return;
    if (!list.IsSequence()) fail(list, key, "expected a list, got " + what_it_is(list));
    std::size_t index = 0;
    for (const YAML::Node& entry : list) {
      const std::string at = key + "[" + std::to_string(index++) + "]";
      if (!entry.IsMap()) fail(entry, at, "expected a map with name and " + item_key);
      const std::string name = string(entry["name"], at + ".name");
      if (name.empty()) fail(entry, at + ".name", "is missing");
      const YAML::Node body = entry[item_key];
      const std::string field = at + "." + item_key + " (" + quote(name) + ")";
      check_map(body, field);
      T item = parse(body, field);
      item.origin = origin_;
      // clientcmd refuses a name listed twice in one file (a later one would silently win).
      if (!out.emplace(name, std::move(item)).second)
        fail(entry, at + ".name", quote(name) + " is listed twice in " + key);
    }
  }

  kube_cluster cluster(const YAML::Node& n, const std::string& f) const {
    kube_cluster c;
    if (!n || n.IsNull()) return c;
    c.server = string(n["server"], f + ".server");
    c.certificate_authority = path(n["certificate-authority"], f + ".certificate-authority");
    c.certificate_authority_data =
        base64(n["certificate-authority-data"], f + ".certificate-authority-data");
    c.insecure_skip_tls_verify =
        boolean(n["insecure-skip-tls-verify"], f + ".insecure-skip-tls-verify");
    c.tls_server_name = string(n["tls-server-name"], f + ".tls-server-name");
    c.proxy_url = string(n["proxy-url"], f + ".proxy-url");
    return c;
  }

  exec_config exec(const YAML::Node& n, const std::string& f) const {
    exec_config e;
    e.api_version = string(n["apiVersion"], f + ".apiVersion");
    if (e.api_version.empty()) fail(n, f + ".apiVersion", "is missing");
    if (e.api_version != exec_v1 && e.api_version != exec_v1beta1)
      fail(n["apiVersion"], f + ".apiVersion",
           quote(e.api_version) + " is not supported (use " + std::string(exec_v1) + ")");
    e.command = string(n["command"], f + ".command");
    if (e.command.empty()) fail(n, f + ".command", "is missing");
    // A relative command with a directory in it is relative to the kubeconfig, as in kubectl;
    // a bare name is looked up in PATH when run.
    if (e.command.find('/') != std::string::npos) e.command = path(n["command"], f + ".command");
    if (const YAML::Node args = n["args"]; args && !args.IsNull()) {
      if (!args.IsSequence()) fail(args, f + ".args", "expected a list, got " + what_it_is(args));
      std::size_t i = 0;
      for (const YAML::Node& a : args)
        e.args.push_back(string(a, f + ".args[" + std::to_string(i++) + "]"));
    }
    if (const YAML::Node env = n["env"]; env && !env.IsNull()) {
      if (!env.IsSequence()) fail(env, f + ".env", "expected a list, got " + what_it_is(env));
      std::size_t i = 0;
      for (const YAML::Node& v : env) {
        const std::string at = f + ".env[" + std::to_string(i++) + "]";
        if (!v.IsMap()) fail(v, at, "expected a map with name and value, got " + what_it_is(v));
        exec_env_var var{string(v["name"], at + ".name"), string(v["value"], at + ".value")};
        if (var.name.empty()) fail(v, at + ".name", "is missing");
        e.env.push_back(std::move(var));
      }
    }
    const std::string mode = string(n["interactiveMode"], f + ".interactiveMode");
    if (mode == "Never") {
      e.interactive_mode = exec_interactive_mode::never;
    } else if (mode == "IfAvailable") {
      e.interactive_mode = exec_interactive_mode::if_available;
    } else if (mode == "Always") {
      e.interactive_mode = exec_interactive_mode::always;
    } else if (!mode.empty()) {
      fail(n["interactiveMode"], f + ".interactiveMode",
           quote(mode) + " is not one of Never, IfAvailable, Always");
    } else if (e.api_version == exec_v1) {
      // v1beta1 defaults to IfAvailable; v1 makes the author choose (clientcmd validation).
      fail(n, f + ".interactiveMode",
           "is required with " + std::string(exec_v1) + " (Never, IfAvailable or Always)");
    }
    e.provide_cluster_info = boolean(n["provideClusterInfo"], f + ".provideClusterInfo");
    e.install_hint = string(n["installHint"], f + ".installHint");
    return e;
  }

  kube_user user(const YAML::Node& n, const std::string& f) const {
    kube_user u;
    if (!n || n.IsNull()) return u;
    u.token = string(n["token"], f + ".token");
    u.token_file = path(n["tokenFile"], f + ".tokenFile");
    u.client_certificate = path(n["client-certificate"], f + ".client-certificate");
    u.client_certificate_data =
        base64(n["client-certificate-data"], f + ".client-certificate-data");
    u.client_key = path(n["client-key"], f + ".client-key");
    u.client_key_data = base64(n["client-key-data"], f + ".client-key-data");
    u.username = string(n["username"], f + ".username");
    u.password = string(n["password"], f + ".password");
    if (const YAML::Node e = n["exec"]; e && !e.IsNull()) {
      check_map(e, f + ".exec");
      u.exec = exec(e, f + ".exec");
    }
    if (const YAML::Node a = n["auth-provider"]; a && !a.IsNull()) u.auth_provider = true;
    return u;
  }

  kube_context context(const YAML::Node& n, const std::string& f) const {
    kube_context c;
    if (!n || n.IsNull()) return c;
    c.cluster = string(n["cluster"], f + ".cluster");
    c.user = string(n["user"], f + ".user");
    c.namespace_ = string(n["namespace"], f + ".namespace");
    return c;
  }

 private:
  std::string origin_;
  fs::path base_;
};

std::string read_file(const fs::path& file, std::error_code& ec) {
  ec.clear();
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    ec = std::error_code(errno ? errno : ENOENT, std::generic_category());
    return {};
  }
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) ec = std::make_error_code(std::errc::io_error);
  return s.str();
}

std::string trim(std::string s) {
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && space(s.back())) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && space(s[start])) ++start;
  return s.substr(start);
}

std::string describe_files(const kubeconfig& c) {
  if (c.files.empty()) return "kubeconfig";
  std::string out = "kubeconfig ";
  for (std::size_t i = 0; i < c.files.size(); ++i) out += (i ? ", " : "") + c.files[i];
  return out;
}

}  // namespace

kubeconfig parse_kubeconfig(std::string_view yaml, std::string_view origin,
                            const fs::path& base_dir) {
  kubeconfig config;
  config.files.emplace_back(origin);
  reader r(origin, base_dir);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    std::string where = "kubeconfig " + std::string(origin);
    if (!e.mark.is_null())
      where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    bad_config(where + ": not valid YAML: " + e.msg);
  }
  if (!root || root.IsNull()) return config;  // empty, or only comments: kubectl accepts it
  if (!root.IsMap())
    r.fail(root, "top level",
           "expected a map (apiVersion, clusters, users, contexts), got " + what_it_is(root));
  try {
    r.named_list(root, "clusters", "cluster", config.clusters,
                 [&](const YAML::Node& n, const std::string& f) { return r.cluster(n, f); });
    r.named_list(root, "users", "user", config.users,
                 [&](const YAML::Node& n, const std::string& f) { return r.user(n, f); });
    r.named_list(root, "contexts", "context", config.contexts,
                 [&](const YAML::Node& n, const std::string& f) { return r.context(n, f); });
    config.current_context = r.string(root["current-context"], "current-context");
  } catch (const YAML::Exception& e) {
    // yaml-cpp reports some structural problems only when a node is looked at.
    bad_config("kubeconfig " + std::string(origin) + ": cannot be read: " + e.msg);
  }
  return config;
}

kubeconfig load_kubeconfig_file(const fs::path& file) {
  std::error_code ec;
  const std::string text = read_file(file, ec);
  if (ec) bad_config("cannot read kubeconfig " + file.string() + ": " + ec.message());
  const fs::path dir = fs::absolute(file, ec).parent_path();
  return parse_kubeconfig(text, file.string(), ec ? file.parent_path() : dir);
}

void merge_kubeconfig(kubeconfig& into, kubeconfig from) {
  // map::insert leaves a name already present alone: the first file wins.
  into.clusters.insert(std::make_move_iterator(from.clusters.begin()),
                       std::make_move_iterator(from.clusters.end()));
  into.users.insert(std::make_move_iterator(from.users.begin()),
                    std::make_move_iterator(from.users.end()));
  into.contexts.insert(std::make_move_iterator(from.contexts.begin()),
                       std::make_move_iterator(from.contexts.end()));
  if (into.current_context.empty()) into.current_context = std::move(from.current_context);
  for (auto& f : from.files) into.files.push_back(std::move(f));
}

kubeconfig load_kubeconfig_list(std::string_view list) {
  kubeconfig merged;
  std::set<std::string> seen;
  std::vector<std::string> missing;
  bool any = false;
  while (true) {
    const auto colon = list.find(':');
    const std::string file(list.substr(0, colon));
    if (!file.empty() && seen.insert(file).second) {
      std::error_code ec;
      if (!fs::exists(file, ec) && !ec) {
        missing.push_back(file);
      } else {
        merge_kubeconfig(merged, load_kubeconfig_file(file));
        any = true;
      }
    }
    if (colon == std::string_view::npos) break;
    list.remove_prefix(colon + 1);
  }
  if (!any) {
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    bad_config(names.empty() ? std::string("no kubeconfig file given")
                             : "no kubeconfig file found (looked for " + names + ")");
  }
  return merged;
}

std::string kubeconfig_search_list(std::string_view kubeconfig_env, std::string_view home) {
  if (!kubeconfig_env.empty()) return std::string(kubeconfig_env);
  return std::string(home) + "/.kube/config";
}

rest_config select_context(const kubeconfig& config, std::string_view context) {
  const std::string files = describe_files(config);
  const std::string name(context.empty() ? std::string_view(config.current_context) : context);
  if (name.empty())
    bad_config(files +
               ": no current-context is set and no context was named; set one with "
               "'kubectl config use-context' or name one");
  const auto ctx = config.contexts.find(name);
  if (ctx == config.contexts.end()) {
    std::string known;
    for (const auto& [n, c] : config.contexts) known += (known.empty() ? "" : ", ") + n;
    bad_config(files + ": context " + quote(name) + " is not defined" +
               (known.empty() ? std::string(" (no contexts at all)") : " (known: " + known + ")"));
  }
  const kube_context& c = ctx->second;
  const std::string in = "kubeconfig " + c.origin + ": context " + quote(name);
  if (c.cluster.empty()) bad_config(in + " names no cluster");
  const auto cl = config.clusters.find(c.cluster);
  if (cl == config.clusters.end())
    bad_config(in + " names cluster " + quote(c.cluster) + ", which is not defined");
  const kube_cluster& k = cl->second;
  const std::string cin = "kubeconfig " + k.origin + ": cluster " + quote(c.cluster);
  if (k.server.empty()) bad_config(cin + " has no server");
  if (!k.certificate_authority.empty() && !k.certificate_authority_data.empty())
    bad_config(cin + " sets both certificate-authority and certificate-authority-data; keep one");
  if (k.insecure_skip_tls_verify &&
      (!k.certificate_authority.empty() || !k.certificate_authority_data.empty()))
    bad_config(cin +
               " sets insecure-skip-tls-verify together with a certificate authority; "
               "keep one");

  rest_config r;
  r.server = k.server.find("://") == std::string::npos ? "https://" + k.server : k.server;
  r.ca_file = k.certificate_authority;
  r.ca_data = k.certificate_authority_data;
  r.insecure_skip_tls_verify = k.insecure_skip_tls_verify;
  r.tls_server_name = k.tls_server_name;
  r.proxy_url = k.proxy_url;
  if (!c.namespace_.empty()) r.namespace_ = c.namespace_;
  r.source = "kubeconfig context " + quote(name) + " (" + c.origin + ")";

  if (!c.user.empty()) {
    const auto us = config.users.find(c.user);
    if (us == config.users.end())
      bad_config(in + " names user " + quote(c.user) + ", which is not defined");
    const kube_user& u = us->second;
    const std::string uin = "kubeconfig " + u.origin + ": user " + quote(c.user);
    if (u.auth_provider)
      bad_config(uin +
                 " uses auth-provider, which kage does not support (kubectl dropped it "
                 "in 1.26); use an exec credential plugin such as "
                 "gke-gcloud-auth-plugin or kubelogin");
    const bool has_token = !u.token.empty() || !u.token_file.empty();
    const bool has_basic = !u.username.empty() || !u.password.empty();
    if (has_token && has_basic)
      bad_config(uin + " sets both a token and a username/password; only one is allowed");
    if (!u.client_certificate.empty() && !u.client_certificate_data.empty())
      bad_config(uin + " sets both client-certificate and client-certificate-data; keep one");
    if (!u.client_key.empty() && !u.client_key_data.empty())
      bad_config(uin + " sets both client-key and client-key-data; keep one");
    const bool has_cert = !u.client_certificate.empty() || !u.client_certificate_data.empty();
    const bool has_key = !u.client_key.empty() || !u.client_key_data.empty();
    if (has_cert != has_key)
      bad_config(uin + (has_cert ? " sets a client certificate without its client key"
                                 : " sets a client key without its client certificate"));
    r.token = u.token;
    r.token_file = u.token_file;
    r.client_certificate_file = u.client_certificate;
    r.client_certificate_data = u.client_certificate_data;
    r.client_key_file = u.client_key;
    r.client_key_data = u.client_key_data;
    r.username = u.username;
    r.password = u.password;
    r.exec = u.exec;
  }
  return r;
}

rest_config in_cluster_config(std::string_view host, std::string_view port, const fs::path& dir) {
  if (host.empty() || port.empty())
    throw kage::failure(exit_code::usage, make_error_code(errc::not_in_cluster),
                        "in-cluster configuration: KUBERNETES_SERVICE_HOST and "
                        "KUBERNETES_SERVICE_PORT must both be set (they are in a pod)");
  rest_config r;
  const bool ipv6 = host.find(':') != std::string_view::npos && host.front() != '[';
  r.server = "https://" + (ipv6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" +
             std::string(port);
  r.token_file = (dir / "token").string();
  std::error_code ec;
  r.token = trim(read_file(r.token_file, ec));
  if (ec)
    throw kage::failure(exit_code::usage, make_error_code(errc::not_in_cluster),
                        "in-cluster configuration: cannot read the service account token " +
                            r.token_file + ": " + ec.message() +
                            " (is automountServiceAccountToken disabled?)");
  if (r.token.empty())
    throw kage::failure(
        exit_code::usage, make_error_code(errc::not_in_cluster),
        "in-cluster configuration: the service account token " + r.token_file + " is empty");
  if (const fs::path ca = dir / "ca.crt"; fs::exists(ca, ec)) r.ca_file = ca.string();
  const std::string ns = trim(read_file(dir / "namespace", ec));
  if (!ec && !ns.empty()) r.namespace_ = ns;
  r.source = "in-cluster service account (" + dir.string() + ")";
  return r;
}

rest_config in_cluster_config_from_env(const fs::path& dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  rest_config r = in_cluster_config(host ? host : "", port ? port : "", dir);
  if (const char* ns = std::getenv("POD_NAMESPACE"); ns && *ns) r.namespace_ = ns;
  return r;
}

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
long long days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = static_cast<int>(y - era * 400);
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
      !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
      !digits(s, 17, 2, second))
    return std::nullopt;
  static constexpr int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > month_days[month - 1] ||
      (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  std::size_t pos = 19;
  std::chrono::nanoseconds fraction{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    long long ns = 0;
    int scale = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale < 9) {
        ns = ns * 10 + (s[pos] - '0');
        ++scale;
      }
      ++pos;
    }
    if (pos == start) return std::nullopt;
    for (; scale < 9; ++scale) ns *= 10;
    fraction = std::chrono::nanoseconds(ns);
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_minutes = (s[pos] == '-' ? -1 : 1) * (oh * 60 + om);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const long long seconds = days_from_civil(year, month, day) * 86400LL + hour * 3600LL +
                            minute * 60LL + std::min(second, 59) - offset_minutes * 60LL;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(seconds) + fraction));
}

exec_credential parse_exec_credential(std::string_view text,
                                      std::string_view expected_api_version) {
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec) bad_credential("the answer is not JSON: " + ec.message());
  const json::object* o = v.if_object();
  if (!o) bad_credential("the answer is not a JSON object");
  const auto str = [](const json::object& obj, std::string_view key,
                      const std::string& field) -> std::string {
    const json::value* x = obj.if_contains(key);
    if (!x || x->is_null()) return {};
    if (!x->is_string()) bad_credential(field + " is not a string");
    return std::string(x->get_string());
  };
  const std::string api_version = str(*o, "apiVersion", "apiVersion");
  if (api_version != expected_api_version)
    bad_credential("the plugin is configured for " + quote(expected_api_version) +
                   " but answered with apiVersion " + quote(api_version));
  if (const std::string kind = str(*o, "kind", "kind"); kind != "ExecCredential")
    bad_credential("the answer's kind is " + quote(kind) + ", not \"ExecCredential\"");
  const json::value* st = o->if_contains("status");
  if (!st || st->is_null()) bad_credential("the answer has no status");
  const json::object* s = st->if_object();
  if (!s) bad_credential("status is not an object");
  exec_credential c;
  c.token = str(*s, "token", "status.token");
  c.client_certificate_data = str(*s, "clientCertificateData", "status.clientCertificateData");
  c.client_key_data = str(*s, "clientKeyData", "status.clientKeyData");
  if (const std::string t = str(*s, "expirationTimestamp", "status.expirationTimestamp");
      !t.empty()) {
    c.expiration = parse_rfc3339(t);
    if (!c.expiration)
      bad_credential("status.expirationTimestamp " + quote(t) + " is not an RFC 3339 time");
  }
  if (c.client_certificate_data.empty() != c.client_key_data.empty())
    bad_credential("status has clientCertificateData or clientKeyData but not both");
  if (c.token.empty() && c.client_certificate_data.empty())
    bad_credential("status has neither a token nor a client certificate and key");
  return c;
}

std::string exec_credential_request(const exec_config& exec, const rest_config& cluster,
                                    bool interactive) {
  json::object spec;
  spec["interactive"] = interactive;
  if (exec.provide_cluster_info) {
    json::object c;
    c["server"] = cluster.server;
    if (!cluster.tls_server_name.empty()) c["tls-server-name"] = cluster.tls_server_name;
    if (cluster.insecure_skip_tls_verify) c["insecure-skip-tls-verify"] = true;
    if (!cluster.ca_data.empty())
      c["certificate-authority-data"] = detail::base64_encode(cluster.ca_data);
    if (!cluster.proxy_url.empty()) c["proxy-url"] = cluster.proxy_url;
    spec["cluster"] = std::move(c);
  }
  json::object out;
  out["apiVersion"] = exec.api_version;
  out["kind"] = "ExecCredential";
  out["spec"] = std::move(spec);
  return json::serialize(out);
}

}  // namespace kage::k8s
