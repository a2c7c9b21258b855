#include <kage/base/task_group.hpp>

#include <boost/asio.hpp>

namespace kage {

void task_group::spawn(asio::awaitable<void> task) {
  auto& signal = signals_.emplace_back();
  ++running_;
  asio::co_spawn(executor_, std::move(task),
                 asio::bind_cancellation_slot(signal.slot(), [this](std::exception_ptr e) {
                   --running_;
                   if (e && !first_error_ && !cancelled_) {
                     first_error_ = e;
                     cancel_all();
                   }
                   if (running_ == 0) wake_.cancel();
                 }));
}

void task_group::cancel_all() {
  for (auto& s : signals_) s.emit(asio::cancellation_type::terminal);
}

asio::awaitable<void> task_group::async_join() {
  bool interrupted = false;
  while (running_ > 0) {
    wake_.expires_at(asio::steady_timer::time_point::max());
    co_await wake_.async_wait(asio::as_tuple(asio::deferred));
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) {
      interrupted = true;
      cancelled_ = true;
      cancel_all();
      co_await asio::this_coro::reset_cancellation_state();
    }
  }
  if (interrupted) throw boost::system::system_error(asio::error::operation_aborted);
  if (first_error_) std::rethrow_exception(first_error_);
}

}  // namespace kage
