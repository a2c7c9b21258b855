#include "fixture_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

// Boost.Test is linked into every test executable; we only ask it whether the running test failed.
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include <boost/test/framework.hpp>
#include <boost/test/results_collector.hpp>
#include <boost/test/tree/test_unit.hpp>

extern char** environ;

namespace kage::test {
namespace {

using clock = std::chrono::steady_clock;

std::string errno_text(int err) {
  return std::strerror(err);
}

[[noreturn]] void throw_errno(const std::string& what, int err = errno) {
  throw std::runtime_error(what + ": " + errno_text(err));
}

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

int make_memfd(const char* name) {
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) throw_errno("memfd_create");
  return fd;
}

std::string read_memfd(int fd) {
  std::string text;
  if (fd < 0) return text;
  char buf[65536];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return text;
}

int open_pidfd(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    return static_cast<int>(fd);
  }
#else
  (void)pid;
#endif
  return -1;  // old kernel: fall back to polling waitpid
}

bool can_bind(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);  // conflicts with a listener on any address
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  if (!ok) return false;
  // The same on IPv6 (servers on ::1), where the host has it.
  fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;
  int v6only = 1;
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  sockaddr_in6 addr6{};
  addr6.sin6_family = AF_INET6;
  addr6.sin6_addr = in6addr_any;
  addr6.sin6_port = htons(static_cast<uint16_t>(port));
  ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr6), sizeof addr6) == 0;
  ::close(fd);
  return ok;
}

struct port_space {
  int lo = 20000;
  int hi = 30000;  // exclusive
  int next;
  std::mutex mutex;

  port_space() {
    // Keep bus ports (P + 10000) out of the ephemeral range so outgoing connections of other
    // processes cannot take them between our probe and the server's bind.
    std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
    int eph_lo = 0, eph_hi = 0;
    if (range >> eph_lo >> eph_hi && eph_lo - 10000 >= lo + 1000 && eph_lo - 10000 < hi)
      hi = eph_lo - 10000;
    std::random_device rd;
    std::mt19937 gen(rd() ^ static_cast<unsigned>(::getpid()));
    next = lo + static_cast<int>(gen() % static_cast<unsigned>(hi - lo));
  }
};

port_space& ports() {
  static port_space space;
  return space;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// background_process

background_process::background_process(const std::vector<std::string>& argv,
                                       const std::map<std::string, std::string>& extra_env,
                                       const std::string& stdin_text) {
  start(argv, extra_env, stdin_text);
}

background_process::~background_process() {
  reset();
}

background_process::background_process(background_process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      out_fd_(std::exchange(other.out_fd_, -1)),
      err_fd_(std::exchange(other.err_fd_, -1)),
      status_(std::exchange(other.status_, std::nullopt)),
      argv_(std::move(other.argv_)) {}

background_process& background_process::operator=(background_process&& other) noexcept {
  if (this != &other) {
    reset();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    out_fd_ = std::exchange(other.out_fd_, -1);
    err_fd_ = std::exchange(other.err_fd_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
    argv_ = std::move(other.argv_);
  }
  return *this;
}

void background_process::reset() noexcept {
  if (pid_ > 0 && !status_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    if (!try_reap(std::chrono::seconds(10)))
      std::cerr << "kage test fixture: pid " << pid_ << " did not die after SIGKILL\n";
  }
  pid_ = -1;
  status_.reset();
  close_fd(pidfd_);
  close_fd(out_fd_);
  close_fd(err_fd_);
}

void background_process::start(const std::vector<std::string>& argv,
                               const std::map<std::string, std::string>& extra_env,
                               const std::string& stdin_text) {
  if (argv.empty()) throw std::runtime_error("background_process: empty argv");
  reset();
  argv_ = argv;

  // Everything the child needs is built before fork: after fork only async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos && extra_env.count(entry.substr(0, eq))) continue;
    env_strings.push_back(std::move(entry));
  }
  for (const auto& [key, value] : extra_env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  std::vector<char*> args;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  int out_fd = make_memfd("stdout");
  int err_fd = make_memfd("stderr");
  int in_fd = -1;
  if (stdin_text.empty()) {
    in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  } else {
    in_fd = make_memfd("stdin");
    size_t done = 0;
    while (done < stdin_text.size()) {
      ssize_t n = ::write(in_fd, stdin_text.data() + done, stdin_text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("writing stdin for " + quote_command(argv));
      done += static_cast<size_t>(n);
    }
    ::lseek(in_fd, 0, SEEK_SET);
  }
  if (in_fd < 0) throw_errno("open /dev/null");

  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(exec_pipe[0]);
    ::close(exec_pipe[1]);
    ::close(in_fd);
    ::close(out_fd);
    ::close(err_fd);
    throw_errno("fork", err);
  }
  if (pid == 0) {
    // Child: die with the test, own process group, default signal state, fds 0-2 only.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::setpgid(0, 0);
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    sigset_t all;
    ::sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < 4096; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    ::execvpe(args[0], args.data(), envp.data());
    int err = errno;
    ssize_t ignored = ::write(exec_pipe[1], &err, sizeof err);
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so the group exists whichever side runs first
  ::close(exec_pipe[1]);
  ::close(in_fd);
  pid_ = pid;
  out_fd_ = out_fd;
  err_fd_ = err_fd;
  pidfd_ = open_pidfd(pid);
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_pipe[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    try_reap(std::chrono::seconds(10));
    reset();
    throw std::runtime_error("cannot execute " + quote_command(argv) + ": " +
                             errno_text(exec_errno));
  }
}

bool background_process::try_reap(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return true;
  if (status_) return true;
  const auto deadline = clock::now() + timeout;
  auto backoff = std::chrono::milliseconds(1);
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      status_ = status;
      return true;
    }
    if (r < 0 && errno != EINTR) {
      // ECHILD: reaped elsewhere (e.g. SIGCHLD ignored); nothing left to wait for.
      status_ = -1;
      return true;
    }
    auto now = clock::now();
    if (now >= deadline) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                std::chrono::milliseconds(1);
    if (pidfd_ >= 0) {
      pollfd p{pidfd_, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    } else {
      std::this_thread::sleep_for(std::min(backoff, left));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(20));
    }
  }
}

bool background_process::running() {
  if (pid_ <= 0) return false;
  return !try_reap(std::chrono::milliseconds(0));
}

void background_process::kill(int sig) {
  if (pid_ <= 0 || status_) return;
  if (sig == SIGKILL) ::kill(-pid_, SIGKILL);
  ::kill(pid_, sig);
}

process_result background_process::wait(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) throw std::runtime_error("background_process::wait: nothing was started");
  process_result result;
  if (!try_reap(deadline)) {
    result.timed_out = true;
    kill(SIGKILL);
    if (!try_reap(std::chrono::seconds(10)))
      throw std::runtime_error("pid " + std::to_string(pid_) + " (" + command() +
                               ") did not die after SIGKILL");
  }
  const int status = *status_;
  if (status >= 0 && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (status >= 0 && WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
    result.exit_code = 128 + result.term_signal;
  }
  result.out = out();
  result.err = err();
  return result;
}

bool background_process::wait_for_output(const std::string& needle,
                                         std::chrono::milliseconds deadline) {
  const auto until = clock::now() + deadline;
  for (;;) {
    bool alive = running();
    if (out().find(needle) != std::string::npos || err().find(needle) != std::string::npos)
      return true;
    if (!alive || clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string background_process::out() const {
  return read_memfd(out_fd_);
}
std::string background_process::err() const {
  return read_memfd(err_fd_);
}
std::string background_process::command() const {
  return quote_command(argv_);
}

process_result run_process(const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& extra_env,
                           std::chrono::seconds deadline, const std::string& stdin_text) {
  background_process child(argv, extra_env, stdin_text);
  return child.wait(deadline);
}

std::string quote_command(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./:=@,+%", c);
    });
    if (plain) {
      text += arg;
    } else {
      text += '\'';
      for (char c : arg) text += c == '\'' ? std::string("'\\''") : std::string(1, c);
      text += '\'';
    }
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Directories and files

bool keep_test_dirs() {
  const char* v = std::getenv("KAGE_KEEP_TEST_DIRS");
  return v && *v && std::string(v) != "0";
}

std::string make_temp_dir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/kage-" + prefix + "-XXXXXX";
  if (!::mkdtemp(pattern.data())) throw_errno("mkdtemp " + pattern);
  return pattern;
}

temp_dir::temp_dir(const std::string& prefix) : path_(make_temp_dir(prefix)) {}
temp_dir::~temp_dir() {
  remove();
}
temp_dir::temp_dir(temp_dir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
temp_dir& temp_dir::operator=(temp_dir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

void temp_dir::remove() noexcept {
  if (path_.empty()) return;
  if (keep_test_dirs()) {
    std::cerr << "kage test fixture: keeping " << path_ << " (KAGE_KEEP_TEST_DIRS)\n";
  } else {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  path_.clear();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path + ": " + errno_text(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot create " + path + ": " + errno_text(errno));
  out << content;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string file_tail(const std::string& path, int lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(cannot read " + path + ")\n";
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(std::move(line));
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string text;
  for (auto& l : last) text += l + "\n";
  return text;
}

// ---------------------------------------------------------------------------------------------
// Environment

std::string kage_binary() {
  const char* v = std::getenv("KAGE_BINARY");
  if (!v || !*v)
    throw std::runtime_error("KAGE_BINARY is not set; run the test through ctest or export it");
  if (::access(v, X_OK) != 0)
    throw std::runtime_error(std::string("KAGE_BINARY=") + v +
                             " is not executable: " + errno_text(errno));
  return v;
}

std::string source_dir() {
  const char* v = std::getenv("KAGE_SOURCE_DIR");
  if (v && *v) return v;
  // tests/common/fixture_process.cpp -> source root
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().string();
}

// ---------------------------------------------------------------------------------------------
// Ports

int free_port() {
  return free_port_range(1);
}

int free_port_range(int count) {
  if (count < 1) throw std::invalid_argument("free_port_range: count < 1");
  auto& space = ports();
  std::lock_guard lock(space.mutex);
  const int span = space.hi - space.lo;
  if (count > span) throw std::invalid_argument("free_port_range: count too large");
  for (int tried = 0; tried < span; ++tried) {
    int base = space.next;
    if (base + count > space.hi) base = space.lo;
    space.next = base + 1;
    bool ok = true;
    for (int p = base; ok && p < base + count; ++p) ok = can_bind(p) && can_bind(p + 10000);
    if (ok) {
      space.next = base + count;  // never hand out the same port twice in a row
      if (space.next >= space.hi) space.next = space.lo;
      return base;
    }
  }
  throw std::runtime_error("no free port range of " + std::to_string(count) + " in " +
                           std::to_string(space.lo) + "-" + std::to_string(space.hi - 1));
}

bool port_accepts(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) {  // IPv6, e.g. "::1"
    int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    bool ok = ::inet_pton(AF_INET6, host.c_str(), &addr.sin6_addr) == 1 &&
              ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1 &&
            ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string host_port(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

// ---------------------------------------------------------------------------------------------

bool current_test_failed() noexcept {
  namespace ut = boost::unit_test;
  try {
    if (!ut::framework::test_in_progress()) return false;
    return !ut::results_collector.results(ut::framework::current_test_case_id()).passed();
  } catch (const std::exception&) {
    return false;  // no test case running (e.g. a global fixture)
  }
}

}  // namespace kage::test
