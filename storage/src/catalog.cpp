#include <kage/storage/catalog.hpp>

#include <kage/base/error.hpp>

#include <algorithm>
#include <map>

namespace kage::storage {

namespace {

struct backup_group {
  std::uint64_t bytes = 0;
  bool has_manifest = false;
};

// Objects grouped by backup id. Top-level names that are not backup ids (a README, lost+found)
// are not backups and are left out.
asio::awaitable<std::map<std::string, backup_group>> async_groups(store& s) {
  std::map<std::string, backup_group> groups;
  for (const auto& object : co_await s.async_list("")) {
    const auto slash = object.key.find('/');
    if (slash == std::string::npos) continue;
    const std::string id = object.key.substr(0, slash);
    if (!valid_backup_id(id)) continue;
    backup_group& g = groups[id];
    g.bytes += object.size;
    if (std::string_view(object.key).substr(slash + 1) == manifest_name) g.has_manifest = true;
  }
  co_return groups;
}

std::string manifest_key(const std::string& id) {
  return id + "/" + std::string(manifest_name);
}

// Fills e.complete/meta or e.problem. Store I/O failures propagate: they are not a property of
// the backup but of the store.
asio::awaitable<void> async_inspect(store& s, backup_entry& e, bool has_manifest) {
  if (!has_manifest) {
    e.problem = "no manifest.json: the backup was interrupted (or is still running)";
    co_return;
  }
  std::string text;
  try {
    text = co_await async_read_all(s, manifest_key(e.id));
  } catch (const failure& f) {
    if (f.code() != exit_code::integrity) throw;
    e.problem = f.what();
    co_return;
  }
  std::string message;
  auto parsed = parse_manifest(text, &message);
  if (!parsed) {
    e.problem = message;
    co_return;
  }
  if (parsed->id != e.id) {
    e.problem = "manifest.json names backup " + parsed->id + ", not " + e.id;
    co_return;
  }
  e.complete = true;
  e.meta = std::move(*parsed);
}

std::string list_hint(const store& s) {
  return "run 'kage list --from " + s.location() + "' to see the backups";
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

asio::awaitable<std::vector<backup_entry>> async_list_backups(store& s) {
  std::vector<backup_entry> out;
  for (const auto& [id, group] : co_await async_groups(s)) {
    backup_entry e;
    e.id = id;
    e.bytes = group.bytes;
    co_await async_inspect(s, e, group.has_manifest);
    out.push_back(std::move(e));
  }
  co_return out;
}

asio::awaitable<manifest> async_load_manifest(store& s, std::string id) {
  if (!id.empty()) {
    if (!valid_backup_id(id))
      throw failure(
          exit_code::incompatible,
          "'" + id + "' is not a backup id (ids look like 20261122T021155.123Z); " + list_hint(s));
    const auto objects = co_await s.async_list(id + "/");
    if (objects.empty())
      throw failure(exit_code::incompatible,
                    "backup " + id + " not found in " + s.location() + ", " + list_hint(s));
    const bool has_manifest = std::any_of(objects.begin(), objects.end(),
                                          [&](const auto& o) { return o.key == manifest_key(id); });
    backup_entry e;
    e.id = id;
    co_await async_inspect(s, e, has_manifest);
    if (!has_manifest)
      throw failure(exit_code::incompatible, "backup " + id + " in " + s.location() +
                                                 " is incomplete (" + e.problem +
                                                 ") and cannot be used; " + list_hint(s));
    if (!e.complete)
      throw failure(exit_code::integrity, "backup " + id + " in " + s.location() +
                                              " has a damaged manifest: " + e.problem);
    co_return std::move(*e.meta);
  }

  // Newest first: stop at the first complete backup.
  const auto groups = co_await async_groups(s);
  std::size_t interrupted = 0;
  std::size_t damaged = 0;
  for (auto it = groups.rbegin(); it != groups.rend(); ++it) {
    backup_entry e;
    e.id = it->first;
    co_await async_inspect(s, e, it->second.has_manifest);
    if (e.complete) co_return std::move(*e.meta);
    ++(it->second.has_manifest ? damaged : interrupted);
  }
  std::string why;
  if (groups.empty()) why = "it holds no backups";
  if (interrupted > 0)
    why =
        plural(interrupted, "interrupted backup has", "interrupted backups have") + " no manifest";
  if (damaged > 0) {
    if (!why.empty()) why += "; ";
    why += plural(damaged, "backup has", "backups have") + " a damaged manifest";
  }
  throw failure(exit_code::incompatible,
                "no complete backup in " + s.location() + " (" + why + ")");
}

}  // namespace kage::storage
