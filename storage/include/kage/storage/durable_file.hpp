#pragma once
// A file that appears under its name complete or not at all: written under a temporary name
// beside the final one, synced, renamed into place, and the rename made durable by syncing the
// directory. Used by the local store and by kage fetch. Errors are errno values
// (std::generic_category) for the caller to put into its own words. Files are created 0600
// (owner only, before the umask): they hold a copy of the data.
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <system_error>

namespace kage::storage {

class durable_file {
 public:
  // Creates ".<name>.tmp-<pid>-<n>" beside final_path (never an existing file). Check `ec`.
  durable_file(std::filesystem::path final_path, std::error_code& ec) noexcept;
  ~durable_file() { discard(); }  // removes the temporary file unless placed
  durable_file(durable_file&& other) noexcept;
  durable_file& operator=(durable_file&&) = delete;
  durable_file(const durable_file&) = delete;
  durable_file& operator=(const durable_file&) = delete;

  std::error_code write(std::string_view bytes) noexcept;  // all of it (short writes retried)
  // Data on disk before the name (fsync, close): a crash never leaves a visible, partly written
  // file. Then place() renames it over the final name.
  std::error_code sync() noexcept;
  std::error_code place() noexcept;
  // As place(), but only when nothing has the final name yet (link, then unlink the temporary
  // name): of concurrent writers exactly one succeeds; the others get EEXIST.
  std::error_code place_new() noexcept;
  void discard() noexcept;  // closes and removes the temporary file (not once placed)

  const std::filesystem::path& final_path() const noexcept { return final_; }
  const std::filesystem::path& temp_path() const noexcept { return temp_; }
  bool usable() const noexcept { return !placed_ && !temp_.empty(); }  // not placed or discarded

 private:
  std::filesystem::path final_;
  std::filesystem::path temp_;
  int fd_ = -1;
  bool placed_ = false;
};

// Writers name their temporary files ".<name>.tmp-<pid>-<n>"; listings hide them.
bool is_temp_name(std::string_view name) noexcept;

// fsync of a directory: makes the names created or renamed in it durable.
std::error_code sync_directory(const std::filesystem::path& dir) noexcept;

// Creates dir and its missing parents owner-only (0700: they will hold a copy of the data),
// syncing each new entry's parent so the name sticks. On failure `failed` names the directory
// that could not be made (ENOTDIR when dir exists but is not a directory).
std::error_code create_private_directories(const std::filesystem::path& dir,
                                           std::filesystem::path& failed);

}  // namespace kage::storage
