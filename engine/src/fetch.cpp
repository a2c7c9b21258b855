// kage fetch: one node's files from a snapshot into a Redis data directory, for init containers.
#include <kage/base/error.hpp>
#include <kage/engine/snapshot.hpp>
#include <kage/proto/replication.hpp>
#include <kage/storage/catalog.hpp>
#include <kage/storage/durable_file.hpp>
#include <kage/storage/sha256.hpp>

#include <boost/asio.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <vector>

namespace kage::engine {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void local_failure(const std::string& what, const fs::path& path, std::error_code ec) {
  fail(exit_code::failure, what + " " + path.string() + ": " + ec.message() +
                               "; check the data directory (--to) and its permissions");
}

// A file in the data directory that appears complete or not at all.
class temp_file {
 public:
  temp_file(const fs::path& dir, const std::string& name) : file_(make(dir / name)) {}

  void write(std::string_view bytes) {
    if (const auto ec = file_.write(bytes)) local_failure("cannot write", file_.temp_path(), ec);
  }
  void sync() {
    if (const auto ec = file_.sync()) local_failure("cannot write", file_.temp_path(), ec);
  }
  void place() {
    if (const auto ec = file_.place()) local_failure("cannot create", file_.final_path(), ec);
  }
  const fs::path& final_path() const noexcept { return file_.final_path(); }

 private:
  static storage::durable_file make(const fs::path& path) {
    std::error_code ec;
    storage::durable_file file(path, ec);
    if (ec) local_failure("cannot create", path, ec);
    return file;
  }

  storage::durable_file file_;
};

// Creates dir and its missing parents owner-only (0700).
void create_private_directories(const fs::path& dir) {
  fs::path failed;
  if (auto ec = storage::create_private_directories(dir, failed))
    local_failure("cannot create", failed, ec);
}

struct download {
  std::uint64_t bytes = 0;
  std::string sha256;
  std::string rdb_problem;  // RDB objects only
};

asio::awaitable<download> async_download(std::shared_ptr<storage::store> store, std::string key,
                                         temp_file& file, bool is_rdb) {
  download d;
  auto reader = co_await store->async_open(key);
  storage::sha256 sha;
  proto::rdb_file_check check;
  std::vector<char> buf(256 * 1024);
  for (;;) {
    const std::size_t n = co_await reader->async_read(buf);
    if (n == 0) break;
    const std::string_view bytes(buf.data(), n);
    sha.update(bytes);
    if (is_rdb) check.update(bytes);
    file.write(bytes);
    d.bytes += n;
  }
  d.sha256 = sha.hex_digest();
  if (is_rdb) d.rdb_problem = check.finish().problem;
  file.sync();
  co_return d;
}

void check_download(const download& d, const std::string& key, std::uint64_t bytes,
                    const std::string& sha256, const storage::store& store, const fs::path& dir) {
  std::string problem;
  if (d.bytes != bytes || d.sha256 != sha256) {
    problem = "SHA-256 " + d.sha256 + " over " + std::to_string(d.bytes) +
              " bytes, the manifest says " + sha256 + " over " + std::to_string(bytes);
  } else if (!d.rdb_problem.empty()) {
    problem = d.rdb_problem;
  }
  if (!problem.empty())
    fail(exit_code::integrity, "backup object " + key + " in " + store.location() +
                                   " is damaged (" + problem + "); nothing was written to " +
                                   dir.string());
}

// A non-empty Redis file is data someone may need: replaced only when asked to.
void refuse_to_overwrite(const fs::path& path, bool force) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    local_failure("cannot inspect", path, {errno, std::generic_category()});
  }
  if (!S_ISREG(st.st_mode))
    fail(exit_code::usage, path.string() +
                               " exists and is not a regular file; kage fetch will "
                               "not replace it");
  if (st.st_size > 0 && !force)
    fail(exit_code::usage, path.string() + " already exists and holds " +
                               std::to_string(st.st_size) +
                               " bytes; kage fetch does not overwrite Redis data: remove it, or "
                               "pass --force to replace it");
}

bool plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

asio::awaitable<storage::manifest> async_snapshot_manifest(std::shared_ptr<storage::store> store,
                                                           std::string id) {
  if (!id.empty()) {
    auto m = co_await storage::async_load_manifest(*store, id);
    if (m.kind != "snapshot")
      fail(exit_code::incompatible, "backup " + m.id + " is a " + m.kind +
                                        " backup; kage fetch needs a snapshot (kage snapshot)");
    co_return m;
  }
  auto backups = co_await storage::async_list_backups(*store);
  for (auto it = backups.rbegin(); it != backups.rend(); ++it) {
    if (it->complete && it->meta && it->meta->kind == "snapshot") co_return std::move(*it->meta);
  }
  fail(exit_code::incompatible, "no complete snapshot in " + store->location() +
                                    "; run 'kage list --from " + store->location() + "'");
}

std::string node_list(const storage::manifest& m) {
  std::string s;
  for (const auto& c : m.node_configs)
    s += (s.empty() ? "" : ", ") + c.node_id + " (" + c.address + ", " + c.role + ")";
  if (s.empty() && !m.objects.empty()) s = m.objects.front().master_id + " (standalone)";
  return s;
}

}  // namespace

asio::awaitable<fetch_result> async_fetch(std::shared_ptr<storage::store> store,
                                          fetch_options options) {
  if (options.node_id.empty())
    fail(exit_code::usage, "kage fetch needs --node-id ID: the cluster node id of this node");
  if (!plain_file_name(options.rdb_name))
    fail(exit_code::usage, "--rdb-name '" + options.rdb_name + "' must be a file name, not a path");
  const fs::path dir = options.data_dir;
  if (dir.empty()) fail(exit_code::usage, "kage fetch needs --to DIR: the Redis data directory");

  const storage::manifest m = co_await async_snapshot_manifest(store, options.id);
  fetch_result result;
  result.id = m.id;

  // The node, and the shard whose RDB it loads (a replica loads its master's).
  const storage::node_config* conf = nullptr;
  for (const auto& c : m.node_configs)
    if (c.node_id == options.node_id) conf = &c;
  std::string master_id;
  if (conf) {
    result.role = conf->role;
    master_id = conf->role == "master" ? conf->node_id : conf->master_id;
  } else if (!m.cluster && m.objects.size() == 1 && m.objects[0].master_id == options.node_id) {
    result.role = "master";
    master_id = options.node_id;
  } else {
    fail(exit_code::incompatible, "snapshot " + m.id + " holds no node " + options.node_id +
                                      "; its nodes are: " + node_list(m));
  }
  const storage::shard_object* shard = nullptr;
  for (const auto& o : m.objects)
    if (o.master_id == master_id) shard = &o;
  if (!shard)
    fail(exit_code::incompatible, "snapshot " + m.id + " holds no RDB for node " + options.node_id +
                                      " (its master " + master_id +
                                      " served no slots when it was taken)");
  result.shard = shard->name;

  create_private_directories(dir);
  refuse_to_overwrite(dir / options.rdb_name, options.force);
  if (conf) refuse_to_overwrite(dir / options.conf_name, options.force);

  // Both files are checked before either is renamed into place.
  temp_file rdb(dir, options.rdb_name);
  const std::string rdb_key = m.id + "/" + shard->name;
  const download got = co_await async_download(store, rdb_key, rdb, true);
  check_download(got, rdb_key, shard->bytes, shard->sha256, *store, dir);
  std::optional<temp_file> nodes;
  if (conf) {
    nodes.emplace(dir, options.conf_name);
    const std::string key = m.id + "/" + conf->name;
    const download c = co_await async_download(store, key, *nodes, false);
    check_download(c, key, conf->bytes, conf->sha256, *store, dir);
  }
  rdb.place();
  if (nodes) nodes->place();
  if (const auto sync_ec = storage::sync_directory(dir))
    local_failure("cannot write", dir, sync_ec);
  result.rdb_path = rdb.final_path().string();
  result.rdb_bytes = got.bytes;
  if (nodes) result.conf_path = nodes->final_path().string();
  co_return result;
}

}  // namespace kage::engine
