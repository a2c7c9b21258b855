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
  bool has_manifest = false;     // false: interrupted; true but not complete: damaged manifest
  std::uint64_t bytes = 0;       // sum of object sizes seen in the store
  std::optional<manifest> meta;  // set when complete
  std::string problem;           // why it is not complete (no manifest / unreadable manifest: ...)
  bool failed = false;           // its status.json says Failed (problem holds the job's error)
};

// Sorted by id (oldest first).
asio::awaitable<std::vector<backup_entry>> async_list_backups(store& s);

// The manifest of backup `id`, or of the newest backup when id is empty. When the newest backup
// has a manifest that cannot be read it fails (naming the newest complete one to pass as --id)
// rather than quietly falling back to an older backup.
// Throws failure(incompatible) when there is no such (complete) backup, naming the store.
asio::awaitable<manifest> async_load_manifest(store& s, std::string id);

// <id>/claim.json: written first by the run that owns the id, never by another.
inline constexpr std::string_view claim_name = "claim.json";

// A new backup id for a run that started at unix_ms, owned by this run alone: the first id from
// that millisecond on whose claim.json this call created (an exclusive create, read back for
// stores that ignore If-None-Match). `owner` (kage version, host, pid) goes into the claim.
// Concurrent runs, even in one millisecond, get distinct ids. (A backup written before claims
// existed has none; the manifest's exclusive create still keeps a run from replacing it.)
asio::awaitable<std::string> async_claim_backup_id(store& s, std::int64_t unix_ms,
                                                   std::string owner);

struct prune_policy {
  int keep_last = 0;                         // keep the newest N complete backups
  std::int64_t keep_within_ms = -1;          // and those younger than this (-1: not set)
  std::int64_t grace_ms = 24 * 3600 * 1000;  // interrupted backups older than this go
  bool allow_empty = false;                  // may delete the last complete backup
  bool dry_run = false;
  std::int64_t now_ms = 0;
};

struct prune_report {
  std::vector<std::string> kept;
  std::vector<std::string> deleted;             // complete backups
  std::vector<std::string> deleted_incomplete;  // interrupted ones past the grace period
  std::vector<std::string> kept_incomplete;     // interrupted, still within the grace period
  std::vector<std::string> kept_damaged;        // a manifest kage cannot read: never deleted
  // Temporary files and unfinished uploads of interrupted runs (describe_leftover), past the
  // grace period (deleted) or not.
  std::vector<std::string> deleted_leftovers;
  std::vector<std::string> kept_leftovers;
};

// "<key> (temporary file, 6.3 MB)" / "<key> (unfinished upload <id>)", for listings.
std::string describe_leftover(const leftover& l);

// Applies the policy; with dry_run only reports. Leftovers of interrupted runs older than the
// grace period go too. Deletes a backup's manifest first, so an
// interrupted prune leaves an incomplete backup (removed by the next prune), never a
// "complete" one with missing objects.
asio::awaitable<prune_report> async_prune(store& s, prune_policy policy);

}  // namespace kage::storage
