#pragma once
// status.json beside a snapshot's objects (storage/FORMAT.md).
#include <kage/storage/manifest.hpp>  // manifest_errc: one set of error codes for both files

#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace kage::storage {

// <id>/status.json: how a job is doing, for operators and dashboards. It never makes a backup
// complete; only manifest.json does. Written at start (Running) and at the end.
struct backup_status {
  std::string id;
  std::string kind = "snapshot";
  std::string phase = "Pending";  // "Pending" | "Running" | "Completed" | "Failed"
  std::string pod;                // $POD_NAME, else the host name
  std::string started_at;         // RFC 3339 UTC with milliseconds
  std::string completed_at;       // "" while running
  std::uint64_t backup_size = 0;  // bytes of the data objects (RDB files) stored
  std::string backup_path;        // "<store location>/<id>"
  std::string format = "rdb";
  std::string checksum_sha256;  // SHA-256 of manifest.json as stored; "" until Completed
  std::string error;            // "" unless Failed
};

std::string to_json(const backup_status& s);  // camelCase keys, as in storage/FORMAT.md
boost::system::result<backup_status> parse_status(std::string_view json,
                                                  std::string* error_message);
inline constexpr std::string_view status_name = "status.json";

}  // namespace kage::storage
