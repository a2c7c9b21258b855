#include <kage/base/log.hpp>

namespace kage {

std::string_view to_string(log_level level) noexcept {
  switch (level) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
  }
  return "unknown";
}

void logger::write(log_level level, std::string_view component, std::string_view message) const {
  if (enabled(level)) sink_(level, component, message);
}

}  // namespace kage
