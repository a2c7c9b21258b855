#pragma once
// Advice that names kage's flags, settings and environment variables, chosen by the error code
// a failure carries. Libraries state what went wrong in the server's or system's words; only
// the program knows how it was configured, so the advice lives here.
#include "settings.hpp"

#include <kage/base/error.hpp>

#include <boost/system/error_code.hpp>

#include <exception>
#include <string>

namespace kage::cli {

// "" when there is no advice for ec; `s` says how kage was configured (which CA file was named).
std::string hint_for(const boost::system::error_code& ec, const settings& s);

// kage::describe(error), then "; <hint>" when the error's code has one: what the program
// prints for a failed command and logs for a failed step of kage run.
std::string describe_with_hint(const std::exception_ptr& error, const settings& s);

// The exit code for an exception: a failure's own, interrupted for a cancelled operation,
// failure otherwise.
exit_code exit_code_of(const std::exception_ptr& error) noexcept;

// A read that failed in one location (store or integrity) may succeed from another copy.
bool try_next_copy(const std::exception_ptr& error) noexcept;

}  // namespace kage::cli
