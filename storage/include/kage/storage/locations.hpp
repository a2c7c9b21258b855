#pragma once
// Reading when backups live in several locations (in order of preference, local before S3 by
// default): which location to read a backup from, and one listing across them. The choice is
// pure (listings in, decision out); async_list_locations gathers the listings.
#include <kage/base/log.hpp>
#include <kage/storage/catalog.hpp>

#include <memory>
#include <optional>
#include <vector>

namespace kage::storage {

// A location's backups, or nullopt when it could not be listed (unreachable, unreadable).
using location_listing = std::optional<std::vector<backup_entry>>;

// One row per backup id across the locations: the entry of the first location where it is
// complete (else of the first that lists it), and every location where it is complete.
struct merged_entry {
  backup_entry entry;
  std::vector<std::size_t> complete_in;  // indexes into the listings, in order
};

// Sorted by id (oldest first).
std::vector<merged_entry> merge_listings(const std::vector<location_listing>& listings);

// The locations to read a backup from, the preferred first: every location where it is complete,
// in order, so a reader falls back to the next when one fails. The backup is `id`, or when that
// is empty the newest backup complete in any location (and older than `before`, when set); `id`
// is set to the chosen one; with `logical_only`, snapshots are not chosen (restore cannot read
// them). Empty when there is no such complete backup.
std::vector<std::size_t> read_order(const std::vector<location_listing>& listings, std::string& id,
                                    const std::string& before = {}, bool logical_only = false);

// Each store's backups (async_list_backups); a store that cannot be listed is logged and left
// nullopt. A cancellation propagates.
asio::awaitable<std::vector<location_listing>> async_list_locations(
    std::vector<std::shared_ptr<store>> stores, logger log);

}  // namespace kage::storage
