#include "progress.hpp"

#include <boost/asio.hpp>

#include <unistd.h>
#include <cstdio>

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

struct progress_display::state {
  state(boost::asio::any_io_executor ex, render_fn r)
      : timer(ex), terminal(::isatty(STDERR_FILENO)), render(std::move(r)) {}
  boost::asio::steady_timer timer;
  bool terminal;
  render_fn render;
  bool stopped = false;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::size_t drawn = 0;

  void draw(bool final) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const auto lines = render(elapsed);
    std::string out;
    if (terminal) {
      // Move up over the previous frame and rewrite it; the final frame stays on screen.
      for (std::size_t i = 0; i < drawn; ++i) out += "\x1b[1A\x1b[2K";
      for (const auto& l : lines) out += l + "\n";
      drawn = final ? 0 : lines.size();
    } else {
      for (const auto& l : lines) out += "kage: progress: " + l + "\n";
    }
    std::fwrite(out.data(), 1, out.size(), stderr);
    std::fflush(stderr);
  }

  static boost::asio::awaitable<void> run(std::shared_ptr<state> self) {
    // A terminal gets live lines; logs (Kubernetes, CI) get one line every 10 seconds.
    const auto period = self->terminal ? std::chrono::milliseconds(500) : std::chrono::seconds(10);
    while (!self->stopped) {
      self->timer.expires_after(period);
      co_await self->timer.async_wait(boost::asio::as_tuple(boost::asio::deferred));
      if (self->stopped) break;
      self->draw(false);
    }
  }
};

progress_display::progress_display(boost::asio::any_io_executor ex, bool enabled,
                                   render_fn render) {
  if (!enabled) return;
  state_ = std::make_shared<state>(ex, std::move(render));
  boost::asio::co_spawn(ex, state::run(state_), [](std::exception_ptr) {});
}

progress_display::~progress_display() {
  if (!state_) return;
  state_->stopped = true;
  state_->timer.cancel();
  if (state_->terminal) state_->draw(true);
}

}  // namespace kage::cli
