#pragma once
// tests/fake_kube/fake_kube.py, the fake Kubernetes API server, started for a C++ test: free
// ports (bind probe), its own certificates (CA, server for 127.0.0.1, client), a pods root, its
// control interface (JSON over plain HTTP), and kubeconfig files pointing at it.
#include "fixture_process.hpp"

#include <string>
#include <vector>

namespace kage::test {

class fake_kube {
 public:
  // tls: HTTPS with certificates made for it; tokens: the valid bearer tokens.
  explicit fake_kube(bool tls = true, std::vector<std::string> tokens = {"test-token"},
                     std::vector<std::string> extra_args = {});
  ~fake_kube();
  fake_kube(const fake_kube&) = delete;
  fake_kube& operator=(const fake_kube&) = delete;

  int port() const { return port_; }
  std::string server_url() const;  // https://127.0.0.1:PORT
  const std::string& dir() const { return dir_.path(); }
  std::string ca_file() const { return dir_.file("certs/ca.crt"); }
  std::string client_cert() const { return dir_.file("certs/client.crt"); }
  std::string client_key() const { return dir_.file("certs/client.key"); }
  std::string pods_root() const { return dir_.file("pods"); }

  // POST /<verb> with a JSON body; returns the JSON answer, throws on a non-200 answer.
  std::string control(const std::string& verb, const std::string& json_body = "{}") const;
  // The server's log (stderr), for failure messages.
  std::string log() const;

  // A kubeconfig (JSON) file: user_yaml_fields are JSON members of users[0].user, e.g.
  // R"("token": "x")" or R"("tokenFile": "/path")"; cluster_fields likewise for the cluster
  // (default: certificate-authority of this server).
  std::string write_kubeconfig(const std::string& name, const std::string& user_fields,
                               const std::string& cluster_fields = "") const;

 private:
  bool tls_;
  temp_dir dir_{"fake-kube"};
  int port_ = 0;
  int control_port_ = 0;
  background_process proc_;
};

// A blocking HTTP/1.1 POST to 127.0.0.1:port (Connection: close): (status, body).
std::pair<int, std::string> http_post_local(int port, const std::string& path,
                                            const std::string& body);

}  // namespace kage::test
