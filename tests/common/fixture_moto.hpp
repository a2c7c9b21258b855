#pragma once
// moto_server, the S3-compatible server of kage's tests, with SigV4 signature checks on: the
// first four actions (IAM user, access key, policy, bucket) are the only unsigned ones.
#include "fixture_process.hpp"
#include "fixture_tls.hpp"

#include <map>
#include <optional>
#include <string>

namespace kage::test {

class moto_server {
 public:
  // host: where it listens, "127.0.0.1" or "::1".
  explicit moto_server(std::optional<tls_files> tls = std::nullopt, std::string host = "127.0.0.1");
  std::string endpoint() const;  // http(s)://127.0.0.1:PORT, http(s)://[::1]:PORT
  int port() const { return port_; }
  const std::string& access_key() const { return access_key_; }
  const std::string& secret_key() const { return secret_key_; }
  std::string bucket() const { return "kage-test"; }
  // AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, S3_ENDPOINT_URL (and AWS_CA_BUNDLE with TLS).
  std::map<std::string, std::string> env() const;
  // tests/common/s3_tool.py against this server, with env(); returns stdout, throws on failure.
  std::string tool(const std::vector<std::string>& args) const;

 private:
  std::optional<tls_files> tls_;
  std::string host_;
  int port_ = 0;
  background_process proc_;
  std::string access_key_, secret_key_;
};

// tests/common/s3_fault_proxy.py in front of `upstream` (see the script for modes).
class s3_fault_proxy {
 public:
  s3_fault_proxy(const moto_server& upstream, const std::string& mode);
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The most UploadPart requests that were in flight through the proxy at once.
  int max_parts_in_flight() const;
  // In "chaos:N" mode: the failures injected so far, as "500s 503s resets".
  std::string injected() const;
  // SIGKILLs the proxy (connections in flight are reset), then starts it again on its port:
  // an S3 endpoint that dies mid-upload and comes back.
  void kill_and_restart();
  // SIGKILLs the proxy and leaves it down (connections refused) until restart().
  void stop();
  void restart() { start(); }

 private:
  void start();
  int port_ = 0;
  int upstream_port_ = 0;
  std::string mode_;
  temp_dir stats_dir_{"proxy"};
  background_process proc_;
};

}  // namespace kage::test
