#include "local_store.hpp"

#include <kage/base/error.hpp>
#include <kage/storage/durable_file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <system_error>

namespace kage::storage {

namespace {

namespace fs = std::filesystem;

std::string errno_text(int e) {
  return std::system_category().message(e);
}

[[noreturn]] void store_failure(const std::string& message) {
  throw failure(exit_code::store, message);
}

// What a user can do about a failed write, by errno.
std::string write_advice(int e) {
  switch (e) {
    case ENOSPC:
    case EDQUOT:
      return "free space on that filesystem or choose another --to";
    case EROFS:
      return "that filesystem is read-only; choose another --to";
    case EACCES:
    case EPERM:
      return "check the permissions of the backup directory or choose another --to";
    case ENOTDIR:
    case EEXIST:
      return "a part of that path is a file, not a directory; choose another --to";
    default:
      return "check the backup location or choose another --to";
  }
}

// Keys are ours ("<id>/shard-00.resp.zst"), but they become paths: refuse anything that could
// leave the root or collide with temporary names.
const char* key_problem(std::string_view key) noexcept {
  if (key.empty()) return "it is empty";
  if (key.front() == '/') return "it is absolute";
  if (key.find('\0') != std::string_view::npos) return "it contains a NUL byte";
  std::size_t at = 0;
  for (;;) {
    const auto slash = key.find('/', at);
    const auto part = key.substr(at, slash == std::string_view::npos ? key.npos : slash - at);
    if (part.empty()) return "it has an empty path component";
    if (part == "." || part == "..") return "it has a '.' or '..' component";
    if (part.front() == '.') return "it has a hidden (dot) component";
    if (slash == std::string_view::npos) return nullptr;
    at = slash + 1;
  }
}

void check_key(std::string_view key) {
  if (const char* problem = key_problem(key))
    throw failure(exit_code::failure,
                  "invalid backup object key '" + std::string(key) + "': " + problem);
}

class local_writer final : public object_writer {
 public:
  explicit local_writer(durable_file file) noexcept : file_(std::move(file)) {}
  ~local_writer() override = default;  // an uncommitted file_ removes its temporary file
  local_writer(const local_writer&) = delete;
  local_writer& operator=(const local_writer&) = delete;

  asio::awaitable<void> async_write(std::string_view bytes) override {
    check_open();
    if (const auto ec = file_.write(bytes)) fail_and_discard("cannot write ", ec);
    written_ += bytes.size();
    co_return;
  }

  asio::awaitable<void> async_commit() override {
    check_open();
    // Data on disk before the name: a crash never leaves a visible object with missing bytes.
    if (const auto ec = file_.sync()) fail_and_discard("cannot write ", ec);
    if (const auto ec = file_.place()) fail_and_discard("cannot create ", ec);
    // The rename itself is durable only once the directory is.
    const fs::path dir = file_.final_path().parent_path();
    if (const auto ec = sync_directory(dir))
      store_failure("cannot write " + dir.string() + ": " + ec.message() + "; " +
                    write_advice(ec.value()));
    co_return;
  }

  asio::awaitable<void> async_abort() override {
    file_.discard();
    co_return;
  }

  std::uint64_t bytes_written() const noexcept override { return written_; }

 private:
  void check_open() const {
    if (!file_.usable()) throw std::logic_error("object_writer used after commit or abort");
  }

  [[noreturn]] void fail_and_discard(const char* what, std::error_code ec) {
    file_.discard();
    store_failure(what + file_.final_path().string() + ": " + ec.message() + "; " +
                  write_advice(ec.value()));
  }

  durable_file file_;
  std::uint64_t written_ = 0;
};

class local_reader final : public object_reader {
 public:
  local_reader(int fd, fs::path path, std::uint64_t size) noexcept
      : fd_(fd), path_(std::move(path)), size_(size) {}
  ~local_reader() override { ::close(fd_); }
  local_reader(const local_reader&) = delete;
  local_reader& operator=(const local_reader&) = delete;

  asio::awaitable<std::size_t> async_read(std::span<char> buf) override {
    for (;;) {
      const ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n >= 0) co_return static_cast<std::size_t>(n);
      if (errno != EINTR)
        store_failure("cannot read " + path_.string() + ": " + errno_text(errno) +
                      "; check the disk and the backup location");
    }
  }

  std::uint64_t size() const noexcept override { return size_; }

 private:
  int fd_;
  fs::path path_;
  std::uint64_t size_;
};

class local_store final : public store {
 public:
  explicit local_store(std::string root) : location_(std::move(root)) {
    // "dir/" and "dir" are one location; keep "/" itself.
    while (location_.size() > 1 && location_.back() == '/') location_.pop_back();
    root_ = location_;
  }

  std::string location() const override { return location_; }

  asio::awaitable<std::unique_ptr<object_writer>> async_create(std::string key) override {
    check_key(key);
    const fs::path final_path = root_ / key;
    const fs::path dir = final_path.parent_path();
    create_directories(dir);
    std::error_code ec;
    durable_file file(final_path, ec);
    if (ec)
      store_failure("cannot create " + final_path.string() + ": " + ec.message() + "; " +
                    write_advice(ec.value()));
    co_return std::make_unique<local_writer>(std::move(file));
  }

  asio::awaitable<bool> async_create_new(std::string key, std::string bytes) override {
    check_key(key);
    const fs::path final_path = root_ / key;
    create_directories(final_path.parent_path());
    std::error_code ec;
    durable_file file(final_path, ec);
    if (!ec) ec = file.write(bytes);
    if (!ec) ec = file.sync();
    if (!ec) ec = file.place_new();
    if (ec == std::errc::file_exists) co_return false;
    if (!ec) ec = sync_directory(final_path.parent_path());
    if (ec)
      store_failure("cannot create " + final_path.string() + ": " + ec.message() + "; " +
                    write_advice(ec.value()));
    co_return true;
  }

  asio::awaitable<std::unique_ptr<object_reader>> async_open(std::string key) override {
    check_key(key);
    const fs::path path = root_ / key;
    int fd = -1;
    do fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      const int e = errno;
      if (e == ENOENT || e == ENOTDIR)
        fail(exit_code::store, store_errc::not_found,
             "backup object " + path.string() + " does not exist");
      store_failure("cannot open " + path.string() + ": " + errno_text(e) +
                    "; check the permissions of the backup location");
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int e = errno;
      ::close(fd);
      store_failure("cannot read " + path.string() + ": " + errno_text(e));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      store_failure("backup object " + path.string() + " is not a regular file");
    }
    co_return std::make_unique<local_reader>(fd, path, static_cast<std::uint64_t>(st.st_size));
  }

  asio::awaitable<std::vector<object_info>> async_list(std::string prefix) override {
    std::vector<object_info> out;
    std::error_code ec;
    const fs::file_status root_status = fs::status(root_, ec);
    if (ec) {
      // No directory yet: nothing was ever written there.
      if (ec == std::errc::no_such_file_or_directory) co_return out;
      store_failure("cannot read backup location " + location_ + ": " + ec.message());
    }
    if (!fs::is_directory(root_status))
      store_failure("backup location " + location_ +
                    " is not a directory; pass a directory to --to/--from");
    // Walk only the directory the prefix pins down ("<id>/..." -> "<id>").
    std::string start;
    if (const auto slash = prefix.rfind('/'); slash != std::string::npos) {
      start = prefix.substr(0, slash);
      if (key_problem(start)) start.clear();
    }
    walk(start.empty() ? root_ : root_ / start, start, prefix, out);
    std::sort(out.begin(), out.end(),
              [](const object_info& a, const object_info& b) { return a.key < b.key; });
    co_return out;
  }

  asio::awaitable<void> async_remove(std::vector<std::string> keys) override {
    std::set<fs::path> dirs;
    for (const auto& key : keys) {
      check_key(key);
      const fs::path path = root_ / key;
      if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        store_failure("cannot remove " + path.string() + ": " + errno_text(errno) +
                      "; check the permissions of the backup location");
      for (fs::path d = fs::path(key).parent_path(); !d.empty(); d = d.parent_path())
        dirs.insert(d);
    }
    // Deepest first; a directory that still holds something stays (rmdir refuses).
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) ::rmdir((root_ / *it).c_str());
    co_return;
  }

  asio::awaitable<std::vector<leftover>> async_list_leftovers() override {
    std::vector<leftover> out;
    std::error_code ec;
    fs::recursive_directory_iterator it(root_, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      if (ec == std::errc::no_such_file_or_directory) co_return out;
      store_failure("cannot list " + location_ + ": " + ec.message() +
                    "; check the permissions of the backup location");
    }
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!is_temp_name(it->path().filename().string())) continue;
      struct stat st {};
      if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      out.push_back({it->path().lexically_relative(root_).string(), "",
                     static_cast<std::uint64_t>(st.st_size),
                     std::int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1000000});
    }
    if (ec && ec != std::errc::no_such_file_or_directory)
      store_failure("cannot list " + location_ + ": " + ec.message() +
                    "; check the permissions of the backup location");
    std::sort(out.begin(), out.end(),
              [](const leftover& a, const leftover& b) { return a.key < b.key; });
    co_return out;
  }

  asio::awaitable<void> async_remove_leftovers(std::vector<leftover> items) override {
    std::set<fs::path> dirs;
    for (const auto& item : items) {
      // Only temporary files, and only under the root.
      const fs::path rel(item.key);
      bool safe = !rel.empty() && rel.is_relative() && is_temp_name(rel.filename().string());
      for (const auto& part : rel) safe = safe && part != ".." && part != ".";
      if (!safe) throw std::logic_error("not a temporary file under the root: " + item.key);
      const fs::path path = root_ / rel;
      if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        store_failure("cannot remove " + path.string() + ": " + errno_text(errno) +
                      "; check the permissions of the backup location");
      for (fs::path d = rel.parent_path(); !d.empty(); d = d.parent_path()) dirs.insert(d);
    }
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) ::rmdir((root_ / *it).c_str());
    co_return;
  }

 private:
  // Creates dir and its missing parents (0700), making each new entry durable.
  void create_directories(const fs::path& dir) {
    fs::path failed;
    if (auto ec = create_private_directories(dir, failed)) {
      store_failure("cannot create directory " + failed.string() + ": " + errno_text(ec.value()) +
                    "; " + write_advice(ec.value()));
    }
  }

  void walk(const fs::path& dir, const std::string& rel, const std::string& prefix,
            std::vector<object_info>& out) const {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      // Gone since we looked (a concurrent remove), or a prefix naming no directory.
      if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) return;
      store_failure("cannot list " + dir.string() + ": " + ec.message() +
                    "; check the permissions of the backup location");
    }
    // Increment with an error code: the range-for form throws filesystem_error.
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      const fs::directory_entry& entry = *it;
      const std::string name = entry.path().filename().string();
      if (is_temp_name(name)) continue;
      const std::string key = rel.empty() ? name : rel + "/" + name;
      std::error_code entry_ec;
      const fs::file_status link = entry.symlink_status(entry_ec);
      if (entry_ec) continue;  // vanished while listing
      if (fs::is_directory(link)) {
        // Only descend where keys with this prefix can be.
        if (key.starts_with(prefix.substr(0, std::min(prefix.size(), key.size()))))
          walk(entry.path(), key, prefix, out);
        continue;
      }
      if (!key.starts_with(prefix)) continue;
      if (!fs::is_regular_file(entry.status(entry_ec)) || entry_ec) continue;
      const std::uintmax_t size = entry.file_size(entry_ec);
      if (entry_ec) continue;
      out.push_back({key, static_cast<std::uint64_t>(size)});
    }
    if (ec && ec != std::errc::no_such_file_or_directory)
      store_failure("cannot list " + dir.string() + ": " + ec.message() +
                    "; check the permissions of the backup location");
  }

  std::string location_;
  fs::path root_;
};

}  // namespace

std::unique_ptr<store> make_local_store(std::string root) {
  return std::make_unique<local_store>(std::move(root));
}

}  // namespace kage::storage
