#include <kage/storage/durable_file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <utility>
#include <vector>

namespace kage::storage {

namespace {

namespace fs = std::filesystem;

std::error_code last_error() noexcept {
  return {errno, std::generic_category()};
}

// Distinct temporary names for every file this process writes at once.
std::atomic<std::uint64_t> temp_counter{0};

}  // namespace

durable_file::durable_file(fs::path final_path, std::error_code& ec) noexcept
    : final_(std::move(final_path)) {
  ec.clear();
  try {
    const fs::path dir = final_.parent_path();
    const std::string prefix =
        "." + final_.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-";
    for (;;) {
      fs::path temp = dir / (prefix + std::to_string(++temp_counter));
      fd_ = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd_ >= 0) {
        temp_ = std::move(temp);
        return;
      }
      // Another writer (or a leftover of a dead process) holds that name: take the next.
      if (errno == EEXIST || errno == EINTR) continue;
      ec = last_error();
      return;
    }
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
}

durable_file::durable_file(durable_file&& other) noexcept
    : final_(std::move(other.final_)),
      temp_(std::exchange(other.temp_, {})),
      fd_(std::exchange(other.fd_, -1)),
      placed_(other.placed_) {}

std::error_code durable_file::write(std::string_view bytes) noexcept {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return last_error();
    // Short writes happen (signals, quotas near the limit): write the rest.
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

std::error_code durable_file::sync() noexcept {
  int rc = 0;
  do rc = ::fsync(fd_);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) return last_error();
  if (::close(std::exchange(fd_, -1)) != 0 && errno != EINTR) return last_error();
  return {};
}

std::error_code durable_file::place() noexcept {
  if (::rename(temp_.c_str(), final_.c_str()) != 0) return last_error();
  placed_ = true;
  temp_.clear();
  return {};
}

std::error_code durable_file::place_new() noexcept {
  if (::link(temp_.c_str(), final_.c_str()) != 0) return last_error();
  placed_ = true;
  ::unlink(temp_.c_str());
  temp_.clear();
  return {};
}

void durable_file::discard() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  if (!placed_ && !temp_.empty()) {
    ::unlink(temp_.c_str());
    temp_.clear();
  }
}

bool is_temp_name(std::string_view name) noexcept {
  return name.starts_with('.') && name.find(".tmp-") != std::string_view::npos;
}

std::error_code sync_directory(const fs::path& dir) noexcept {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return last_error();
  const std::error_code ec = ::fsync(fd) == 0 ? std::error_code() : last_error();
  ::close(fd);
  return ec;
}

std::error_code create_private_directories(const fs::path& dir, fs::path& failed) {
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path d = dir; !d.empty() && !fs::exists(d, ec); d = d.parent_path()) {
    missing.push_back(d);
    if (d == d.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) {
      failed = *it;
      return last_error();
    }
    // Best effort: a file's own commit syncs its directory; this makes the new name stick.
    const fs::path parent = it->parent_path();
    sync_directory(parent.empty() ? fs::path(".") : parent);
  }
  // exists() may have failed for a reason other than absence (ENOTDIR, EACCES): mkdir reported
  // it above, or a non-directory is caught here.
  const fs::file_status st = fs::status(dir, ec);
  if (ec || !fs::is_directory(st)) {
    failed = dir;
    return ec ? ec : std::make_error_code(std::errc::not_a_directory);
  }
  return {};
}

}  // namespace kage::storage
