#include <kage/storage/sha256.hpp>

#include <openssl/evp.h>

#include <new>
#include <stdexcept>

namespace kage::storage {

struct sha256::impl {
  struct ctx_deleter {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, ctx_deleter> ctx{EVP_MD_CTX_new()};
};

sha256::sha256() : impl_(std::make_unique<impl>()) {
  if (!impl_->ctx) throw std::bad_alloc();
  // Only fails when OpenSSL cannot provide SHA-256 at all: nothing to recover.
  if (EVP_DigestInit_ex(impl_->ctx.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL cannot initialise SHA-256");
}

sha256::~sha256() = default;
sha256::sha256(sha256&&) noexcept = default;
sha256& sha256::operator=(sha256&&) noexcept = default;

void sha256::update(std::string_view bytes) noexcept {
  // EVP_DigestUpdate on an initialised SHA-256 context has no failure mode for valid input.
  if (!bytes.empty()) EVP_DigestUpdate(impl_->ctx.get(), bytes.data(), bytes.size());
}

std::string sha256::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx.get(), digest, &len) != 1)
    throw std::runtime_error("OpenSSL cannot finish SHA-256");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0x0f]);
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  sha256 h;
  h.update(bytes);
  return h.hex_digest();
}

}  // namespace kage::storage
