#pragma once
// kage run: scheduled backups (then restore-missing and retention), an HTTP endpoint with
// Prometheus metrics and health, and a graceful stop on SIGTERM.
#include "settings.hpp"

#include <kage/base/log.hpp>
#include <kage/proto/connection.hpp>
#include <kage/storage/multi_store.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>

namespace kage::cli {

// What main.cpp knows how to build from the settings.
struct run_deps {
  // Every location a job writes to (one multi_store per job step), in order of preference.
  std::function<std::shared_ptr<storage::multi_store>(boost::asio::any_io_executor)> open_store;
  proto::redis_config redis;
  std::int64_t keep_within_ms = -1;  // store.retention.keep_within, -1: not set
  std::int64_t prune_grace_ms = 24 * 3600 * 1000;
  std::shared_ptr<std::uint64_t> s3_retries;  // counted by the S3 store, for /metrics
};

// The signal handler's handle on a running `kage run`: stop() starts the graceful shutdown.
class run_control {
 public:
  void stop();
  bool stopping() const noexcept { return stopping_; }
  void on_stop(std::function<void()> f) { on_stop_ = std::move(f); }

 private:
  bool stopping_ = false;
  std::function<void()> on_stop_;
};

// Runs until control->stop(); returns the exit code (0 after a graceful stop).
boost::asio::awaitable<int> run_daemon(settings s, logger log, run_deps deps,
                                       std::shared_ptr<run_control> control);

}  // namespace kage::cli
