#include "progress.hpp"

#include <boost/asio.hpp>

#include <cstdio>
#include <unistd.h>

namespace kage::cli {

std::string human_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string with_commas(std::uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string seconds_text(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  return buf;
}

progress_display::progress_display(boost::asio::any_io_executor ex, bool enabled,
                                   render_fn render)
    : executor_(ex), enabled_(enabled), terminal_(::isatty(STDERR_FILENO)), render_(std::move(render)) {}

void progress_display::start() {
  if (!enabled_) return;
  timer_ = std::make_unique<boost::asio::steady_timer>(executor_);
  boost::asio::co_spawn(executor_, run(), [](std::exception_ptr) {});
}

void progress_display::stop() {
  if (!enabled_ || *stopped_) return;
  *stopped_ = true;
  timer_->cancel();
  if (terminal_) draw(true);
}

boost::asio::awaitable<void> progress_display::run() {
  auto stopped = stopped_;
  // A terminal gets live lines; logs (Kubernetes, CI) get one line every 10 seconds.
  const auto period = terminal_ ? std::chrono::milliseconds(500) : std::chrono::seconds(10);
  while (!*stopped) {
    timer_->expires_after(period);
    co_await timer_->async_wait(boost::asio::as_tuple(boost::asio::deferred));
    if (*stopped) break;
    draw(false);
  }
}

void progress_display::draw(bool final) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const auto lines = render_(elapsed);
  std::string out;
  if (terminal_) {
    // Move up over the previous frame and rewrite it; the final frame stays on screen.
    for (std::size_t i = 0; i < drawn_; ++i) out += "\x1b[1A\x1b[2K";
    for (const auto& l : lines) out += l + "\n";
    drawn_ = final ? 0 : lines.size();
  } else {
    for (const auto& l : lines) out += "kage: progress: " + l + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

}  // namespace kage::cli
