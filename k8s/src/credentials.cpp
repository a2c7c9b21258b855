#include "credentials.hpp"

#include "base64.hpp"

#include <kage/base/error.hpp>
#include <kage/k8s/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

extern char** environ;

namespace kage::k8s::detail {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::size_t output_cap = std::size_t{1} << 20;

asio::awaitable<void> read_all(asio::posix::stream_descriptor& in, std::string& out) {
  std::array<char, 16384> buf;
  for (;;) {
    auto [ec, n] = co_await in.async_read_some(asio::buffer(buf), asio::as_tuple(asio::deferred));
    if (n > 0 && out.size() < output_cap)
      out.append(buf.data(), std::min(n, output_cap - out.size()));
    if (ec) co_return;  // EOF or error: the pipe is done either way
  }
}

asio::awaitable<void> wait(asio::steady_timer& timer) {
  co_await timer.async_wait(asio::as_tuple(asio::deferred));
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::string read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(exit_code::usage, make_error_code(errc::bad_kubeconfig),
         "cannot read the Kubernetes token file " + path + ": " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  std::string token = trim(s.str());
  if (token.empty())
    fail(exit_code::usage, make_error_code(errc::bad_kubeconfig),
         "the Kubernetes token file " + path + " is empty");
  return token;
}

}  // namespace

asio::awaitable<plugin_run> async_run_program(std::vector<std::string> argv,
                                              std::vector<exec_env_var> env,
                                              std::chrono::milliseconds deadline) {
  plugin_run run;
  auto ex = co_await asio::this_coro::executor;
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    run.failure = std::strerror(errno);
    co_return run;
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    run.failure = std::strerror(errno);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    co_return run;
  }
  std::map<std::string, std::string> vars;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos) vars[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
  }
  for (auto& v : env) vars[v.name] = v.value;
  std::vector<std::string> env_text;
  for (auto& [k, v] : vars) env_text.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_text) envp.push_back(s.data());
  envp.push_back(nullptr);
  for (auto& s : argv) args.push_back(s.data());
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  asio::posix::stream_descriptor out(ex, out_pipe[0]);
  asio::posix::stream_descriptor err(ex, err_pipe[0]);
  if (rc != 0) {
    run.failure = std::strerror(rc);
    co_return run;
  }
  asio::steady_timer timer(ex);
  timer.expires_after(deadline);
  auto finished = co_await ((read_all(out, run.out) && read_all(err, run.err)) || wait(timer));
  bool killed = finished.index() == 1;
  int wstatus = 0;
  for (;;) {
    const pid_t w = ::waitpid(pid, &wstatus, killed ? 0 : WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) break;
    if (w == 0) {
      if (std::chrono::steady_clock::now() >= timer.expiry()) {
        ::kill(pid, SIGKILL);
        killed = true;
        continue;
      }
      asio::steady_timer poll(ex, std::chrono::milliseconds(10));
      co_await poll.async_wait(asio::as_tuple(asio::deferred));
    }
  }
  if (killed) {
    ::kill(pid, SIGKILL);
    run.failure =
        "it did not finish within " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(deadline).count()) + " s";
    co_return run;
  }
  if (WIFEXITED(wstatus)) {
    run.exit_code = WEXITSTATUS(wstatus);
  } else {
    run.failure = "it was killed by signal " + std::to_string(WTERMSIG(wstatus));
  }
  co_return run;
}

credentials::credentials(rest_config config, std::chrono::seconds token_file_refresh,
                         std::chrono::seconds plugin_timeout, kage::logger log)
    : config_(std::move(config)),
      refresh_(token_file_refresh),
      plugin_timeout_(plugin_timeout),
      log_(std::move(log)) {}

bool credentials::invalidate() noexcept {
  if (config_.exec || !config_.token_file.empty()) {
    stale_ = true;
    return true;
  }
  return false;
}

asio::awaitable<std::string> credentials::async_authorization() {
  if (config_.exec) {
    const bool expired =
        expiry_ && std::chrono::system_clock::now() + std::chrono::seconds(10) >= *expiry_;
    if (!plugin_ran_ || stale_ || expired) co_await async_run_plugin();
    stale_ = false;
    if (!token_.empty()) co_return "Bearer " + token_;
    co_return std::string{};
  }
  if (!config_.token_file.empty()) {
    const auto now = std::chrono::steady_clock::now();
    if (!token_read_ || stale_ || now - *token_read_ >= refresh_) {
      try {
        std::string fresh = read_token_file(config_.token_file);
        if (token_read_ && fresh != token_)
          log_.info("k8s", "the token in " + config_.token_file + " changed; using the new one");
        token_ = std::move(fresh);
      } catch (const kage::failure&) {
        if (token_.empty()) throw;  // never had one: nothing to fall back on
        log_.warn("k8s", "cannot re-read " + config_.token_file + "; keeping the previous token");
      }
      token_read_ = now;
      stale_ = false;
    }
    co_return "Bearer " + token_;
  }
  if (!config_.token.empty()) co_return "Bearer " + config_.token;
  if (!config_.username.empty() || !config_.password.empty())
    co_return "Basic " + base64_encode(config_.username + ":" + config_.password);
  co_return std::string{};
}

asio::awaitable<void> credentials::async_run_plugin() {
  const exec_config& e = *config_.exec;
  if (e.interactive_mode == exec_interactive_mode::always)
    fail(exit_code::usage, make_error_code(errc::bad_exec_credential),
         "the kubeconfig's exec credential plugin '" + e.command +
             "' needs an interactive terminal (interactiveMode: Always); kage runs unattended");
  std::vector<std::string> argv{e.command};
  argv.insert(argv.end(), e.args.begin(), e.args.end());
  auto env = e.env;
  env.push_back({"KUBERNETES_EXEC_INFO", exec_credential_request(e, config_, false)});
  auto run = co_await async_run_program(argv, env, plugin_timeout_);
  plugin_ran_ = true;
  const std::string hint = e.install_hint.empty() ? "" : " (" + e.install_hint + ")";
  if (run.exit_code != 0) {
    std::string why =
        run.exit_code < 0 ? run.failure : "it exited with " + std::to_string(run.exit_code);
    const std::string err = trim(run.err);
    if (!err.empty()) why += ": " + err.substr(0, 2000);
    fail(exit_code::usage, make_error_code(errc::bad_exec_credential),
         "the kubeconfig's exec credential plugin '" + e.command + "' failed: " + why + hint);
  }
  exec_credential c = parse_exec_credential(run.out, e.api_version);
  token_ = c.token;
  expiry_ = c.expiration;
  if (c.client_certificate_data != plugin_cert_ || c.client_key_data != plugin_key_) {
    plugin_cert_ = c.client_certificate_data;
    plugin_key_ = c.client_key_data;
    ++cert_generation_;
  }
  log_.debug("k8s", "exec credential plugin '" + e.command + "' gave a new credential");
}

}  // namespace kage::k8s::detail
