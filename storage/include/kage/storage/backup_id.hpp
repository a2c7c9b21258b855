#pragma once
// Backup ids and the times manifests record: both UTC with milliseconds, made, checked and read
// back here only.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kage::storage {

// Backup ids are UTC timestamps, sortable as strings: "20261122T021155.123Z".
std::string make_backup_id(std::int64_t unix_ms);
bool valid_backup_id(std::string_view id) noexcept;  // also guards against path tricks
// The time a backup id names (its start), in unix ms; nullopt for a malformed id.
std::optional<std::int64_t> backup_id_time(std::string_view id) noexcept;

// "2026-11-22T02:11:55.123Z"
std::string rfc3339_ms(std::int64_t unix_ms);
bool valid_rfc3339_ms(std::string_view s) noexcept;
// The time of such a text in unix ms; nullopt when it is not exactly that form.
std::optional<std::int64_t> rfc3339_ms_time(std::string_view s);

}  // namespace kage::storage
