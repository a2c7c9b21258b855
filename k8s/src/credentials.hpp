#pragma once
// What the client authenticates with, kept fresh: a static token, a token file re-read at least
// every refresh interval and after a 401 (bound service account tokens rotate), basic auth, or an
// exec credential plugin run again when its answer expires or after a 401. Private to k8s/.
#include <kage/base/log.hpp>
#include <kage/k8s/kubeconfig.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace kage::k8s::detail {

struct plugin_run {
  int exit_code = -1;  // -1: could not start or was killed at the deadline
  std::string out;
  std::string err;
  std::string failure;  // why it could not run, when exit_code is -1
};

// Runs argv with extra environment, stdout and stderr captured (each capped at 1 MiB), stdin
// from /dev/null, killed (by its pid) when the deadline passes.
boost::asio::awaitable<plugin_run> async_run_program(std::vector<std::string> argv,
                                                     std::vector<exec_env_var> env,
                                                     std::chrono::milliseconds deadline);

class credentials {
 public:
  credentials(rest_config config, std::chrono::seconds token_file_refresh,
              std::chrono::seconds plugin_timeout, kage::logger log);

  // The Authorization header value ("Bearer ...", "Basic ...") or empty, refreshed when due.
  // Throws kage::failure when a token file or plugin cannot give one.
  boost::asio::awaitable<std::string> async_authorization();
  // After a 401: the next async_authorization reads the token file or runs the plugin again.
  // Returns false when nothing can change (a static token, a client certificate).
  bool invalidate() noexcept;

  // Client certificate and key PEM from an exec plugin (empty otherwise); changes bump the
  // generation so the client rebuilds its TLS context.
  const std::string& plugin_cert_pem() const noexcept { return plugin_cert_; }
  const std::string& plugin_key_pem() const noexcept { return plugin_key_; }
  unsigned cert_generation() const noexcept { return cert_generation_; }

 private:
  boost::asio::awaitable<void> async_run_plugin();

  rest_config config_;
  std::chrono::seconds refresh_;
  std::chrono::seconds plugin_timeout_;
  kage::logger log_;
  std::string token_;
  std::optional<std::chrono::steady_clock::time_point> token_read_;  // token file
  std::optional<std::chrono::system_clock::time_point> expiry_;      // plugin answer
  bool plugin_ran_ = false;
  bool stale_ = false;
  std::string plugin_cert_;
  std::string plugin_key_;
  unsigned cert_generation_ = 0;
};

}  // namespace kage::k8s::detail
