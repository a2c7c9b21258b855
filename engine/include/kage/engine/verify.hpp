#pragma once
#include <kage/storage/manifest.hpp>
#include <kage/storage/store.hpp>

namespace kage::engine {

namespace asio = boost::asio;

struct object_check {
  std::string name;
  std::uint64_t bytes = 0;
  std::uint64_t keys = 0;
  std::string sha256;
  std::string problem;  // empty when the object is sound
};

struct verify_report {
  storage::manifest manifest;
  std::vector<object_check> objects;
  bool ok() const;
};

struct verify_progress {
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_total = 0;
  std::uint64_t records = 0;
};

// Re-reads every object of a backup: size and SHA-256 against the manifest, every record parsed,
// every DUMP payload's own CRC64 checked, key counts compared. For a snapshot: every RDB's size,
// SHA-256, "REDIS" + version header, EOF opcode and CRC-64; every nodes.conf and nodes.json's
// size and SHA-256 (and that a nodes.conf is its node's). Problems are reported, not thrown;
// throws kage::failure only when the backup cannot be found or read at all.
asio::awaitable<verify_report> async_verify(std::shared_ptr<storage::store> store, std::string id,
                                            std::shared_ptr<verify_progress> progress);

}  // namespace kage::engine
