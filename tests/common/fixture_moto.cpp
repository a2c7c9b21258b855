#include "fixture_moto.hpp"

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace kage::test {

namespace {

void wait_for_port(int port, background_process& proc, const std::string& what,
                   const std::string& host = "127.0.0.1") {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!port_accepts(host, port)) {
    if (!proc.running()) throw std::runtime_error(what + " exited during start-up:\n" + proc.err());
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error(what + " did not listen on port " + std::to_string(port) +
                               " within 20 s:\n" + proc.err());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

moto_server::moto_server(std::optional<tls_files> tls, std::string host)
    : tls_(std::move(tls)), host_(std::move(host)) {
  port_ = free_port();
  std::vector<std::string> argv{"moto_server", "-H", host_, "-p", std::to_string(port_)};
  if (tls_) argv.insert(argv.end(), {"-c", tls_->server_cert, "-k", tls_->server_key});
  proc_.start(argv, {{"INITIAL_NO_AUTH_ACTION_COUNT", "4"}});
  wait_for_port(port_, proc_, "moto_server", host_);
  std::map<std::string, std::string> e;
  if (tls_) e["AWS_CA_BUNDLE"] = tls_->ca_cert;
  auto r = run_process({"python3", source_dir() + "/tests/common/s3_tool.py", "setup", endpoint()},
                       e, std::chrono::seconds(60));
  std::istringstream words(r.out);
  words >> access_key_ >> secret_key_;
  if (r.exit_code != 0 || secret_key_.empty()) {
    throw std::runtime_error("moto setup failed:\n" + r.out + r.err + "\n" + proc_.err());
  }
}

std::string moto_server::endpoint() const {
  return std::string(tls_ ? "https" : "http") + "://" + host_port(host_, port_);
}

std::map<std::string, std::string> moto_server::env() const {
  std::map<std::string, std::string> e{{"AWS_ACCESS_KEY_ID", access_key_},
                                       {"AWS_SECRET_ACCESS_KEY", secret_key_},
                                       {"S3_ENDPOINT_URL", endpoint()}};
  if (tls_) e["AWS_CA_BUNDLE"] = tls_->ca_cert;
  return e;
}

std::string moto_server::tool(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"python3", source_dir() + "/tests/common/s3_tool.py", args.at(0),
                                endpoint()};
  argv.insert(argv.end(), args.begin() + 1, args.end());
  auto r = run_process(argv, env(), std::chrono::seconds(120));
  if (r.exit_code != 0) throw std::runtime_error("s3_tool.py failed:\n" + r.out + r.err);
  return r.out;
}

s3_fault_proxy::s3_fault_proxy(const moto_server& upstream, const std::string& mode)
    : port_(free_port()), upstream_port_(upstream.port()), mode_(mode) {
  start();
}

void s3_fault_proxy::start() {
  proc_.start({"python3", source_dir() + "/tests/common/s3_fault_proxy.py", std::to_string(port_),
               std::to_string(upstream_port_), mode_, stats_dir_.file("stats")});
  wait_for_port(port_, proc_, "s3_fault_proxy.py");
}

void s3_fault_proxy::kill_and_restart() {
  proc_.kill(SIGKILL);
  proc_.wait(std::chrono::seconds(10));
  start();
}

void s3_fault_proxy::stop() {
  proc_.kill(SIGKILL);
  proc_.wait(std::chrono::seconds(10));
}

int s3_fault_proxy::max_parts_in_flight() const {
  std::ifstream in(stats_dir_.file("stats"));
  int n = 0;
  in >> n;
  return n;
}

std::string s3_fault_proxy::injected() const {
  std::ifstream in(stats_dir_.file("stats.injected"));
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace kage::test
