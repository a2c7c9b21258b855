#pragma once
// One backup in several locations from one pass over Redis: each object created through a
// multi_store is teed to a writer per location, so every location gets the same bytes (and
// checks them its own way: S3 per part, the manifest's SHA-256 per object) and its own manifest,
// written last. A location that fails is dropped for the rest of the multi_store's life (one
// job): its open writers are aborted, it gets no manifest, and the others go on. Only when no
// location is left does a write fail. A job opens a fresh multi_store, so a dropped location is
// tried again by the next job.
#include <kage/base/log.hpp>
#include <kage/storage/store.hpp>

#include <exception>
#include <memory>
#include <vector>

namespace kage::storage {

struct location_state {
  std::shared_ptr<store> where;
  std::exception_ptr failure;  // set: dropped, with the error that dropped it
};

class multi_store final : public store {
 public:
  // locations: in order of preference for reads (local before S3 by default).
  multi_store(std::vector<std::shared_ptr<store>> locations, logger log);

  std::string location() const override;  // "a + b"
  // A writer per location still in the job; locations whose create fails are dropped.
  asio::awaitable<std::unique_ptr<object_writer>> async_create(std::string key) override;
  // From the first location (in order, dropped ones skipped) that has the key.
  asio::awaitable<std::unique_ptr<object_reader>> async_open(std::string key) override;
  // The union of the locations' listings (the first location's entry for a key present in more).
  asio::awaitable<std::vector<object_info>> async_list(std::string prefix) override;
  // From every location, dropped ones too (a failed job cleans up everywhere); throws the first
  // failure of a location still in the job after trying them all.
  asio::awaitable<void> async_remove(std::vector<std::string> keys) override;
  // Created in every location still in the job (one that fails is dropped); false when the key
  // was already in one of them, after removing what this call created in the others.
  asio::awaitable<bool> async_create_new(std::string key, std::string bytes) override;
  // The leftovers of every location still in the job, and their removal from each of them.
  asio::awaitable<std::vector<leftover>> async_list_leftovers() override;
  asio::awaitable<void> async_remove_leftovers(std::vector<leftover> items) override;

  // Every location, in order, with the failure that dropped it if one did.
  const std::vector<location_state>& locations() const noexcept;
  std::vector<std::shared_ptr<store>> stores() const;

  struct shared;  // the per-location states, shared with the writers

 private:
  std::shared_ptr<shared> state_;
};

// True when an exception is a cancellation (SIGTERM, a job's deadline), not a store failure:
// it must end the job, not drop a location.
bool is_cancellation(const std::exception_ptr& e) noexcept;

}  // namespace kage::storage
