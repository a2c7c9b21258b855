// Kubeconfig reading (every field, relative paths, merging KUBECONFIG lists, context
// selection and its checks, malformed input naming file and field, truncation at every byte),
// in-cluster configuration from a directory, ExecCredential answers and RFC 3339 times.
#include "k8s_test_util.hpp"

#include <kage/k8s/kubeconfig.hpp>

#include "fixture_process.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace k8s = kage::k8s;
using k8s_test::errc_name;
using kage::test::temp_dir;
using kage::test::write_file;

namespace {

// The failure's message, after checking it is a kage::failure with the expected error code.
std::string failure_of(const std::function<void()>& f,
                       k8s::errc expected = k8s::errc::bad_kubeconfig) {
  try {
    f();
  } catch (const kage::failure& e) {
    BOOST_TEST(errc_name(e.error()) == errc_name(expected));
    return e.what();
  } catch (const std::exception& e) {
    BOOST_ERROR("not a kage::failure: " << e.what());
    return "";
  }
  BOOST_ERROR("expected a failure");
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return true;
  BOOST_TEST_MESSAGE("\"" << text << "\" does not contain \"" << part << "\"");
  return false;
}

k8s::kubeconfig parse(const std::string& yaml, const std::string& dir = "/home/u/.kube") {
  return k8s::parse_kubeconfig(yaml, dir + "/config", dir);
}

// base64 of "-----BEGIN CERTIFICATE-----\nCA\n" and friends.
const std::string ca_pem = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
const std::string ca_b64 =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";

const std::string full = R"(apiVersion: v1
kind: Config
preferences: {}
current-context: kind
clusters:
- name: kind
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: )" +
                         ca_b64 + R"(
    tls-server-name: kubernetes.default
    proxy-url: http://proxy:3128
- name: prod
  cluster:
    server: https://prod.example:443/k8s
    certificate-authority: certs/ca.crt
- name: lab
  cluster:
    server: lab.example:6443
    insecure-skip-tls-verify: true
users:
- name: kind-admin
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
- name: prod-token
  user:
    token: abc.def
    tokenFile: /var/run/token
- name: files
  user:
    client-certificate: ../pki/client.crt
    client-key: /abs/client.key
- name: basic
  user:
    username: admin
    password: "s3cret"
- name: sso
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/kubelogin
      args: [get-token, --oidc-issuer-url, "https://issuer"]
      env:
      - name: FOO
        value: bar
      - name: EMPTY
      interactiveMode: Never
      provideClusterInfo: true
      installHint: install kubelogin
- name: legacy
  user:
    auth-provider:
      name: gcp
contexts:
- name: kind
  context:
    cluster: kind
    user: kind-admin
    namespace: redis
- name: prod
  context: {cluster: prod, user: prod-token}
- name: files
  context: {cluster: prod, user: files}
- name: lab-basic
  context: {cluster: lab, user: basic}
- name: lab-sso
  context: {cluster: lab, user: sso}
- name: legacy
  context: {cluster: lab, user: legacy}
- name: anonymous
  context: {cluster: lab}
- name: no-user
  context: {cluster: lab, user: ghost}
- name: no-cluster
  context: {cluster: ghost, user: basic}
- name: empty
  context: {}
)";

}  // namespace

BOOST_AUTO_TEST_SUITE(k8s_kubeconfig)

BOOST_AUTO_TEST_CASE(every_field) {
  const auto c = parse(full);
  BOOST_TEST(c.current_context == "kind");
  BOOST_TEST(c.clusters.size() == 3u);
  BOOST_TEST(c.users.size() == 6u);
  BOOST_TEST(c.contexts.size() == 10u);

  const auto& kind = c.clusters.at("kind");
  BOOST_TEST(kind.server == "https://127.0.0.1:6443");
  BOOST_TEST(kind.certificate_authority_data == ca_pem);
  BOOST_TEST(kind.certificate_authority == "");
  BOOST_TEST(!kind.insecure_skip_tls_verify);
  BOOST_TEST(kind.tls_server_name == "kubernetes.default");
  BOOST_TEST(kind.proxy_url == "http://proxy:3128");
  BOOST_TEST(kind.origin == "/home/u/.kube/config");
  BOOST_TEST(c.clusters.at("prod").certificate_authority == "/home/u/.kube/certs/ca.crt");
  BOOST_TEST(c.clusters.at("lab").insecure_skip_tls_verify);

  const auto& admin = c.users.at("kind-admin");
  BOOST_TEST(admin.client_certificate_data == "cert");
  BOOST_TEST(admin.client_key_data == "key");
  const auto& tok = c.users.at("prod-token");
  BOOST_TEST(tok.token == "abc.def");
  BOOST_TEST(tok.token_file == "/var/run/token");
  const auto& files = c.users.at("files");
  BOOST_TEST(files.client_certificate == "/home/u/pki/client.crt");
  BOOST_TEST(files.client_key == "/abs/client.key");
  const auto& basic = c.users.at("basic");
  BOOST_TEST(basic.username == "admin");
  BOOST_TEST(basic.password == "s3cret");
  BOOST_TEST(c.users.at("legacy").auth_provider);

  const auto& sso = c.users.at("sso");
  BOOST_REQUIRE(sso.exec);
  BOOST_TEST(sso.exec->api_version == "client.authentication.k8s.io/v1");
  BOOST_TEST(sso.exec->command == "/home/u/.kube/bin/kubelogin");
  BOOST_TEST((sso.exec->args ==
              std::vector<std::string>{"get-token", "--oidc-issuer-url", "https://issuer"}));
  BOOST_REQUIRE_EQUAL(sso.exec->env.size(), 2u);
  BOOST_TEST(sso.exec->env[0].name == "FOO");
  BOOST_TEST(sso.exec->env[0].value == "bar");
  BOOST_TEST(sso.exec->env[1].name == "EMPTY");
  BOOST_TEST(sso.exec->env[1].value == "");
  BOOST_TEST((sso.exec->interactive_mode == k8s::exec_interactive_mode::never));
  BOOST_TEST(sso.exec->provide_cluster_info);
  BOOST_TEST(sso.exec->install_hint == "install kubelogin");

  const auto& ctx = c.contexts.at("kind");
  BOOST_TEST(ctx.cluster == "kind");
  BOOST_TEST(ctx.user == "kind-admin");
  BOOST_TEST(ctx.namespace_ == "redis");
}

BOOST_AUTO_TEST_CASE(select_current_and_named_contexts) {
  const auto c = parse(full);
  const auto kind = k8s::select_context(c);
  BOOST_TEST(kind.server == "https://127.0.0.1:6443");
  BOOST_TEST(kind.ca_data == ca_pem);
  BOOST_TEST(kind.tls_server_name == "kubernetes.default");
  BOOST_TEST(kind.proxy_url == "http://proxy:3128");
  BOOST_TEST(kind.client_certificate_data == "cert");
  BOOST_TEST(kind.client_key_data == "key");
  BOOST_TEST(kind.namespace_ == "redis");
  BOOST_TEST(kind.source == "kubeconfig context \"kind\" (/home/u/.kube/config)");

  const auto prod = k8s::select_context(c, "prod");
  BOOST_TEST(prod.server == "https://prod.example:443/k8s");
  BOOST_TEST(prod.ca_file == "/home/u/.kube/certs/ca.crt");
  BOOST_TEST(prod.token == "abc.def");
  BOOST_TEST(prod.token_file == "/var/run/token");
  BOOST_TEST(prod.namespace_ == "default");

  const auto fl = k8s::select_context(c, "files");
  BOOST_TEST(fl.client_certificate_file == "/home/u/pki/client.crt");
  BOOST_TEST(fl.client_key_file == "/abs/client.key");

  const auto lab = k8s::select_context(c, "lab-basic");
  BOOST_TEST(lab.server == "https://lab.example:6443");  // no scheme: https
  BOOST_TEST(lab.insecure_skip_tls_verify);
  BOOST_TEST(lab.username == "admin");
  BOOST_TEST(lab.password == "s3cret");

  const auto sso = k8s::select_context(c, "lab-sso");
  BOOST_REQUIRE(sso.exec);
  BOOST_TEST(sso.exec->command == "/home/u/.kube/bin/kubelogin");

  const auto anon = k8s::select_context(c, "anonymous");
  BOOST_TEST(anon.token.empty());
  BOOST_TEST(!anon.exec);
}

BOOST_AUTO_TEST_CASE(context_errors) {
  const auto c = parse(full);
  BOOST_TEST(contains(failure_of([&] { k8s::select_context(c, "nope"); }),
                      "context \"nope\" is not defined (known: anonymous, empty, files, kind, "));
  BOOST_TEST(contains(failure_of([&] { k8s::select_context(c, "no-user"); }),
                      "context \"no-user\" names user \"ghost\", which is not defined"));
  BOOST_TEST(contains(failure_of([&] { k8s::select_context(c, "no-cluster"); }),
                      "context \"no-cluster\" names cluster \"ghost\", which is not defined"));
  BOOST_TEST(contains(failure_of([&] { k8s::select_context(c, "empty"); }),
                      "context \"empty\" names no cluster"));
  BOOST_TEST(contains(failure_of([&] { k8s::select_context(c, "legacy"); }),
                      "user \"legacy\" uses auth-provider, which kage does not support"));
  auto none = parse("clusters: []\n");
  BOOST_TEST(contains(failure_of([&] { k8s::select_context(none); }),
                      "kubeconfig /home/u/.kube/config: no current-context is set"));
  BOOST_TEST(contains(failure_of([&] { k8s::select_context(none, "x"); }), "(no contexts at all)"));
}

BOOST_AUTO_TEST_CASE(conflicting_settings) {
  const auto check = [](const std::string& cluster, const std::string& user,
                        const std::string& expected) {
    const std::string yaml =
        "current-context: c\n"
        "clusters: [{name: k, cluster: {" +
        cluster +
        "}}]\n"
        "users: [{name: u, user: {" +
        user +
        "}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n";
    BOOST_TEST_CONTEXT(cluster << " / " << user) {
      const auto c = parse(yaml);
      BOOST_TEST(contains(failure_of([&] { k8s::select_context(c); }), expected));
    }
  };
  check("", "token: t", "cluster \"k\" has no server");
  check("server: s, certificate-authority: ca, certificate-authority-data: eA==", "",
        "sets both certificate-authority and certificate-authority-data");
  check("server: s, insecure-skip-tls-verify: true, certificate-authority: ca", "",
        "insecure-skip-tls-verify together with a certificate authority");
  check("server: s, insecure-skip-tls-verify: true, certificate-authority-data: eA==", "",
        "insecure-skip-tls-verify together with a certificate authority");
  check("server: s", "token: t, username: a, password: b",
        "user \"u\" sets both a token and a username/password");
  check("server: s", "tokenFile: f, username: a", "sets both a token and a username/password");
  check("server: s", "client-certificate: c", "a client certificate without its client key");
  check("server: s", "client-key-data: eA==", "a client key without its client certificate");
  check("server: s", "client-certificate: c, client-certificate-data: eA==, client-key: k",
        "sets both client-certificate and client-certificate-data");
  check("server: s", "client-certificate: c, client-key: k, client-key-data: eA==",
        "sets both client-key and client-key-data");
}

BOOST_AUTO_TEST_CASE(exec_settings) {
  const auto exec = [](const std::string& body) {
    return parse("users: [{name: u, user: {exec: {" + body + "}}}]\n").users.at("u").exec.value();
  };
  auto beta =
      exec("apiVersion: client.authentication.k8s.io/v1beta1, command: gke-gcloud-auth-plugin");
  BOOST_TEST(beta.command == "gke-gcloud-auth-plugin");  // a bare name stays for PATH lookup
  BOOST_TEST((beta.interactive_mode == k8s::exec_interactive_mode::if_available));
  BOOST_TEST(!beta.provide_cluster_info);
  BOOST_TEST(beta.args.empty());
  BOOST_TEST(beta.env.empty());
  auto always = exec(
      "apiVersion: client.authentication.k8s.io/v1, command: /usr/bin/aws, "
      "interactiveMode: Always, args: null, env: null");
  BOOST_TEST((always.interactive_mode == k8s::exec_interactive_mode::always));
  BOOST_TEST(always.command == "/usr/bin/aws");
  auto ifa = exec(
      "apiVersion: client.authentication.k8s.io/v1, command: x, "
      "interactiveMode: IfAvailable");
  BOOST_TEST((ifa.interactive_mode == k8s::exec_interactive_mode::if_available));

  const auto bad = [](const std::string& body) {
    return failure_of([&] { parse("users: [{name: u, user: {exec: {" + body + "}}}]\n"); });
  };
  BOOST_TEST(contains(bad("command: x"), "users[0].user (\"u\").exec.apiVersion: is missing"));
  BOOST_TEST(contains(bad("apiVersion: client.authentication.k8s.io/v1alpha1, command: x"),
                      "\"client.authentication.k8s.io/v1alpha1\" is not supported"));
  BOOST_TEST(
      contains(bad("apiVersion: client.authentication.k8s.io/v1"), "exec.command: is missing"));
  BOOST_TEST(contains(bad("apiVersion: client.authentication.k8s.io/v1, command: x"),
                      "exec.interactiveMode: is required with client.authentication.k8s.io/v1"));
  BOOST_TEST(contains(bad("apiVersion: client.authentication.k8s.io/v1, command: x, "
                          "interactiveMode: Sometimes"),
                      "\"Sometimes\" is not one of Never, IfAvailable, Always"));
  BOOST_TEST(contains(bad("apiVersion: client.authentication.k8s.io/v1beta1, command: x, "
                          "args: a"),
                      "exec.args: expected a list, got \"a\""));
  BOOST_TEST(contains(bad("apiVersion: client.authentication.k8s.io/v1beta1, command: x, "
                          "args: [[a]]"),
                      "exec.args[0]: expected a string, got a list"));
  BOOST_TEST(contains(bad("apiVersion: client.authentication.k8s.io/v1beta1, command: x, "
                          "env: [{value: v}]"),
                      "exec.env[0].name: is missing"));
  BOOST_TEST(contains(bad("apiVersion: client.authentication.k8s.io/v1beta1, command: x, "
                          "env: [a]"),
                      "exec.env[0]: expected a map with name and value"));
  BOOST_TEST(contains(bad("apiVersion: client.authentication.k8s.io/v1beta1, command: x, "
                          "provideClusterInfo: perhaps"),
                      "exec.provideClusterInfo: expected true or false, got \"perhaps\""));
  BOOST_TEST(contains(failure_of([] { parse("users: [{name: u, user: {exec: [x]}}]\n"); }),
                      "users[0].user (\"u\").exec: expected a map, got a list"));
}

BOOST_AUTO_TEST_CASE(malformed_documents_name_file_line_and_field) {
  struct case_t {
    std::string yaml;
    std::string expected;
  };
  const std::vector<case_t> cases = {
      {"clusters: [", "kubeconfig /home/u/.kube/config:"},
      {"a: b\n c: d\n", "not valid YAML"},
      {"- a\n- b\n", "kubeconfig /home/u/.kube/config:1:1: top level: expected a map"},
      {"just text", "top level: expected a map"},
      {"clusters: {a: b}\n",
       "kubeconfig /home/u/.kube/config:1:11: clusters: expected a list, got a map"},
      {"clusters: [x]\n", "clusters[0]: expected a map with name and cluster"},
      {"clusters: [{cluster: {server: s}}]\n", "clusters[0].name: is missing"},
      {"clusters: [{name: [a], cluster: {}}]\n", "clusters[0].name: expected a string, got a list"},
      {"clusters:\n- name: a\n  cluster: {}\n- name: a\n  cluster: {}\n",
       "config:4:3: clusters[1].name: \"a\" is listed twice in clusters"},
      {"clusters: [{name: a, cluster: [x]}]\n",
       "clusters[0].cluster (\"a\"): expected a map, got a list"},
      {"clusters: [{name: a, cluster: {server: {x: y}}}]\n",
       "clusters[0].cluster (\"a\").server: expected a string, got a map"},
      {"clusters: [{name: a, cluster: {insecure-skip-tls-verify: maybe}}]\n",
       "clusters[0].cluster (\"a\").insecure-skip-tls-verify: expected true or false, got "
       "\"maybe\""},
      {"clusters: [{name: a, cluster: {certificate-authority-data: not*base64}}]\n",
       "clusters[0].cluster (\"a\").certificate-authority-data: is not valid base64"},
      {"users: [{name: u, user: {client-key-data: \"abc=d\"}}]\n",
       "users[0].user (\"u\").client-key-data: is not valid base64"},
      {"users: [{name: u, user: {client-certificate-data: \"a\"}}]\n",
       "client-certificate-data: is not valid base64"},
      {"users: [{name: u, user: {token: [a]}}]\n",
       "users[0].user (\"u\").token: expected a string"},
      {"users: [{name: u, user: {tokenFile: {}}}]\n", "tokenFile: expected a string"},
      {"contexts: [{name: c, context: {namespace: [a]}}]\n",
       "contexts[0].context (\"c\").namespace: expected a string, got a list"},
      {"contexts: [{name: c, context: x}]\n", "contexts[0].context (\"c\"): expected a map"},
      {"current-context: [a]\n", "current-context: expected a string, got a list"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("yaml " << c.yaml) {
      BOOST_TEST(contains(failure_of([&] { parse(c.yaml); }), c.expected));
    }
  }
}

BOOST_AUTO_TEST_CASE(empty_documents_are_empty_configs) {
  for (std::string_view yaml :
       {"", "# only a comment\n", "~\n", "clusters:\nusers:\ncontexts:\n"}) {
    const auto c = parse(std::string(yaml));
    BOOST_TEST(c.clusters.empty());
    BOOST_TEST(c.users.empty());
    BOOST_TEST(c.contexts.empty());
    BOOST_TEST(c.current_context.empty());
  }
}

BOOST_AUTO_TEST_CASE(truncated_at_every_byte_never_crashes) {
  // Each prefix either parses or is refused with a kage::failure; nothing else escapes.
  std::size_t refused = 0;
  for (std::size_t n = 0; n <= full.size(); ++n) {
    try {
      parse(full.substr(0, n));
    } catch (const kage::failure& e) {
      BOOST_TEST(errc_name(e.error()) == "bad_kubeconfig");
      ++refused;
    }
  }
  BOOST_TEST(refused > 0u);
  // Deep nesting and odd bytes as well.
  for (const std::string& odd :
       {std::string(100000, '['), std::string(5000, '{'),
        std::string("clusters: [{name: a, cluster: *x}]"), std::string("\xff\xfe\x00\x01", 4),
        std::string("clusters: !!binary x"), std::string("&a [*a]"),
        std::string("clusters: [&a {name: x, cluster: *a}]\ncontexts: &c [*c]")}) {
    try {
      parse(odd);
    } catch (const kage::failure& e) {
      BOOST_TEST(errc_name(e.error()) == "bad_kubeconfig");
    }
  }
}

BOOST_AUTO_TEST_CASE(files_and_merging) {
  temp_dir dir("k8s-kubeconfig");
  std::filesystem::create_directories(dir.file("a"));
  std::filesystem::create_directories(dir.file("b"));
  write_file(dir.file("a/config"),
             "current-context: one\n"
             "clusters: [{name: k, cluster: {server: https://a, certificate-authority: ca.crt}}]\n"
             "users: [{name: u, user: {token: from-a}}]\n"
             "contexts: [{name: one, context: {cluster: k, user: u}}]\n");
  write_file(dir.file("b/config"),
             "current-context: two\n"
             "clusters:\n"
             "- {name: k, cluster: {server: https://b}}\n"
             "- {name: only-b, cluster: {server: https://only-b, certificate-authority: ca.crt}}\n"
             "users: [{name: u, user: {token: from-b}}]\n"
             "contexts: [{name: two, context: {cluster: only-b, user: u}}]\n");
  const std::string a = dir.file("a/config"), b = dir.file("b/config");

  const auto one = k8s::load_kubeconfig_file(a);
  BOOST_TEST(one.clusters.at("k").certificate_authority == dir.file("a/ca.crt"));

  // First file wins per name and for current-context; missing and empty entries are skipped.
  const auto merged =
      k8s::load_kubeconfig_list(":" + a + "::" + dir.file("missing") + ":" + b + ":" + a);
  BOOST_TEST(merged.current_context == "one");
  BOOST_TEST(merged.clusters.at("k").server == "https://a");
  BOOST_TEST(merged.users.at("u").token == "from-a");
  BOOST_TEST(merged.users.at("u").origin == a);
  // Each file's relative paths are resolved against its own directory.
  BOOST_TEST(merged.clusters.at("only-b").certificate_authority == dir.file("b/ca.crt"));
  BOOST_TEST(merged.clusters.at("only-b").origin == b);
  BOOST_TEST(merged.contexts.size() == 2u);
  BOOST_TEST((merged.files == std::vector<std::string>{a, b}));
  const auto two = k8s::select_context(merged, "two");
  BOOST_TEST(two.server == "https://only-b");
  BOOST_TEST(two.token == "from-a");  // user "u" came from the first file

  const auto reversed = k8s::load_kubeconfig_list(b + ":" + a);
  BOOST_TEST(reversed.current_context == "two");
  BOOST_TEST(reversed.clusters.at("k").server == "https://b");

  // A file whose current-context is empty lets a later one set it.
  write_file(dir.file("none"), "clusters: []\n");
  BOOST_TEST(k8s::load_kubeconfig_list(dir.file("none") + ":" + b).current_context == "two");

  BOOST_TEST(contains(
      failure_of([&] { k8s::load_kubeconfig_list(dir.file("x") + ":" + dir.file("y")); }),
      "no kubeconfig file found (looked for " + dir.file("x") + ", " + dir.file("y") + ")"));
  BOOST_TEST(
      contains(failure_of([&] { k8s::load_kubeconfig_list("::"); }), "no kubeconfig file given"));
  BOOST_TEST(contains(failure_of([&] { k8s::load_kubeconfig_file(dir.file("absent")); }),
                      "cannot read kubeconfig " + dir.file("absent")));
  write_file(dir.file("broken"), "clusters: [{name: a, cluster: {server: [x]}}]\n");
  BOOST_TEST(contains(failure_of([&] { k8s::load_kubeconfig_list(a + ":" + dir.file("broken")); }),
                      "kubeconfig " + dir.file("broken") + ":1:"));

  BOOST_TEST(k8s::kubeconfig_search_list("/a:/b", "/home/u") == "/a:/b");
  BOOST_TEST(k8s::kubeconfig_search_list("", "/home/u") == "/home/u/.kube/config");
}

BOOST_AUTO_TEST_CASE(in_cluster) {
  temp_dir dir("k8s-sa");
  write_file(dir.file("token"), "eyJhbGciOi.token\n");
  write_file(dir.file("ca.crt"), ca_pem);
  write_file(dir.file("namespace"), "redis-prod");
  const auto c = k8s::in_cluster_config("10.96.0.1", "443", dir.path());
  BOOST_TEST(c.server == "https://10.96.0.1:443");
  BOOST_TEST(c.token == "eyJhbGciOi.token");
  BOOST_TEST(c.token_file == dir.file("token"));
  BOOST_TEST(c.ca_file == dir.file("ca.crt"));
  BOOST_TEST(c.namespace_ == "redis-prod");
  BOOST_TEST(contains(c.source, "in-cluster"));

  BOOST_TEST(k8s::in_cluster_config("fd00::1", "6443", dir.path()).server ==
             "https://[fd00::1]:6443");
  BOOST_TEST(k8s::in_cluster_config("[fd00::1]", "6443", dir.path()).server ==
             "https://[fd00::1]:6443");
  BOOST_TEST(k8s::in_cluster_config("kubernetes.default.svc", "443", dir.path()).server ==
             "https://kubernetes.default.svc:443");

  std::filesystem::remove(dir.file("namespace"));
  std::filesystem::remove(dir.file("ca.crt"));
  const auto bare = k8s::in_cluster_config("10.96.0.1", "443", dir.path());
  BOOST_TEST(bare.namespace_ == "default");
  BOOST_TEST(bare.ca_file == "");

  BOOST_TEST(contains(
      failure_of([&] { k8s::in_cluster_config("", "443", dir.path()); }, k8s::errc::not_in_cluster),
      "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set"));
  BOOST_TEST(contains(
      failure_of([&] { k8s::in_cluster_config("h", "", dir.path()); }, k8s::errc::not_in_cluster),
      "must both be set"));
  write_file(dir.file("token"), " \n");
  BOOST_TEST(contains(
      failure_of([&] { k8s::in_cluster_config("h", "1", dir.path()); }, k8s::errc::not_in_cluster),
      "the service account token " + dir.file("token") + " is empty"));
  std::filesystem::remove(dir.file("token"));
  BOOST_TEST(contains(
      failure_of([&] { k8s::in_cluster_config("h", "1", dir.path()); }, k8s::errc::not_in_cluster),
      "cannot read the service account token " + dir.file("token")));
}

BOOST_AUTO_TEST_CASE(in_cluster_from_environment) {
  temp_dir dir("k8s-sa-env");
  write_file(dir.file("token"), "t");
  write_file(dir.file("namespace"), "from-file");
  // This test owns these variables; restore whatever the runner had.
  const auto saved = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  const auto host = saved("KUBERNETES_SERVICE_HOST"), port = saved("KUBERNETES_SERVICE_PORT"),
             ns = saved("POD_NAMESPACE");
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  ::unsetenv("POD_NAMESPACE");
  failure_of([&] { k8s::in_cluster_config_from_env(dir.path()); }, k8s::errc::not_in_cluster);
  ::setenv("KUBERNETES_SERVICE_HOST", "2001:db8::10", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto c = k8s::in_cluster_config_from_env(dir.path());
  BOOST_TEST(c.server == "https://[2001:db8::10]:443");
  BOOST_TEST(c.namespace_ == "from-file");
  ::setenv("POD_NAMESPACE", "from-env", 1);
  BOOST_TEST(k8s::in_cluster_config_from_env(dir.path()).namespace_ == "from-env");
  const auto restore = [](const char* name, const std::optional<std::string>& v) {
    if (v)
      ::setenv(name, v->c_str(), 1);
    else
      ::unsetenv(name);
  };
  restore("KUBERNETES_SERVICE_HOST", host);
  restore("KUBERNETES_SERVICE_PORT", port);
  restore("POD_NAMESPACE", ns);
}

BOOST_AUTO_TEST_CASE(exec_credentials) {
  const std::string v1 = "client.authentication.k8s.io/v1";
  auto token = k8s::parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"my-bearer-token","expirationTimestamp":"2018-03-05T17:30:20-08:00"}})",
      v1);
  BOOST_TEST(token.token == "my-bearer-token");
  BOOST_REQUIRE(token.expiration);
  BOOST_TEST(std::chrono::duration_cast<std::chrono::seconds>(token.expiration->time_since_epoch())
                 .count() == 1520299820);  // 2018-03-06T01:30:20Z
  auto cert = k8s::parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{},"status":{"clientCertificateData":"-----BEGIN CERTIFICATE-----\n","clientKeyData":"-----BEGIN RSA PRIVATE KEY-----\n"}})",
      "client.authentication.k8s.io/v1beta1");
  BOOST_TEST(cert.token == "");
  BOOST_TEST(cert.client_certificate_data == "-----BEGIN CERTIFICATE-----\n");
  BOOST_TEST(cert.client_key_data == "-----BEGIN RSA PRIVATE KEY-----\n");
  BOOST_TEST(!cert.expiration);

  const auto bad = [&](const std::string& json) {
    return failure_of([&] { k8s::parse_exec_credential(json, v1); },
                      k8s::errc::bad_exec_credential);
  };
  BOOST_TEST(contains(bad("nope"), "exec credential plugin: the answer is not JSON"));
  BOOST_TEST(contains(bad("[]"), "the answer is not a JSON object"));
  BOOST_TEST(contains(
      bad(R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}})"),
      "configured for \"client.authentication.k8s.io/v1\" but answered with apiVersion "
      "\"client.authentication.k8s.io/v1beta1\""));
  BOOST_TEST(contains(bad(R"({"kind":"ExecCredential","status":{"token":"t"}})"),
                      "answered with apiVersion \"\""));
  BOOST_TEST(contains(
      bad(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"Status","status":{"token":"t"}})"),
      "the answer's kind is \"Status\""));
  BOOST_TEST(
      contains(bad(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential"})"),
               "the answer has no status"));
  BOOST_TEST(contains(
      bad(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":"x"})"),
      "status is not an object"));
  BOOST_TEST(contains(
      bad(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}})"),
      "neither a token nor a client certificate and key"));
  BOOST_TEST(contains(
      bad(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"c"}})"),
      "clientCertificateData or clientKeyData but not both"));
  BOOST_TEST(contains(
      bad(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":5}})"),
      "status.token is not a string"));
  BOOST_TEST(contains(
      bad(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"tomorrow"}})"),
      "status.expirationTimestamp \"tomorrow\" is not an RFC 3339 time"));
}

BOOST_AUTO_TEST_CASE(exec_credential_request_json) {
  k8s::exec_config exec;
  exec.api_version = "client.authentication.k8s.io/v1";
  k8s::rest_config cluster;
  cluster.server = "https://k:6443";
  cluster.ca_data = "PEM";
  cluster.tls_server_name = "kubernetes";
  BOOST_TEST(
      k8s::exec_credential_request(exec, cluster, false) ==
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}})");
  exec.provide_cluster_info = true;
  const auto v = boost::json::parse(k8s::exec_credential_request(exec, cluster, true));
  BOOST_TEST(v.at("spec").at("interactive").as_bool());
  const auto& c = v.at("spec").at("cluster");
  BOOST_TEST(c.at("server").as_string() == "https://k:6443");
  BOOST_TEST(c.at("certificate-authority-data").as_string() == "UEVN");
  BOOST_TEST(c.at("tls-server-name").as_string() == "kubernetes");
  BOOST_TEST(!c.as_object().contains("insecure-skip-tls-verify"));
}

BOOST_AUTO_TEST_CASE(rfc3339) {
  const auto secs = [](std::string_view s) -> long long {
    auto t = k8s::parse_rfc3339(s);
    if (!t) return -1;
    return std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  };
  BOOST_TEST(secs("1970-01-01T00:00:00Z") == 0);
  BOOST_TEST(secs("2024-02-29T12:00:00Z") == 1709208000);
  BOOST_TEST(secs("2024-02-29t12:00:00z") == 1709208000);
  BOOST_TEST(secs("2024-02-29T14:30:00+02:30") == 1709208000);
  BOOST_TEST(secs("2024-02-29T11:00:00-01:00") == 1709208000);
  BOOST_TEST(secs("2024-02-29T12:00:00.999999999999Z") == 1709208000);
  auto frac = k8s::parse_rfc3339("1970-01-01T00:00:01.25Z");
  BOOST_REQUIRE(frac);
  BOOST_TEST(
      std::chrono::duration_cast<std::chrono::milliseconds>(frac->time_since_epoch()).count() ==
      1250);
  for (std::string_view bad :
       {"", "2024-02-29", "2024-02-29T12:00:00", "2024-02-29 12:00:00Z", "2023-02-29T12:00:00Z",
        "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-04-31T00:00:00Z",
        "2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00+0100", "2024-01-01T00:00:00+01:00x", "2024-01-01T00:00:00ZZ",
        "24-01-01T00:00:00Z", "2024-1-01T00:00:00Z", "x024-01-01T00:00:00Z"}) {
    BOOST_TEST_CONTEXT("time " << bad) {
      BOOST_TEST(!k8s::parse_rfc3339(bad));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
