#pragma once
#include <memory>
#include <string>
#include <string_view>

namespace kage::storage {

// Incremental SHA-256 (OpenSSL EVP). hex_digest() finishes it; the object is then spent.
class sha256 {
 public:
  sha256();
  ~sha256();
  sha256(sha256&&) noexcept;
  sha256& operator=(sha256&&) noexcept;
  void update(std::string_view bytes) noexcept;
  std::string hex_digest();  // 64 lowercase hex digits

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

std::string sha256_hex(std::string_view bytes);

}  // namespace kage::storage
