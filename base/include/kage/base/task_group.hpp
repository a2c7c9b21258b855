#pragma once
// Runs coroutines side by side and joins them. The first failure cancels the others (terminal
// cancellation of whatever each is awaiting) and is rethrown by async_join once all have ended.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <exception>
#include <list>

namespace kage {

namespace asio = boost::asio;

class task_group {
 public:
  explicit task_group(asio::any_io_executor ex) : executor_(ex), wake_(ex) {}
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;

  void spawn(asio::awaitable<void> task);
  void cancel_all();
  // If the awaiting coroutine is itself cancelled, the tasks are cancelled, awaited, and
  // asio::error::operation_aborted is thrown.
  asio::awaitable<void> async_join();

 private:
  asio::any_io_executor executor_;
  asio::steady_timer wake_;
  std::list<asio::cancellation_signal> signals_;
  std::size_t running_ = 0;
  std::exception_ptr first_error_;
  bool cancelled_ = false;
};

}  // namespace kage
