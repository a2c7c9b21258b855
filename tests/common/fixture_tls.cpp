#include "fixture_tls.hpp"

#include <stdexcept>

namespace kage::test {
namespace {

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  process_result r = run_process(argv, {{"OPENSSL_CONF", "/dev/null"}}, std::chrono::seconds(30));
  if (r.exit_code != 0 || r.timed_out)
    throw std::runtime_error("make_tls_files: " + quote_command(argv) + " failed (exit " +
                             std::to_string(r.exit_code) + (r.timed_out ? ", timed out" : "") +
                             "): " + r.err + r.out);
}

// Generates a key and a certificate signed by the CA (ca_key empty: self-signed CA).
void issue(const tls_files& f, const std::string& name, const std::string& config, bool is_ca) {
  const std::string key = f.dir + "/" + name + ".key";
  const std::string cert = f.dir + "/" + name + ".crt";
  const std::string cnf = f.dir + "/" + name + ".cnf";
  write_file(cnf, config);
  if (is_ca) {
    openssl({"req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-keyout", key, "-out", cert, "-days", "3650",
             "-config", cnf, "-extensions", "ext"});
    return;
  }
  const std::string csr = f.dir + "/" + name + ".csr";
  openssl({"req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-keyout", key, "-out", csr, "-config", cnf});
  openssl({"x509", "-req", "-in", csr, "-CA", f.ca_cert, "-CAkey", f.dir + "/ca.key",
           "-CAcreateserial", "-out", cert, "-days", "3650", "-extfile", cnf, "-extensions",
           "ext"});
}

std::string config(const std::string& cn, const std::string& extensions) {
  return "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = " + cn + "\n[ext]\n" + extensions;
}

}  // namespace

tls_files make_tls_files(const std::vector<std::string>& ips) {
  tls_files f;
  auto dir = std::make_shared<temp_dir>("tls");
  f.dir = dir->path();
  f.owner = dir;
  f.ca_cert = f.dir + "/ca.crt";
  f.server_cert = f.dir + "/server.crt";
  f.server_key = f.dir + "/server.key";
  f.client_cert = f.dir + "/client.crt";
  f.client_key = f.dir + "/client.key";

  std::string san = "DNS:localhost";
  bool has_loopback = false;
  for (const auto& ip : ips) {
    san += ",IP:" + ip;
    has_loopback |= ip == "127.0.0.1";
  }
  if (!has_loopback) san += ",IP:127.0.0.1";

  issue(f, "ca",
        config("kage-test-ca",
               "basicConstraints = critical,CA:TRUE\n"
               "keyUsage = critical,keyCertSign,cRLSign\n"
               "subjectKeyIdentifier = hash\n"),
        true);
  issue(f, "server",
        config("localhost",
               "basicConstraints = CA:FALSE\n"
               "keyUsage = critical,digitalSignature,keyEncipherment\n"
               "extendedKeyUsage = serverAuth,clientAuth\n"
               "subjectAltName = " +
                   san + "\n"),
        false);
  issue(f, "client",
        config("kage-test-client",
               "basicConstraints = CA:FALSE\n"
               "keyUsage = critical,digitalSignature,keyEncipherment\n"
               "extendedKeyUsage = clientAuth\n"),
        false);
  return f;
}

}  // namespace kage::test
