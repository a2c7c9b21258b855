#include <kage/base/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

namespace kage {

void fail(exit_code code, const std::string& message) {
  throw failure(code, message);
}

void fail(exit_code code, boost::system::error_code error, const std::string& message) {
  throw failure(code, error, message);
}

std::string describe(const std::exception_ptr& error) noexcept {
  if (!error) return {};
  try {
    try {
      std::rethrow_exception(error);
    } catch (const failure& f) {
      return f.what();
    } catch (const boost::system::system_error& e) {
      if (e.code() == boost::asio::error::operation_aborted) return "interrupted";
      return e.what();
    } catch (const std::exception& e) {
      return e.what();
    } catch (...) {
      return "unknown error";
    }
  } catch (...) {
    return "unknown error";  // building the string itself failed (out of memory)
  }
}

}  // namespace kage
