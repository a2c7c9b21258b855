#include "hints.hpp"

#include <kage/proto/error.hpp>
#include <kage/proto/redis_error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/system/system_error.hpp>

namespace kage::cli {

namespace asio = boost::asio;

std::string hint_for(const boost::system::error_code& ec) {
  if (!ec) return "";
  if (ec.category() == proto::redis_category()) {
    switch (static_cast<proto::redis_errc>(ec.value())) {
      case proto::redis_errc::noauth:
        return "set REDISCLI_AUTH, --password-file or redis.password";
      case proto::redis_errc::wrongpass:
        return "check REDISCLI_AUTH, --password-file or redis.password, and --user";
      case proto::redis_errc::no_password_set:
        return "unset REDISCLI_AUTH/redis.password or configure requirepass";
      default:
        return "";
    }
  }
  if (ec == proto::errc::timeout) {
    return "check that the address is reachable, or raise --connect-timeout/--read-timeout";
  }
  if (ec == proto::errc::closed_at_hello) return "if the server requires TLS, pass --tls/--cacert";
  if (ec.category() == asio::error::get_ssl_category() ||
      ec.category() == asio::ssl::error::get_stream_category()) {
    return "check --cacert/--cert/--key and that the server speaks TLS on this port "
           "(certificate verification is on unless --insecure is given)";
  }
  if (ec.category() == asio::error::get_netdb_category() ||
      ec.category() == asio::error::get_addrinfo_category()) {
    return "check the host name in --node/REDIS_NODE";
  }
  return "";
}

namespace {

boost::system::error_code code_of(const std::exception_ptr& error) noexcept {
  try {
    std::rethrow_exception(error);
  } catch (const failure& f) {
    return f.error();
  } catch (const boost::system::system_error& e) {
    return e.code();
  } catch (...) {
    return {};
  }
}

}  // namespace

std::string describe_with_hint(const std::exception_ptr& error) {
  std::string text = describe(error);
  if (!error) return text;
  if (const std::string hint = hint_for(code_of(error)); !hint.empty()) text += "; " + hint;
  return text;
}

exit_code exit_code_of(const std::exception_ptr& error) noexcept {
  if (!error) return exit_code::ok;
  try {
    std::rethrow_exception(error);
  } catch (const failure& f) {
    return f.code();
  } catch (const boost::system::system_error& e) {
    if (e.code() == asio::error::operation_aborted) return exit_code::interrupted;
    return exit_code::failure;
  } catch (...) {
    return exit_code::failure;
  }
}

}  // namespace kage::cli
