#pragma once
// Drives the kage binary the way users do, and reads what it leaves in a local store.
#include "fixture_process.hpp"

#include <boost/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace kage::test {

// Runs `kage args...` with extra environment; the result has out/err/exit_code.
process_result run_kage(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env = {},
                        std::chrono::seconds deadline = std::chrono::seconds(300));

// Parses kage --json output (the last line of stdout).
boost::json::object json_result(const process_result& r);

// The backup ids under a local store directory (folders), sorted.
std::vector<std::string> backup_ids(const std::string& dir);
// The manifest of a local backup, parsed.
boost::json::object manifest(const std::string& dir, const std::string& id);

// Everything about a failed process, for BOOST_TEST messages.
std::string describe(const process_result& r);

// What must not be left under `dir` after a failed job: any manifest.json (something that
// looks complete) and any temporary file. Paths, empty when clean.
std::vector<std::string> leftovers_of_failure(const std::string& dir);

// The id of the one backup under a local store directory; throws when there is not exactly one.
std::string only_backup(const std::string& dir);

inline bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// kage's exit statuses (README, "Exit codes").
inline constexpr int exit_usage = 2;
inline constexpr int exit_redis = 3;
inline constexpr int exit_store = 4;
inline constexpr int exit_integrity = 5;
inline constexpr int exit_incompatible = 6;

}  // namespace kage::test
