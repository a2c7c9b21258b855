#pragma once
// What backups a store holds. A backup is complete iff its manifest.json exists and parses;
// a folder/prefix without one is an interrupted backup, listed as such, never restorable.
#include <kage/storage/manifest.hpp>
#include <kage/storage/store.hpp>

#include <optional>

namespace kage::storage {

struct backup_entry {
  std::string id;
  bool complete = false;
  std::uint64_t bytes = 0;  // sum of object sizes seen in the store
  std::optional<manifest> meta;  // set when complete
  std::string problem;  // why it is not complete (no manifest / unreadable manifest: ...)
};

// Sorted by id (oldest first).
asio::awaitable<std::vector<backup_entry>> async_list_backups(store& s);

// The manifest of backup `id`, or of the newest complete backup when id is empty.
// Throws failure(incompatible) when there is no such (complete) backup, naming the store.
asio::awaitable<manifest> async_load_manifest(store& s, std::string id);

}  // namespace kage::storage
