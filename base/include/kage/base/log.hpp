#pragma once
// Libraries take a logger and never print; the program decides where lines go.
#include <functional>
#include <string>
#include <string_view>

namespace kage {

enum class log_level { debug, info, warn, error };

std::string_view to_string(log_level level) noexcept;

class logger {
 public:
  // sink(level, component, message); component names the job, master or part concerned.
  using sink = std::function<void(log_level, std::string_view, std::string_view)>;

  logger() = default;  // discards everything
  logger(sink s, log_level min_level) : sink_(std::move(s)), min_(min_level) {}

  bool enabled(log_level level) const noexcept { return sink_ && level >= min_; }
  void write(log_level level, std::string_view component, std::string_view message) const;

  void debug(std::string_view c, std::string_view m) const { write(log_level::debug, c, m); }
  void info(std::string_view c, std::string_view m) const { write(log_level::info, c, m); }
  void warn(std::string_view c, std::string_view m) const { write(log_level::warn, c, m); }
  void error(std::string_view c, std::string_view m) const { write(log_level::error, c, m); }

 private:
  sink sink_;
  log_level min_ = log_level::info;
};

}  // namespace kage
