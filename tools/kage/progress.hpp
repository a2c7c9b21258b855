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
  progress_display(boost::asio::any_io_executor ex, bool enabled, render_fn render);
  void start();
  void stop();  // clears the live lines on a terminal

 private:
  boost::asio::awaitable<void> run();
  void draw(bool final);

  boost::asio::any_io_executor executor_;
  bool enabled_;
  bool terminal_;
  render_fn render_;
  std::shared_ptr<bool> stopped_ = std::make_shared<bool>(false);
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::size_t drawn_ = 0;
  std::unique_ptr<boost::asio::steady_timer> timer_;
};

}  // namespace kage::cli
