#include <kage/base/backoff.hpp>
#include <kage/base/endpoint.hpp>
#include <kage/base/error.hpp>
#include <kage/base/http_client.hpp>
#include <kage/base/tls.hpp>
#include <kage/storage/backup_id.hpp>
#include <kage/storage/s3.hpp>
#include <kage/storage/s3_xml.hpp>
#include <kage/storage/sha256.hpp>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace kage::storage {

namespace http = boost::beast::http;
using boost::system::error_code;

namespace {

class s3_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "kage.s3"; }
  std::string message(int ev) const override {
    switch (static_cast<s3_errc>(ev)) {
      case s3_errc::unreachable:
        return "the S3 endpoint did not answer";
      case s3_errc::retries_exhausted:
        return "S3 kept failing the request";
      case s3_errc::checksum_not_supported:
        return "the S3 store refused a request with a checksum header";
      case s3_errc::signature_mismatch:
        return "S3 refused the request signature";
      case s3_errc::invalid_access_key:
        return "S3 does not know the access key id";
      case s3_errc::no_such_bucket:
        return "the S3 bucket does not exist";
      case s3_errc::entity_too_small:
        return "an S3 upload part is too small";
      case s3_errc::access_denied:
        return "S3 denied access";
      case s3_errc::expired_token:
        return "the S3 session token expired";
      case s3_errc::request_refused:
        return "S3 refused the request";
      case s3_errc::invalid_endpoint:
        return "the S3 endpoint is not an http(s) URL";
      case s3_errc::no_bucket:
        return "no S3 bucket named";
      case s3_errc::no_credentials:
        return "no S3 credentials";
    }
    return "S3 error";
  }
};

}  // namespace

const boost::system::error_category& s3_category() noexcept {
  static const s3_category_impl category;
  return category;
}

boost::system::error_code make_error_code(s3_errc e) noexcept {
  return {static_cast<int>(e), s3_category()};
}

std::size_t part_size_for(std::size_t base, int part_number) noexcept {
  const int doublings = std::min(10, (part_number - 1) / 1000);
  return std::min<std::size_t>(base << doublings, std::size_t{5} << 30);
}

aws_credentials read_credentials_dir(const std::string& dir) {
  aws_credentials c;
  auto read = [&](std::initializer_list<const char*> names) -> std::string {
    for (const char* n : names) {
      std::ifstream in(dir + "/" + n);
      if (!in) continue;
      std::stringstream ss;
      ss << in.rdbuf();
      std::string v = ss.str();
      while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ')) v.pop_back();
      if (!v.empty()) return v;
    }
    return {};
  };
  c.access_key_id =
      read({"AWS_ACCESS_KEY_ID", "aws_access_key_id", "accessKeyId", "access_key_id"});
  c.secret_access_key = read(
      {"AWS_SECRET_ACCESS_KEY", "aws_secret_access_key", "secretAccessKey", "secret_access_key"});
  c.session_token =
      read({"AWS_SESSION_TOKEN", "aws_session_token", "sessionToken", "session_token"});
  return c;
}

namespace {

using kvs = std::vector<std::pair<std::string, std::string>>;

// Plain functions: GCC 12 miscompiles braced lists of string literals inside coroutines.
kvs kv() {
  return {};
}
kvs kv(std::string k, std::string v) {
  kvs out;
  out.emplace_back(std::move(k), std::move(v));
  return out;
}
kvs kv(std::string k1, std::string v1, std::string k2, std::string v2) {
  kvs out = kv(std::move(k1), std::move(v1));
  out.emplace_back(std::move(k2), std::move(v2));
  return out;
}
std::vector<unsigned> statuses(unsigned a, unsigned b = 0, unsigned c = 0) {
  std::vector<unsigned> out{a};
  if (b) out.push_back(b);
  if (c) out.push_back(c);
  return out;
}

std::string now_amz_date() {
  return amz_date(std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count());
}

struct s3_response {
  unsigned status = 0;
  std::string body;
  std::string etag;
  bool encrypted = false;  // SSE-KMS / SSE-C: the ETag is not the MD5 of the bytes
  std::uint64_t content_length = 0;
  std::string checksum_sha256;  // x-amz-checksum-sha256 as the store echoed it (base64), if any
};

// What protects one uploaded body, from one pass over its bytes.
struct body_check {
  std::vector<std::pair<std::string, std::string>> headers;  // Content-MD5 or x-amz-checksum-sha256
  std::string
      payload_hash;     // the body's SHA-256 hex when computed anyway; "" to let request() decide
  std::string md5_hex;  // md5 mode: what the ETag must be
  std::string sha256_base64;  // sha256 mode: what the store echoes and Complete lists
};

body_check check_for(const std::string& mode, std::string_view body) {
  body_check c;
  if (mode == "md5") {
    auto d = md5_of(body);
    c.headers.emplace_back("content-md5", d.base64);
    c.md5_hex = std::move(d.hex);
  } else {
    auto d = sha256_of(body);
    c.headers.emplace_back("x-amz-checksum-sha256", d.base64);
    c.payload_hash = std::move(d.hex);
    c.sha256_base64 = std::move(d.base64);
  }
  return c;
}

// `checksum_headers`: the request carried x-amz-checksum-*, which some S3-compatible stores
// reject (older Ceph RGW, some vendors' gateways).
s3_errc error_for(const std::string& code, unsigned status, bool checksum_headers) {
  if (checksum_headers && (status == 400 || status == 501) &&
      (code == "InvalidRequest" || code == "InvalidArgument" || code == "NotImplemented" ||
       code.empty()))
    return s3_errc::checksum_not_supported;
  if (code == "SignatureDoesNotMatch") return s3_errc::signature_mismatch;
  if (code == "InvalidAccessKeyId") return s3_errc::invalid_access_key;
  if (code == "NoSuchBucket") return s3_errc::no_such_bucket;
  if (code == "EntityTooSmall") return s3_errc::entity_too_small;
  if (code == "AccessDenied" || status == 403) return s3_errc::access_denied;
  if (code == "ExpiredToken") return s3_errc::expired_token;
  return s3_errc::request_refused;
}

bool retryable(unsigned status, const std::string& code) {
  return status >= 500 || status == 429 || code == "SlowDown" || code == "RequestTimeout" ||
         code == "InternalError";
}

// State shared by the store, its writers and readers, and spawned part uploads.
struct s3_context {
  s3_options options;
  logger log;
  std::shared_ptr<std::uint64_t> retries;
  std::string host_header;  // host[:port] as sent
  bool path_style = true;
  std::unique_ptr<http_client> http;
  backoff retry_delay{backoff_policy{}};
  int parts_uploading = 0;                        // across every writer of this store
  std::unique_ptr<asio::steady_timer> part_done;  // cancelled whenever a part finishes

  std::string full_key(std::string_view key) const {
    return options.prefix.empty() ? std::string(key) : options.prefix + "/" + std::string(key);
  }
  std::string describe(std::string_view key) const {
    return "s3://" + options.bucket + "/" + full_key(key);
  }

  // One S3 request, retried with exponential backoff and full jitter when retryable. Throws
  // failure(store, s3_errc) with S3's own Code and Message otherwise.
  asio::awaitable<s3_response> request(http::verb method, std::string key,
                                       std::vector<std::pair<std::string, std::string>> query,
                                       std::vector<std::pair<std::string, std::string>> headers,
                                       std::string body, std::string what,
                                       std::vector<unsigned> accepted,
                                       std::string known_payload_hash = {}) {
    // An empty key means the bucket itself (ListObjectsV2, DeleteObjects).
    const std::string object = key.empty() ? "" : full_key(key);
    std::string path = path_style ? "/" + options.bucket : "";
    if (!object.empty() || !path_style) path += "/" + object;
    std::string target = uri_encode(path, false);
    std::string qs;
    for (const auto& [k, v] : query) {
      qs += (qs.empty() ? "?" : "&") + uri_encode(k, true);
      if (!v.empty() || k != "uploads") qs += "=" + uri_encode(v, true);
    }
    http_request req{method, target + qs, 11};
    // The signature covers the body's SHA-256 whenever it is known (sha256 mode computed it
    // for x-amz-checksum-sha256) and over plain HTTP. Over HTTPS a body with Content-MD5 goes
    // UNSIGNED-PAYLOAD, protected by TLS and the MD5 S3 verifies (as botocore does it).
    bool has_md5 = false, sends_checksum = false;
    for (const auto& h : headers) {
      has_md5 = has_md5 || h.first == "content-md5";
      sends_checksum = sends_checksum || h.first.starts_with("x-amz-checksum-");
    }
    std::string payload_hash = std::move(known_payload_hash);
    if (payload_hash.empty())
      payload_hash =
          http->origin().tls && has_md5 ? std::string("UNSIGNED-PAYLOAD") : sha256_hex(body);
    req.body() = std::move(body);
    req.prepare_payload();
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (int attempt = 1;; ++attempt) {
      sigv4_request sr;
      sr.method = std::string(http::to_string(method));
      sr.path = path;
      sr.query = query;
      sr.headers = kv("host", host_header, "x-amz-content-sha256", payload_hash);
      sr.headers.emplace_back(std::string("x-amz-date"), now_amz_date());
      if (!options.credentials.session_token.empty()) {
        sr.headers.emplace_back(std::string("x-amz-security-token"),
                                options.credentials.session_token);
      }
      for (const auto& h : headers) sr.headers.push_back(h);
      sr.payload_sha256 = payload_hash;
      auto signed_req =
          sigv4_sign(sr, {options.region, "s3", sr.headers[2].second}, options.credentials);
      for (const auto& [k, v] : sr.headers) req.set(k, v);
      req.set(http::field::authorization, signed_req.authorization);
      req.set(http::field::user_agent, "kage/" KAGE_VERSION);

      auto out = co_await http->async_send(req);
      std::string problem;
      s3_errc error = s3_errc::unreachable;
      s3_response r;
      if (out.ec == asio::error::operation_aborted) throw boost::system::system_error(out.ec);
      if (out.ec == http::error::body_limit) {
        // An answer, not silence: retrying gets the same answer.
        fail(exit_code::store, s3_errc::request_refused,
             what + " " + describe(key) + " failed: the S3 endpoint answered with a body larger " +
                 "than kage accepts for it; check the endpoint (is it S3?) and its proxy");
      } else if (out.ec) {
        problem = "cannot reach the S3 endpoint " + options.endpoint + ": " + out.ec.message();
      } else {
        r.status = out.response.result_int();
        r.body = std::move(out.response.body());
        if (auto it = out.response.find(http::field::etag); it != out.response.end()) {
          r.etag = std::string(it->value());
        }
        if (auto it = out.response.find(http::field::content_length); it != out.response.end()) {
          std::from_chars(it->value().data(), it->value().data() + it->value().size(),
                          r.content_length);
        }
        r.checksum_sha256 = std::string(out.response["x-amz-checksum-sha256"]);
        const auto sse = out.response["x-amz-server-side-encryption"];
        r.encrypted = sse == "aws:kms" || sse == "aws:kms:dsse" ||
                      !out.response["x-amz-server-side-encryption-customer-algorithm"].empty();
        auto err = parse_s3_error(r.body);
        // CompleteMultipartUpload can answer 200 with an <Error> body; an accepted 4xx (412 to
        // a conditional PUT, 404 to a HEAD) carries one by nature.
        const bool ok = std::find(accepted.begin(), accepted.end(), r.status) != accepted.end() &&
                        !(err && method != http::verb::get && r.status / 100 == 2);
        if (ok) co_return r;
        const std::string code = err ? err->code : "";
        problem = what + " " + describe(key) + " failed: HTTP " + std::to_string(r.status) +
                  (err ? " " + err->code + ": " + err->message : "");
        if (!retryable(r.status, code))
          fail(exit_code::store, error_for(code, r.status, sends_checksum), problem);
        error = s3_errc::retries_exhausted;
      }
      if (attempt >= options.max_attempts) {
        fail(exit_code::store, error,
             problem + " (after " + std::to_string(attempt) + " attempts)");
      }
      const auto delay = retry_delay.delay(attempt);
      if (retries) ++*retries;
      log.warn(describe(key), problem + "; retry " + std::to_string(attempt) + " in " +
                                  std::to_string(delay.count()) + " ms");
      timer.expires_after(delay);
      auto [tec] = co_await timer.async_wait(asio::as_tuple(asio::deferred));
      if (tec) throw boost::system::system_error(tec);  // cancelled: SIGINT/SIGTERM
    }
  }
};

struct upload_state {
  std::shared_ptr<s3_context> ctx;
  std::string key;
  std::string upload_id;
  std::map<int, std::string> etags;
  std::map<int, std::string> checksums;  // sha256 mode: each part's x-amz-checksum-sha256
  int in_flight = 0;
  std::exception_ptr error;
  std::unique_ptr<asio::steady_timer> wake;
};

// S3 already rejects a body that does not match its checksum header (BadDigest); these checks
// catch a store that ignores the header. Encrypted buckets return ETags that are not MD5s; a
// store that does not know x-amz-checksum-sha256 echoes nothing (the signed payload hash and
// TLS still cover the bytes).
void check_stored(const s3_context& ctx, const std::string& key, const std::string& what,
                  const body_check& sent, const s3_response& r) {
  if (!sent.md5_hex.empty() && !r.encrypted && r.etag != "\"" + sent.md5_hex + "\"") {
    fail(exit_code::store, "S3 returned ETag " + r.etag + " for " + what + " " + ctx.describe(key) +
                               ", expected its MD5 \"" + sent.md5_hex +
                               "\"; the upload was corrupted in transit");
  }
  if (!sent.sha256_base64.empty() && !r.checksum_sha256.empty() &&
      r.checksum_sha256 != sent.sha256_base64) {
    fail(exit_code::store, "S3 stored SHA-256 " + r.checksum_sha256 + " for " + what + " " +
                               ctx.describe(key) + ", expected " + sent.sha256_base64 +
                               "; the upload was corrupted in transit");
  }
}

asio::awaitable<void> upload_part(std::shared_ptr<upload_state> st, int number, std::string data) {
  const body_check sent = check_for(st->ctx->options.checksum, data);
  const std::string what = "part " + std::to_string(number) + " of";
  auto r = co_await st->ctx->request(
      http::verb::put, st->key, kv("partNumber", std::to_string(number), "uploadId", st->upload_id),
      sent.headers, std::move(data), "UploadPart " + std::to_string(number) + " of", statuses(200),
      sent.payload_hash);
  check_stored(*st->ctx, st->key, what, sent, r);
  st->etags[number] = r.etag;
  if (!sent.sha256_base64.empty()) st->checksums[number] = sent.sha256_base64;
}

// Parts that carry x-amz-checksum-sha256 need an upload created for that algorithm.
kvs create_headers(const s3_options& o) {
  return o.checksum == "md5" ? kv() : kv("x-amz-checksum-algorithm", "SHA256");
}

// Multipart when the object outgrows one part; a single PUT otherwise.
class s3_writer final : public object_writer {
 public:
  s3_writer(std::shared_ptr<s3_context> ctx, std::string key, asio::any_io_executor ex)
      : st_(std::make_shared<upload_state>()) {
    st_->ctx = std::move(ctx);
    st_->key = std::move(key);
    st_->wake = std::make_unique<asio::steady_timer>(ex);
    part_.reserve(part_size_for(st_->ctx->options.part_size, 1));
  }

  ~s3_writer() override {
    if (committed_ || st_->upload_id.empty()) return;
    // Never leave billed parts behind, even when the job is abandoned by an exception.
    auto st = st_;
    asio::co_spawn(st->wake->get_executor(), abort_upload(st), abort_done(st));
  }

  asio::awaitable<void> async_write(std::string_view bytes) override {
    while (!bytes.empty()) {
      const std::size_t limit = part_size_for(st_->ctx->options.part_size, next_part_);
      const std::size_t n = std::min(bytes.size(), limit - part_.size());
      part_.append(bytes.substr(0, n));
      bytes.remove_prefix(n);
      written_ += n;
      if (part_.size() == limit) co_await start_part();
    }
  }

  asio::awaitable<void> async_commit() override {
    if (st_->upload_id.empty()) {
      const body_check sent = check_for(st_->ctx->options.checksum, part_);
      auto r =
          co_await st_->ctx->request(http::verb::put, st_->key, kv(), sent.headers,
                                     std::move(part_), "PUT", statuses(200), sent.payload_hash);
      check_stored(*st_->ctx, st_->key, "object", sent, r);
      committed_ = true;
      co_return;
    }
    if (!part_.empty()) co_await start_part();
    co_await drain();
    if (st_->error) {
      co_await abort_upload(st_);
      std::rethrow_exception(st_->error);
    }
    std::string body = "<CompleteMultipartUpload>";
    for (const auto& [n, etag] : st_->etags) {
      body += "<Part><PartNumber>" + std::to_string(n) + "</PartNumber><ETag>" + xml_escape(etag) +
              "</ETag>";
      if (auto c = st_->checksums.find(n); c != st_->checksums.end())
        body += "<ChecksumSHA256>" + c->second + "</ChecksumSHA256>";
      body += "</Part>";
    }
    body += "</CompleteMultipartUpload>";
    co_await st_->ctx->request(http::verb::post, st_->key, kv("uploadId", st_->upload_id), kv(),
                               std::move(body), "CompleteMultipartUpload of", statuses(200));
    committed_ = true;
  }

  asio::awaitable<void> async_abort() override {
    if (committed_ || st_->upload_id.empty()) co_return;
    // Cancellation may interrupt this; the destructor then aborts (upload_id is cleared only
    // once AbortMultipartUpload succeeded), so parts never stay billed.
    co_await drain();
    co_await abort_upload(st_);
  }

  std::uint64_t bytes_written() const noexcept override { return written_; }

 private:
  static asio::awaitable<void> abort_upload(std::shared_ptr<upload_state> st) {
    while (st->in_flight > 0) {
      st->wake->expires_after(std::chrono::seconds(1));
      co_await st->wake->async_wait(asio::as_tuple(asio::deferred));
    }
    const std::string id = st->upload_id;
    if (id.empty()) co_return;
    co_await st->ctx->request(http::verb::delete_, st->key, kv("uploadId", id), kv(), std::string(),
                              "AbortMultipartUpload of", statuses(204, 200, 404));
    st->upload_id.clear();
  }

  asio::awaitable<void> drain() {
    while (st_->in_flight > 0) {
      st_->wake->expires_at(asio::steady_timer::time_point::max());
      co_await st_->wake->async_wait(asio::as_tuple(asio::deferred));
    }
  }

  asio::awaitable<void> start_part() {
    if (st_->upload_id.empty()) {
      auto r = co_await st_->ctx->request(http::verb::post, st_->key, kv("uploads", ""),
                                          create_headers(st_->ctx->options), std::string(),
                                          "CreateMultipartUpload of", statuses(200));
      auto id = xml_text(r.body, "UploadId");
      if (!id || id->empty()) {
        fail(exit_code::store, "S3 did not return an UploadId for " + st_->ctx->describe(st_->key));
      }
      st_->upload_id = *id;
    }
    // Bounded memory: at most parts_in_flight parts of this object uploading (plus the one
    // being filled), and at most total_parts_in_flight of the whole store. Every finished part
    // cancels both timers; the loop checks again (one thread: no wake-up is lost).
    auto& ctx = *st_->ctx;
    for (;;) {
      if (st_->error) std::rethrow_exception(st_->error);
      if (st_->in_flight >= ctx.options.parts_in_flight) {
        st_->wake->expires_at(asio::steady_timer::time_point::max());
        co_await st_->wake->async_wait(asio::as_tuple(asio::deferred));
      } else if (ctx.parts_uploading >= ctx.options.total_parts_in_flight) {
        // Shared by every waiting writer: never re-armed (that would cancel the others' waits).
        co_await ctx.part_done->async_wait(asio::as_tuple(asio::deferred));
      } else {
        break;
      }
    }
    const int number = next_part_++;
    ++st_->in_flight;
    ++ctx.parts_uploading;
    auto st = st_;
    asio::co_spawn(st->wake->get_executor(), upload_part(st, number, std::move(part_)),
                   part_done(st));
    part_ = std::string();
    part_.reserve(part_size_for(st_->ctx->options.part_size, next_part_));
  }

  static std::function<void(std::exception_ptr)> abort_done(std::shared_ptr<upload_state> st) {
    return [st](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        st->ctx->log.error(st->ctx->describe(st->key),
                           "AbortMultipartUpload of upload " + st->upload_id + " failed (" +
                               ex.what() +
                               "); its parts stay billed until a lifecycle rule or "
                               "'aws s3api abort-multipart-upload' removes them");
      }
    };
  }

  // Built outside the coroutine: GCC 12 mishandles lambdas created in coroutine bodies.
  static std::function<void(std::exception_ptr)> part_done(std::shared_ptr<upload_state> st) {
    return [st](std::exception_ptr e) {
      --st->in_flight;
      --st->ctx->parts_uploading;
      if (e && !st->error) st->error = e;
      st->wake->cancel();
      st->ctx->part_done->cancel();
    };
  }

  std::shared_ptr<upload_state> st_;
  std::string part_;
  int next_part_ = 1;
  std::uint64_t written_ = 0;
  bool committed_ = false;
};

// Ranged GETs of read_chunk bytes: an interrupted read resumes at the next byte it needs.
class s3_reader final : public object_reader {
 public:
  s3_reader(std::shared_ptr<s3_context> ctx, std::string key, std::uint64_t size)
      : ctx_(std::move(ctx)), key_(std::move(key)), size_(size) {}

  asio::awaitable<std::size_t> async_read(std::span<char> buf) override {
    if (used_ == chunk_.size()) {
      if (offset_ >= size_) co_return 0;
      const std::uint64_t last =
          std::min<std::uint64_t>(size_, offset_ + ctx_->options.read_chunk) - 1;
      auto r = co_await ctx_->request(
          http::verb::get, key_, kv(),
          kv("range", "bytes=" + std::to_string(offset_) + "-" + std::to_string(last)),
          std::string(), "GET", statuses(206, 200));
      if (r.body.size() != last - offset_ + 1) {
        fail(exit_code::store, "GET " + ctx_->describe(key_) + " returned " +
                                   std::to_string(r.body.size()) + " bytes for a range of " +
                                   std::to_string(last - offset_ + 1));
      }
      chunk_ = std::move(r.body);
      used_ = 0;
      offset_ = last + 1;
    }
    const std::size_t n = std::min(buf.size(), chunk_.size() - used_);
    std::copy_n(chunk_.data() + used_, n, buf.data());
    used_ += n;
    co_return n;
  }
  std::uint64_t size() const noexcept override { return size_; }

 private:
  std::shared_ptr<s3_context> ctx_;
  std::string key_;
  std::uint64_t size_;
  std::uint64_t offset_ = 0;
  std::string chunk_;
  std::size_t used_ = 0;
};

class s3_store final : public store {
 public:
  explicit s3_store(std::shared_ptr<s3_context> ctx) : ctx_(std::move(ctx)) {}

  std::string location() const override {
    return "s3://" + ctx_->options.bucket +
           (ctx_->options.prefix.empty() ? "" : "/" + ctx_->options.prefix);
  }

  asio::awaitable<std::unique_ptr<object_writer>> async_create(std::string key) override {
    co_return std::make_unique<s3_writer>(ctx_, std::move(key), co_await asio::this_coro::executor);
  }

  asio::awaitable<bool> async_create_new(std::string key, std::string bytes) override {
    body_check sent = check_for(ctx_->options.checksum, bytes);
    sent.headers.emplace_back("if-none-match", "*");
    // 412: the key exists. 409: a concurrent conditional write to it is under way (AWS asks to
    // retry; the other writer is the one that gets it).
    auto r = co_await ctx_->request(http::verb::put, key, kv(), sent.headers, std::move(bytes),
                                    "conditional PUT", statuses(200, 412, 409), sent.payload_hash);
    if (r.status != 200) co_return false;
    check_stored(*ctx_, key, "object", sent, r);
    co_return true;
  }

  asio::awaitable<std::unique_ptr<object_reader>> async_open(std::string key) override {
    // HEAD has no body: a 404 carries no <Error>, so name it ourselves.
    auto r = co_await ctx_->request(http::verb::head, key, kv(), kv(), std::string(), "HEAD",
                                    statuses(200, 404));
    if (r.status == 404) {
      fail(exit_code::store, store_errc::not_found,
           "backup object " + ctx_->describe(key) + " does not exist");
    }
    co_return std::make_unique<s3_reader>(ctx_, std::move(key), r.content_length);
  }

  asio::awaitable<std::vector<object_info>> async_list(std::string prefix) override {
    std::vector<object_info> out;
    const std::string root = ctx_->options.prefix.empty() ? "" : ctx_->options.prefix + "/";
    list_paging paging;
    for (;;) {
      // The prefix is sent only up to its first '/', and the rest is matched here: some
      // S3-compatible servers (moto 5 with signature checks) verify signatures against the
      // decoded query, so a %2F in a query value fails there however it is signed.
      const std::string wanted = root + prefix;
      kvs q = kv("list-type", "2", "prefix", wanted.substr(0, wanted.find('/')));
      if (!paging.token().empty())
        q.emplace_back(std::string("continuation-token"), paging.token());
      auto r = co_await ctx_->request(http::verb::get, "", q, kv(), std::string(),
                                      "ListObjectsV2 of", statuses(200));
      for (auto c : xml_elements(r.body, "Contents")) {
        const std::string key = xml_text(c, "Key").value_or("");
        if (!key.starts_with(wanted)) continue;
        object_info info;
        info.key = key.substr(root.size());
        const std::string size = xml_text(c, "Size").value_or("0");
        const auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), info.size);
        if (ec != std::errc() || end != size.data() + size.size())
          fail(exit_code::store, "ListObjectsV2 of " + ctx_->describe(prefix) + " gave object " +
                                     key + " the size '" + size +
                                     "', which is not a number; check the S3 server or its proxy");
        out.push_back(std::move(info));
      }
      if (const std::string problem = paging.on_page(r.body); !problem.empty()) {
        fail(exit_code::store, "ListObjectsV2 of " + ctx_->describe(prefix) +
                                   " failed: " + problem + "; check the S3 server or its proxy");
      }
      if (paging.done()) break;
    }
    std::sort(out.begin(), out.end(),
              [](const object_info& a, const object_info& b) { return a.key < b.key; });
    co_return out;
  }

  asio::awaitable<std::vector<leftover>> async_list_leftovers() override {
    std::vector<leftover> out;
    const std::string root = ctx_->options.prefix.empty() ? "" : ctx_->options.prefix + "/";
    std::string key_marker, upload_marker;
    // As in async_list: the prefix only up to its first '/'.
    for (int page = 0;; ++page) {
      if (page == 10000)
        fail(exit_code::store, "ListMultipartUploads of " + location() +
                                   " did not end after 10000 pages; check the S3 server");
      kvs q = kv("uploads", "", "prefix", root.substr(0, root.find('/')));
      if (!key_marker.empty() || !upload_marker.empty()) {
        q.emplace_back(std::string("key-marker"), key_marker);
        q.emplace_back(std::string("upload-id-marker"), upload_marker);
      }
      auto r = co_await ctx_->request(http::verb::get, "", q, kv(), std::string(),
                                      "ListMultipartUploads of", statuses(200));
      for (auto u : xml_elements(r.body, "Upload")) {
        const std::string key = xml_text(u, "Key").value_or("");
        if (!key.starts_with(root)) continue;
        leftover l;
        l.key = key.substr(root.size());
        l.upload_id = xml_text(u, "UploadId").value_or("");
        // An unreadable time counts as now: such an upload is kept until --grace 0.
        l.started_ms = rfc3339_ms_time(xml_text(u, "Initiated").value_or(""))
                           .value_or(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
        if (!l.upload_id.empty()) out.push_back(std::move(l));
      }
      if (xml_text(r.body, "IsTruncated").value_or("false") != "true") break;
      auto next_key = xml_text(r.body, "NextKeyMarker").value_or("");
      auto next_upload = xml_text(r.body, "NextUploadIdMarker").value_or("");
      if (next_key == key_marker && next_upload == upload_marker)
        fail(exit_code::store, "ListMultipartUploads of " + location() +
                                   " repeats its page (the same markers again); check the S3 "
                                   "server or its proxy");
      key_marker = std::move(next_key);
      upload_marker = std::move(next_upload);
    }
    co_return out;
  }

  asio::awaitable<void> async_remove_leftovers(std::vector<leftover> items) override {
    for (auto& item : items) {
      co_await ctx_->request(http::verb::delete_, item.key, kv("uploadId", item.upload_id), kv(),
                             std::string(), "AbortMultipartUpload of", statuses(204, 200, 404));
    }
  }

  asio::awaitable<void> async_remove(std::vector<std::string> keys) override {
    for (std::size_t i = 0; i < keys.size(); i += 1000) {
      std::string body = "<Delete><Quiet>true</Quiet>";
      for (std::size_t j = i; j < std::min(keys.size(), i + 1000); ++j) {
        body += "<Object><Key>" + xml_escape(ctx_->full_key(keys[j])) + "</Key></Object>";
      }
      body += "</Delete>";
      const std::string md5 = md5_base64(body);
      auto r =
          co_await ctx_->request(http::verb::post, "", kv("delete", ""), kv("content-md5", md5),
                                 std::move(body), "DeleteObjects in", statuses(200));
      if (auto errors = xml_elements(r.body, "Error"); !errors.empty()) {
        fail(exit_code::store, "S3 refused to delete " + xml_text(errors[0], "Key").value_or("") +
                                   ": " + xml_text(errors[0], "Code").value_or("") + " " +
                                   xml_text(errors[0], "Message").value_or(""));
      }
    }
  }

 private:
  std::shared_ptr<s3_context> ctx_;
};

}  // namespace

std::unique_ptr<store> make_s3_store(std::string_view location, const store_options& options,
                                     asio::any_io_executor ex) {
  auto ctx = std::make_shared<s3_context>();
  ctx->part_done = std::make_unique<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
  ctx->options = options.s3;
  ctx->log = options.log;
  ctx->retries = options.retries;
  auto& o = ctx->options;
  if (location.starts_with("s3://")) {
    auto rest = location.substr(5);
    const auto slash = rest.find('/');
    o.bucket = std::string(rest.substr(0, slash));
    o.prefix = slash == std::string_view::npos ? "" : std::string(rest.substr(slash + 1));
  }
  while (!o.prefix.empty() && o.prefix.back() == '/') o.prefix.pop_back();
  if (o.bucket.empty()) {
    fail(exit_code::usage, s3_errc::no_bucket, "no S3 bucket: write s3://BUCKET/prefix");
  }
  if (o.credentials.empty()) {
    fail(exit_code::usage, s3_errc::no_credentials,
         "no S3 credentials: an access key id and a secret access key are needed");
  }
  const bool custom = !o.endpoint.empty();
  if (!custom) o.endpoint = "https://s3." + o.region + ".amazonaws.com";
  ctx->path_style = o.path_style.value_or(custom);
  auto url = parse_http_url(o.endpoint);
  if (!url) {
    fail(exit_code::usage, s3_errc::invalid_endpoint,
         "S3 endpoint '" + o.endpoint + "': " + url.error().message());
  }
  ctx->retry_delay = backoff(backoff_policy{o.retry_base, o.retry_cap});
  if (!ctx->path_style) url->ep.host = o.bucket + "." + url->ep.host;
  ctx->host_header = url->authority();
  http_client_options h;
  if (url->tls) {
    tls_client_options t;
    t.ca_file = o.ca_file;
    t.verify = o.verify;
    t.purpose = "S3";
    h.tls = make_tls_client_context(t);
  }
  h.timeout = o.timeout;
  h.body_limit = std::max<std::size_t>(o.read_chunk, 1 << 20) + (1 << 20);
  ctx->http = std::make_unique<http_client>(ex, std::move(*url), std::move(h));
  return std::make_unique<s3_store>(ctx);
}

}  // namespace kage::storage
