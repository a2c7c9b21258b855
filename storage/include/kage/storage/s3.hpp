#pragma once
// S3-compatible object storage (AWS S3, MinIO, Ceph RGW, ...) as a backup store.
#include <kage/base/log.hpp>
#include <kage/storage/sigv4.hpp>
#include <kage/storage/store.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <map>
#include <optional>

namespace kage::storage {

// What an S3 failure was, carried by failure::error(); tools/ turn these into advice.
enum class s3_errc {
  unreachable = 1,         // no answer (connection, TLS, timeout) after every attempt
  retries_exhausted,       // retryable answers (5xx, SlowDown) until max_attempts
  checksum_not_supported,  // a 400/501 to a request with x-amz-checksum-* headers
  signature_mismatch,      // SignatureDoesNotMatch: wrong secret key or region
  invalid_access_key,      // InvalidAccessKeyId
  no_such_bucket,          // NoSuchBucket
  entity_too_small,        // EntityTooSmall: parts under 5 MiB
  access_denied,           // AccessDenied or HTTP 403
  expired_token,           // ExpiredToken
  request_refused,         // any other error answer
  invalid_endpoint,        // s3_options::endpoint is not an http(s) URL
  no_bucket,               // no bucket named
  no_credentials,          // no access key id and secret key
};
const boost::system::error_category& s3_category() noexcept;
boost::system::error_code make_error_code(s3_errc e) noexcept;

struct s3_options {
  std::string endpoint;  // "http://127.0.0.1:5000"; empty: https://s3.<region>.amazonaws.com
  std::string region = "us-east-1";
  std::string bucket;  // from s3://bucket/prefix or S3_BUCKET_NAME
  std::string prefix;  // backups live under bucket/prefix/<id>/...
  std::optional<bool>
      path_style;       // default: path-style with a custom endpoint, else virtual-hosted
  std::string ca_file;  // CA bundle for HTTPS (default: the system's trust store)
  bool verify = true;   // certificate verification; off only by an explicit flag
  aws_credentials credentials;
  std::size_t part_size = std::size_t{16} << 20;  // grows with the part number: part_size_for
  int parts_in_flight = 4;                        // per object
  // Across every object of the store at once (a backup writes one object per master at the
  // same time): memory stays under (total_parts_in_flight + masters) x part size.
  int total_parts_in_flight = 16;
  // Per-part (and single PUT) checksum S3 verifies: "sha256" sends x-amz-checksum-sha256 (the
  // same digest signs the payload over HTTP: one hash per byte); "md5" sends Content-MD5 and
  // checks each part's ETag, for stores that reject the x-amz-checksum-* headers.
  std::string checksum = "sha256";
  int max_attempts = 6;  // per request, for retryable failures
  std::chrono::milliseconds retry_base{200};
  std::chrono::milliseconds retry_cap{20000};
  std::chrono::milliseconds timeout{60000};       // per HTTP exchange
  std::size_t read_chunk = std::size_t{8} << 20;  // ranged GET size when reading
};

struct store_options {
  s3_options s3;
  logger log;
  asio::any_io_executor executor;          // where S3 connections live (the job's io_context)
  std::shared_ptr<std::uint64_t> retries;  // optional: counts retried S3 requests (metrics)
};

// "/path", "file:///path" -> local; "s3://bucket[/prefix]" -> S3 (endpoint, region and
// credentials from options.s3); an empty location with options.s3.bucket set -> S3 too.
std::unique_ptr<store> open_store(std::string_view location, const store_options& options);

// The part size used for part number n (1-based): the base size for the first 1,000 parts,
// then doubling every 1,000 parts (capped at 5 GiB), so any object fits in 10,000 parts.
std::size_t part_size_for(std::size_t base, int part_number) noexcept;

// Credentials from a mounted secret directory (one file per key), accepting these names:
// AWS_ACCESS_KEY_ID / aws_access_key_id / accessKeyId / access_key_id, the same four for the
// secret access key and the session token. Missing directory: empty credentials.
aws_credentials read_credentials_dir(const std::string& dir);

}  // namespace kage::storage

template <>
struct boost::system::is_error_code_enum<kage::storage::s3_errc> : std::true_type {};
