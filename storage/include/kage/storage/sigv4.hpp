#pragma once
// AWS Signature Version 4, sans-IO: a request description in, the headers to add out.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kage::storage {

struct aws_credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // optional (temporary credentials)
  bool empty() const { return access_key_id.empty() || secret_access_key.empty(); }
};

struct sigv4_request {
  std::string method;  // "GET", "PUT", ...
  std::string path;    // raw (not encoded) path, e.g. "/bucket/2026.../shard-00.resp.zst"
  std::vector<std::pair<std::string, std::string>> query;    // raw names and values
  std::vector<std::pair<std::string, std::string>> headers;  // must include "host"
  std::string payload_sha256;                                // lowercase hex, or "UNSIGNED-PAYLOAD"
};

struct sigv4_scope {
  std::string region = "us-east-1";
  std::string service = "s3";
  std::string amz_date;  // "20150830T123600Z"
};

struct sigv4_result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;      // lowercase hex
  std::string authorization;  // the Authorization header value
};

// URI encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - _ . ~) kept, every other
// byte %XX (upper hex); '/' kept when encode_slash is false (paths).
std::string uri_encode(std::string_view s, bool encode_slash);

sigv4_result sigv4_sign(const sigv4_request& request, const sigv4_scope& scope,
                        const aws_credentials& credentials);

// "20150830T123600Z" for a unix time in seconds.
std::string amz_date(long long unix_seconds);

std::string sha256_hex_of(std::string_view bytes);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw bytes
std::string md5_base64(std::string_view bytes);                        // Content-MD5
std::string md5_hex(std::string_view bytes);
// Both forms from one pass over the bytes (parts are large: hash them once).
struct body_digest {
  std::string hex;     // x-amz-content-sha256, ETag comparison
  std::string base64;  // Content-MD5, x-amz-checksum-sha256
};
body_digest md5_of(std::string_view bytes);
body_digest sha256_of(std::string_view bytes);

}  // namespace kage::storage
