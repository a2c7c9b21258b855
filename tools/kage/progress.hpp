#pragma once
// How kage shows long work: live lines per master on a terminal, a periodic line elsewhere.
#include <kage/engine/backup.hpp>
#include <kage/engine/restore.hpp>
#include <kage/engine/verify.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kage::cli {

std::string human_bytes(std::uint64_t bytes);
std::string with_commas(std::uint64_t n);
std::string seconds_text(double seconds);

// Renders progress every interval until stop() is called. render() returns the lines to show.
class progress_display {
 public:
  using render_fn = std::function<std::vector<std::string>(double elapsed_seconds)>;
  // Starts drawing at once when enabled; stops (leaving the last frame) when destroyed.
  progress_display(boost::asio::any_io_executor ex, bool enabled, render_fn render);
  ~progress_display();
  progress_display(const progress_display&) = delete;
  progress_display& operator=(const progress_display&) = delete;

 private:
  struct state;
  std::shared_ptr<state> state_;  // shared with the drawing coroutine, which may outlive us
};

}  // namespace kage::cli
