#pragma once
// A failure that abandons a whole job. It carries the process exit code the CLI documents and
// a message a user can act on (what went wrong, and what to do).
#include <stdexcept>
#include <string>

namespace kage {

// Documented in README ("Exit codes"); keep both in step.
enum class exit_code : int {
  ok = 0,
  failure = 1,      // the job failed for a reason not listed below
  usage = 2,        // bad flag, bad config value, unknown setting
  redis = 3,        // Redis unreachable, authentication refused, cluster not usable
  store = 4,        // backup store unreadable or unwritable (missing, full disk, permissions)
  integrity = 5,    // a backup is corrupt, truncated, or does not match its manifest
  incompatible = 6, // the target cannot load the backup (RDB version), or the backup is unknown
  interrupted = 130 // SIGINT/SIGTERM
};

class failure : public std::runtime_error {
 public:
  failure(exit_code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  exit_code code() const noexcept { return code_; }

 private:
  exit_code code_;
};

[[noreturn]] void fail(exit_code code, const std::string& message);

}  // namespace kage
