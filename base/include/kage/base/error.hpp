#pragma once
// A failure that abandons a whole job. It carries the process exit code the CLI documents, an
// error_code saying what failed (so callers decide by value, never by message text), and a
// message a user can read. Messages state what went wrong in the server's or store's own words;
// advice that names kage's flags and environment variables is added by tools/ (tools/kage/
// hints.cpp maps error codes to it), since libraries do not know how they were configured.
#include <boost/system/error_code.hpp>

#include <exception>
#include <stdexcept>
#include <string>

namespace kage {

// Documented in README ("Exit codes"); keep both in step.
enum class exit_code : int {
  ok = 0,
  failure = 1,       // the job failed for a reason not listed below
  usage = 2,         // bad flag, bad config value, unknown setting
  redis = 3,         // Redis unreachable, authentication refused, cluster not usable
  store = 4,         // backup store unreadable or unwritable (missing, full disk, permissions)
  integrity = 5,     // a backup is corrupt, truncated, or does not match its manifest
  incompatible = 6,  // the target cannot load the backup (RDB version), or the backup is unknown
  interrupted = 130  // SIGINT/SIGTERM
};

class failure : public std::runtime_error {
 public:
  failure(exit_code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  failure(exit_code code, boost::system::error_code error, const std::string& message)
      : std::runtime_error(message), code_(code), error_(error) {}
  exit_code code() const noexcept { return code_; }
  // What failed, when the thrower knows (e.g. proto::errc::auth_refused); empty otherwise.
  const boost::system::error_code& error() const noexcept { return error_; }

 private:
  exit_code code_;
  boost::system::error_code error_;
};

[[noreturn]] void fail(exit_code code, const std::string& message);
[[noreturn]] void fail(exit_code code, boost::system::error_code error, const std::string& message);

// The one way to turn a caught exception into text for a log line or a status field: a
// failure's or system_error's message as is, "interrupted" for a cancelled operation, any other
// exception's what(), "unknown error" for a non-standard one. Never throws.
std::string describe(const std::exception_ptr& error) noexcept;

}  // namespace kage
