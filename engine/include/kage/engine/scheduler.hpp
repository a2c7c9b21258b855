#pragma once
// Scheduled runs: one at a time, at a fixed period or at cron times (UTC); after a failure the
// next attempt comes with backoff (1 s doubling to 300 s), never later than the next regular
// time; stop() starts nothing new and gives the running job a grace period, then cancels it.
// What a run does, and what is recorded about it, is the caller's (hooks).
#include <kage/base/log.hpp>
#include <kage/engine/cron.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace kage::engine {

struct schedule_config {
  std::int64_t every_seconds = 3600;  // the period, when cron is not set
  std::optional<cron_schedule> cron;  // run at these times instead
  std::int64_t shutdown_grace_seconds = 30;
  std::string component = "run";  // names the log lines
};

struct scheduler_hooks {
  std::function<boost::asio::awaitable<void>()> job;  // one run; throws what failed
  std::function<void(bool running)> in_flight;        // a run started (true) or ended (false)
  // A run failed, `failures` in a row; the next attempt comes after retry_in.
  std::function<void(std::exception_ptr, int failures, std::chrono::seconds retry_in)> failed;
  // A run failed (or was cancelled) after stop(): nothing is retried.
  std::function<void(std::exception_ptr)> stopped;
};

class scheduler {
 public:
  scheduler(boost::asio::any_io_executor ex, schedule_config config, logger log);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // Runs until stop(). With a fixed period the first run starts at once; with cron, at the
  // first cron time. Returns once no run is in progress.
  boost::asio::awaitable<void> async_run(scheduler_hooks hooks);
  void stop();
  bool stopping() const noexcept;
  bool running() const noexcept;
  // What the running job does now ("backup", "retention"), for the lines about it.
  void set_stage(std::string stage);
  const std::string& stage() const noexcept;
  // Seconds from now until the next regular run (the cron time, or the fixed period).
  std::int64_t seconds_to_next_tick() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace kage::engine
