#include "s3_hints.hpp"

#include <kage/base/error.hpp>
#include <kage/base/tls.hpp>
#include <kage/storage/s3.hpp>

namespace kage::cli {

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
    case s3_errc::invalid_access_key: return "check the access key id (AWS_ACCESS_KEY_ID)";
    case s3_errc::no_such_bucket: return "check the bucket name (S3_BUCKET_NAME or s3://BUCKET/...)";
    case s3_errc::entity_too_small: return "parts must be at least 5 MiB: raise the part size";
    case s3_errc::access_denied:
      return "check that these credentials may read, write, list and delete in this bucket";
    case s3_errc::expired_token: return "the session token expired: refresh AWS_SESSION_TOKEN";
    case s3_errc::request_refused: return "check S3_ENDPOINT_URL, the bucket and the credentials";
    case s3_errc::unreachable:
    case s3_errc::retries_exhausted:
      return "check S3_ENDPOINT_URL (store.s3.endpoint) and that the service is up";
    case s3_errc::invalid_endpoint:
      return "set S3_ENDPOINT_URL (store.s3.endpoint) to a URL such as https://host:9000 or "
             "http://[::1]:9000";
    case s3_errc::no_bucket: return "write s3://BUCKET/prefix or set S3_BUCKET_NAME";
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
      if (!s.ca_file.empty()) return "the Redis CA file comes from --cacert, CACERT or redis.ca_file";
      return "the S3 CA bundle comes from --s3-ca-file, AWS_CA_BUNDLE or store.s3.ca_file";
    case tls_errc::trust_store: return "name a CA file instead (--cacert, --s3-ca-file)";
    case tls_errc::cert_file: return "the client certificate comes from --cert, TLS_CRT or redis.cert_file";
    case tls_errc::key_file: return "the client key comes from --key, TLS_KEY or redis.key_file";
  }
  return {};
}

}  // namespace

std::string s3_tls_hint(const boost::system::error_code& error, const settings& s) {
  if (error.category() == storage::s3_category())
    return s3_hint(static_cast<storage::s3_errc>(error.value()));
  if (error.category() == tls_category()) return tls_hint(static_cast<tls_errc>(error.value()), s);
  return {};
}

std::string s3_tls_hint(const std::exception_ptr& error, const settings& s) {
  try {
    if (error) std::rethrow_exception(error);
  } catch (const failure& f) {
    return s3_tls_hint(f.error(), s);
  } catch (...) {
  }
  return {};
}

std::string with_hint(const std::string& message, const boost::system::error_code& error,
                      const settings& s) {
  const std::string hint = s3_tls_hint(error, s);
  return hint.empty() ? message : message + "; " + hint;
}

}  // namespace kage::cli
