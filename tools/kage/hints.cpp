#include "hints.hpp"

#include <kage/base/tls.hpp>
#include <kage/proto/error.hpp>
#include <kage/proto/redis_error.hpp>
#include <kage/proto/sentinel.hpp>
#include <kage/storage/s3.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/system/system_error.hpp>

namespace kage::cli {

namespace asio = boost::asio;

namespace {

std::string s3_hint(storage::s3_errc e) {
  using storage::s3_errc;
  switch (e) {
    case s3_errc::checksum_not_supported:
      return "if this store does not support x-amz-checksum-sha256, use Content-MD5 instead: "
             "store.s3.checksum: md5 (S3_CHECKSUM=md5, --s3-checksum md5)";
    case s3_errc::signature_mismatch:
      return "check the secret access key (AWS_SECRET_ACCESS_KEY or the credentials directory) "
             "and the region";
    case s3_errc::invalid_access_key:
      return "check the access key id (AWS_ACCESS_KEY_ID)";
    case s3_errc::no_such_bucket:
      return "check the bucket name (S3_BUCKET_NAME or s3://BUCKET/...)";
    case s3_errc::entity_too_small:
      return "parts must be at least 5 MiB: raise the part size";
    case s3_errc::access_denied:
      return "check that these credentials may read, write, list and delete in this bucket";
    case s3_errc::expired_token:
      return "the session token expired: refresh AWS_SESSION_TOKEN";
    case s3_errc::request_refused:
      return "check S3_ENDPOINT_URL, the bucket and the credentials";
    case s3_errc::unreachable:
    case s3_errc::retries_exhausted:
      return "check S3_ENDPOINT_URL (store.s3.endpoint) and that the service is up";
    case s3_errc::invalid_endpoint:
      return "set S3_ENDPOINT_URL (store.s3.endpoint) to a URL such as https://host:9000 or "
             "http://[::1]:9000";
    case s3_errc::no_bucket:
      return "write s3://BUCKET/prefix or set S3_BUCKET_NAME";
    case s3_errc::no_credentials:
      return "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, put them in the config file "
             "(s3.access_key_id, s3.secret_access_key), or mount a credentials directory";
  }
  return {};
}

std::string tls_hint(tls_errc e, const settings& s) {
  switch (e) {
    case tls_errc::ca_file:
      // The same file may be named for both; Redis is the usual one.
      if (!s.ca_file.empty())
        return "the Redis CA file comes from --cacert, CACERT or redis.ca_file";
      return "the S3 CA bundle comes from --s3-ca-file, AWS_CA_BUNDLE or store.s3.ca_file";
    case tls_errc::trust_store:
      return "name a CA file instead (--cacert, --s3-ca-file)";
    case tls_errc::cert_file:
      return "the client certificate comes from --cert, TLS_CRT or redis.cert_file";
    case tls_errc::key_file:
      return "the client key comes from --key, TLS_KEY or redis.key_file";
  }
  return {};
}

}  // namespace

std::string hint_for(const boost::system::error_code& ec, const settings& s) {
  if (!ec) return "";
  if (ec.category() == storage::s3_category())
    return s3_hint(static_cast<storage::s3_errc>(ec.value()));
  if (ec.category() == tls_category()) return tls_hint(static_cast<tls_errc>(ec.value()), s);
  if (ec.category() == proto::sentinel_category()) {
    switch (static_cast<proto::sentinel_errc>(ec.value())) {
      case proto::sentinel_errc::auth_refused:
        return "check SENTINEL_PASSWORD, --sentinel-password-file or redis.sentinel.password, "
               "and --sentinel-user (the sentinels' own credentials, not Redis')";
      case proto::sentinel_errc::unreachable:
        return "check the addresses in --sentinel/SENTINEL_NODES and that the sentinels run "
               "(port 26379 by default)";
      case proto::sentinel_errc::unknown_master:
        return "pass the name from the sentinels' 'sentinel monitor NAME ...' line as "
               "--master-name (SENTINEL_MASTER, redis.sentinel.master_name)";
      case proto::sentinel_errc::no_agreement:
      case proto::sentinel_errc::not_primary:
      case proto::sentinel_errc::primary_lost:
        return "run the command again once the failover has finished "
               "(redis-cli -p 26379 SENTINEL GET-MASTER-ADDR-BY-NAME NAME on each sentinel)";
      case proto::sentinel_errc::bad_reply:
        return "";
    }
  }
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

std::string describe_with_hint(const std::exception_ptr& error, const settings& s) {
  std::string text = describe(error);
  if (!error) return text;
  if (const std::string hint = hint_for(code_of(error), s); !hint.empty()) text += "; " + hint;
  return text;
}

bool try_next_copy(const std::exception_ptr& error) noexcept {
  const exit_code code = exit_code_of(error);
  return code == exit_code::store || code == exit_code::integrity;
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
