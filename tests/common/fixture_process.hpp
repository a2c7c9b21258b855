// Test fixtures: child processes with deadlines, temporary directories, free ports.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kage::test {

// Outcome of a finished (or killed) child process.
struct process_result {
  int exit_code = -1;  // exit status, or 128 + signal when killed by a signal
  std::string out, err;
  bool timed_out = false;  // the deadline passed and the process group was SIGKILLed
  int term_signal = 0;     // signal that ended the process, 0 when it exited
};

// A child process started with argv (no shell). stdout and stderr go to in-memory files, so a
// chatty child never blocks on a full pipe while the test does something else; stdin reads
// `stdin_text`. The child is in its own process group and gets SIGKILL when the test dies.
// The destructor SIGKILLs a still-running child and reaps it: no zombies, no leftovers.
// PR_SET_PDEATHSIG fires when the *thread* that started the child exits: start long-lived
// children from the test's main thread (or a thread that outlives them).
class background_process {
 public:
  background_process() = default;
  explicit background_process(const std::vector<std::string>& argv,
                              const std::map<std::string, std::string>& extra_env = {},
                              const std::string& stdin_text = "");
  ~background_process();
  background_process(background_process&& other) noexcept;
  background_process& operator=(background_process&& other) noexcept;
  background_process(const background_process&) = delete;
  background_process& operator=(const background_process&) = delete;

  // Throws std::runtime_error when the program cannot be executed (e.g. not in PATH).
  void start(const std::vector<std::string>& argv,
             const std::map<std::string, std::string>& extra_env = {},
             const std::string& stdin_text = "");

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  // True while the child has not exited (reaps it as soon as it has).
  bool running();
  // Sends `sig` to the child (SIGKILL goes to its whole process group). Does not reap.
  void kill(int sig = SIGKILL);
  // Waits until the child exits; past the deadline SIGKILLs its group and sets timed_out.
  process_result wait(std::chrono::milliseconds deadline = std::chrono::seconds(120));
  // Waits until stdout or stderr contains `needle`; false if the deadline passed or the child
  // exited without printing it.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds deadline);
  // Output captured so far (also valid after wait()).
  std::string out() const;
  std::string err() const;
  // The command line, for messages.
  std::string command() const;

 private:
  void reset() noexcept;
  bool try_reap(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::optional<int> status_;  // wait status once reaped
  std::vector<std::string> argv_;
};

// Runs a program to completion with a deadline and captures stdout, stderr and the exit code.
// Throws only when the program cannot be started.
process_result run_process(const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& extra_env = {},
                           std::chrono::seconds deadline = std::chrono::seconds(120),
                           const std::string& stdin_text = "");

// Shell-like rendering of argv for messages (never contains secrets: those go through env).
std::string quote_command(const std::vector<std::string>& argv);

// True when KAGE_KEEP_TEST_DIRS is set to something other than "" or "0".
bool keep_test_dirs();

// Creates a fresh directory $TMPDIR/kage-<prefix>-XXXXXX (or /tmp/...).
std::string make_temp_dir(const std::string& prefix);

// A temporary directory removed on destruction unless KAGE_KEEP_TEST_DIRS is set.
class temp_dir {
 public:
  explicit temp_dir(const std::string& prefix = "test");
  ~temp_dir();
  temp_dir(temp_dir&& other) noexcept;
  temp_dir& operator=(temp_dir&& other) noexcept;
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  void remove() noexcept;
  std::string path_;
};

// The kage binary under test: $KAGE_BINARY (set by ctest). Throws if unset or not executable.
std::string kage_binary();
// The source tree: $KAGE_SOURCE_DIR (set by ctest), else derived from this file's location.
std::string source_dir();

// A TCP port P in 20000-29999 such that P and P+10000 (cluster bus) can both be bound, starting
// from a per-process random base so concurrent test executables rarely collide. Ports whose bus
// port falls in the kernel's ephemeral range are avoided when possible.
int free_port();
// The first of `count` consecutive ports that are all free in the sense of free_port().
int free_port_range(int count);

// True when a TCP connection to host:port is accepted right now.
bool port_accepts(const std::string& host, int port);  // host: IPv4 or IPv6 ("::1")
// "host:port", or "[v6]:port" for an IPv6 host, as kage's --node takes it.
std::string host_port(const std::string& host, int port);

// Reads a whole file; throws if it cannot be opened.
std::string read_file(const std::string& path);
// Writes a whole file (truncating); throws on failure.
void write_file(const std::string& path, const std::string& content);
// The last `lines` lines of a file, or a note that it cannot be read.
std::string file_tail(const std::string& path, int lines);

// True while the current Boost.Test test case has failed assertions (false outside tests).
// Fixtures use it to print server logs on teardown after a failure.
bool current_test_failed() noexcept;

}  // namespace kage::test
