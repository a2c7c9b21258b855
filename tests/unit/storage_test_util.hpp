#pragma once
// Unit tests of storage/: run a coroutine to completion on its own io_context.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <optional>

namespace kage::test {

namespace asio = boost::asio;

// Runs a coroutine to completion on its own io_context; rethrows what it threw; fails the test
// if it did not finish within the deadline.
template <class T>
T run(asio::awaitable<T> op) {
  asio::io_context io;
  std::exception_ptr error;
  std::optional<T> result;
  bool finished = false;
  asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T value) {
    finished = true;
    error = e;
    if (!e) result.emplace(std::move(value));
  });
  io.run_for(std::chrono::seconds(30));
  BOOST_REQUIRE_MESSAGE(finished, "coroutine did not finish within 30 s");
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

inline void run(asio::awaitable<void> op) {
  asio::io_context io;
  std::exception_ptr error;
  bool finished = false;
  asio::co_spawn(io, std::move(op), [&](std::exception_ptr e) {
    finished = true;
    error = e;
  });
  io.run_for(std::chrono::seconds(30));
  BOOST_REQUIRE_MESSAGE(finished, "coroutine did not finish within 30 s");
  if (error) std::rethrow_exception(error);
}

}  // namespace kage::test
