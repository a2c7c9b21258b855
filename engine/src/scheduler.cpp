#include <kage/base/backoff.hpp>
#include <kage/engine/scheduler.hpp>

#include <boost/asio.hpp>

#include <algorithm>

namespace kage::engine {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

struct scheduler::impl {
  impl(asio::any_io_executor ex, schedule_config c, logger l)
      : config(std::move(c)),
        log(std::move(l)),
        wake(ex),
        grace(ex),
        job_done(ex, steady::time_point::max()) {}
  schedule_config config;
  logger log;
  asio::steady_timer wake;      // the next run
  asio::steady_timer grace;     // after stop(): how long the running job may still take
  asio::steady_timer job_done;  // cancelled when the running job ends
  asio::cancellation_signal job_cancel;
  std::exception_ptr job_error;
  bool job_running = false;
  bool stopping = false;
  int failures = 0;  // consecutive failed runs
  std::string stage;

  std::int64_t seconds_to_next_tick() const {
    if (!config.cron) return config.every_seconds;
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto next = config.cron->next_after(now);
    return next < 0 ? 24 * 3600 : std::max<std::int64_t>(1, next - now);
  }

  // Built outside coroutines: GCC 12 mishandles lambdas created in coroutine bodies.
  static std::function<void(std::exception_ptr)> job_finished(std::shared_ptr<impl> s) {
    return [s](std::exception_ptr e) {
      s->job_error = e;
      s->job_running = false;
      s->job_done.cancel();
    };
  }

  static void on_grace_expired(const std::shared_ptr<impl>& s,
                               const boost::system::error_code& ec) {
    if (ec || !s->job_running) return;
    s->log.warn(s->config.component, "the running " + s->stage + " did not finish within " +
                                         std::to_string(s->config.shutdown_grace_seconds) +
                                         " s of the stop request: cancelling it");
    s->job_cancel.emit(asio::cancellation_type::terminal);
  }
};

scheduler::scheduler(asio::any_io_executor ex, schedule_config config, logger log)
    : impl_(std::make_shared<impl>(ex, std::move(config), std::move(log))) {}

scheduler::~scheduler() = default;

bool scheduler::stopping() const noexcept {
  return impl_->stopping;
}
bool scheduler::running() const noexcept {
  return impl_->job_running;
}
void scheduler::set_stage(std::string stage) {
  impl_->stage = std::move(stage);
}
const std::string& scheduler::stage() const noexcept {
  return impl_->stage;
}
std::int64_t scheduler::seconds_to_next_tick() const {
  return impl_->seconds_to_next_tick();
}

void scheduler::stop() {
  auto self = impl_;
  if (self->stopping) return;
  self->stopping = true;
  self->wake.cancel();
  if (!self->job_running) return;
  self->grace.expires_after(std::chrono::seconds(self->config.shutdown_grace_seconds));
  self->grace.async_wait(
      [self](const boost::system::error_code& ec) { impl::on_grace_expired(self, ec); });
}

asio::awaitable<void> scheduler::async_run(scheduler_hooks hooks) {
  auto self = impl_;
  auto ex = co_await asio::this_coro::executor;
  // Retry with backoff, never later than the next regular tick.
  const backoff_policy retry{std::chrono::seconds(1), std::chrono::seconds(300)};
  auto next =
      steady::now() + std::chrono::seconds(self->config.cron ? self->seconds_to_next_tick() : 0);
  while (!self->stopping) {
    self->wake.expires_at(next);
    co_await self->wake.async_wait(asio::as_tuple(asio::deferred));
    if (self->stopping) break;
    const auto started = steady::now();
    self->job_running = true;
    if (hooks.in_flight) hooks.in_flight(true);
    // Spawned with its own cancellation slot, which only the grace timer fires.
    asio::co_spawn(ex, hooks.job(),
                   asio::bind_cancellation_slot(self->job_cancel.slot(), impl::job_finished(self)));
    while (self->job_running) co_await self->job_done.async_wait(asio::as_tuple(asio::deferred));
    const std::exception_ptr e = self->job_error;
    self->grace.cancel();
    if (hooks.in_flight) hooks.in_flight(false);
    if (!e) {
      self->failures = 0;
      next =
          self->config.cron
              ? steady::now() + std::chrono::seconds(self->seconds_to_next_tick())
              : std::max(started + std::chrono::seconds(self->config.every_seconds), steady::now());
    } else if (self->stopping) {
      if (hooks.stopped) hooks.stopped(e);
      next = steady::now();
    } else {
      ++self->failures;
      const auto delay = std::min(std::chrono::duration_cast<std::chrono::seconds>(
                                      backoff::ceiling(retry, self->failures - 1)),
                                  std::chrono::seconds(self->seconds_to_next_tick()));
      if (hooks.failed) hooks.failed(e, self->failures, delay);
      next = steady::now() + delay;
    }
  }
}

}  // namespace kage::engine
