#include "fixture_kube.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace kage::test {

std::pair<int, std::string> http_post_local(int port, const std::string& path,
                                            const std::string& body) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  timeval tv{60, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  const std::string request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                              "Content-Type: application/json\r\nConnection: close\r\n" +
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::size_t sent = 0;
  while (sent < request.size()) {
    const auto n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("send to the control port failed");
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buf[16384];
  for (;;) {
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      ::close(fd);
      throw std::runtime_error("no answer from the control port within 60 s");
    }
    if (n == 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto sp = answer.find(' ');
  const auto end = answer.find("\r\n\r\n");
  if (sp == std::string::npos || end == std::string::npos)
    throw std::runtime_error("bad answer from the control port: " + answer.substr(0, 200));
  return {std::stoi(answer.substr(sp + 1, 3)), answer.substr(end + 4)};
}

fake_kube::fake_kube(bool tls, std::vector<std::string> tokens, std::vector<std::string> extra_args)
    : tls_(tls) {
  const std::string script = source_dir() + "/tests/fake_kube/fake_kube.py";
  if (tls_) {
    auto r = run_process({"python3", script, "make-certs", dir_.file("certs")}, {},
                         std::chrono::seconds(60));
    if (r.exit_code != 0) throw std::runtime_error("make-certs failed:\n" + r.out + r.err);
  }
  std::filesystem::create_directories(pods_root());
  port_ = free_port();
  do {
    control_port_ = free_port();
  } while (control_port_ == port_);
  const std::string ready = dir_.file("ready.json");
  std::vector<std::string> argv{"python3",
                                script,
                                "serve",
                                "--port",
                                std::to_string(port_),
                                "--control-port",
                                std::to_string(control_port_),
                                "--pods-root",
                                pods_root(),
                                "--ready-file",
                                ready};
  for (const auto& t : tokens) argv.insert(argv.end(), {"--token", t});
  if (tls_)
    argv.insert(argv.end(), {"--tls-cert", dir_.file("certs/server.crt"), "--tls-key",
                             dir_.file("certs/server.key"), "--client-ca", ca_file()});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  proc_.start(argv);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!std::filesystem::exists(ready)) {
    if (!proc_.running()) throw std::runtime_error("fake_kube exited at start-up:\n" + proc_.err());
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("fake_kube not ready within 20 s:\n" + proc_.err());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

fake_kube::~fake_kube() {
  if (current_test_failed()) {
    std::fprintf(
        stderr, "---- fake_kube log (tail) ----\n%s\n",
        proc_.err().substr(proc_.err().size() > 20000 ? proc_.err().size() - 20000 : 0).c_str());
  }
  proc_.kill(SIGTERM);
  proc_.wait(std::chrono::seconds(5));
}

std::string fake_kube::server_url() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::string fake_kube::control(const std::string& verb, const std::string& json_body) const {
  auto [status, body] = http_post_local(control_port_, "/" + verb, json_body);
  if (status != 200)
    throw std::runtime_error("fake_kube control " + verb + " failed (" + std::to_string(status) +
                             "): " + body);
  return body;
}

std::string fake_kube::log() const {
  return proc_.err();
}

std::string fake_kube::write_kubeconfig(const std::string& name, const std::string& user_fields,
                                        const std::string& cluster_fields) const {
  std::string cluster = "\"server\": \"" + server_url() + "\"";
  if (!cluster_fields.empty())
    cluster += ", " + cluster_fields;
  else if (tls_)
    cluster += ", \"certificate-authority\": \"" + ca_file() + "\"";
  const std::string text =
      "{\"apiVersion\": \"v1\", \"kind\": \"Config\", \"clusters\": [{\"name\": \"fake\", "
      "\"cluster\": {" +
      cluster + "}}], \"users\": [{\"name\": \"fake\", \"user\": {" + user_fields +
      "}}], \"contexts\": [{\"name\": \"fake\", \"context\": {\"cluster\": \"fake\", \"user\": "
      "\"fake\", \"namespace\": \"default\"}}], \"current-context\": \"fake\"}\n";
  const std::string path = dir_.file(name);
  write_file(path, text);
  return path;
}

}  // namespace kage::test
