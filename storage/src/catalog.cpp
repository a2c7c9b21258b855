#include <kage/storage/catalog.hpp>
#include <kage/storage/status.hpp>

#include <kage/base/error.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <random>

namespace kage::storage {

namespace {

struct backup_group {
  std::uint64_t bytes = 0;
  bool has_manifest = false;
  bool has_status = false;  // <id>/status.json (snapshots): says why one without manifest stopped
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
    const std::string_view name = std::string_view(object.key).substr(slash + 1);
    if (name == manifest_name) g.has_manifest = true;
    if (name == status_name) g.has_status = true;
  }
  co_return groups;
}

std::string manifest_key(const std::string& id) {
  return id + "/" + std::string(manifest_name);
}

// Why a backup without manifest stopped, from its status.json: failed (with the job's error) or
// still marked running (the job may also have died without saying so). Leaves e.problem empty
// when status.json cannot tell.
asio::awaitable<void> async_read_status(store& s, backup_entry& e) {
  std::string text;
  try {
    text = co_await async_read_all(s, e.id + "/" + std::string(status_name));
  } catch (const failure&) {
    co_return;  // gone meanwhile, or unreadable: the manifest rule alone decides
  }
  std::string ignored;
  auto st = parse_status(text, &ignored);
  if (!st) co_return;
  if (st->phase == "Failed") {
    e.failed = true;
    e.problem = "failed: " + (st->error.empty() ? std::string("no reason recorded") : st->error);
  } else if (st->phase == "Running" || st->phase == "Pending") {
    e.problem = "no manifest.json; status.json says " + st->phase +
                (st->started_at.empty() ? "" : " since " + st->started_at) +
                (st->pod.empty() ? "" : " on " + st->pod) + " (still running, or its process died)";
  }
}

// Fills e.complete/meta or e.problem. Store I/O failures propagate: they are not a property of
// the backup but of the store.
asio::awaitable<void> async_inspect(store& s, backup_entry& e, bool has_manifest,
                                    bool has_status = false) {
  if (!has_manifest) {
    if (has_status) co_await async_read_status(s, e);
    if (e.problem.empty())
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

// A plain function: GCC 12 mishandles lambdas created in coroutine bodies.
template <class Objects>
bool has_object(const Objects& objects, const std::string& key) {
  for (const auto& o : objects)
    if (o.key == key) return true;
  return false;
}

std::string list_hint(const store& s) {
  return "run 'kage list --from " + s.location() + "' to see the backups";
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// A plain function: GCC 12 miscompiles braced lists of string literals inside coroutines.
std::string claim_json(const std::string& id, const std::string& owner, const std::string& nonce) {
  return boost::json::serialize(
      boost::json::object{{"id", id}, {"owner", owner}, {"nonce", nonce}});
}

}  // namespace

std::string describe_leftover(const leftover& l) {
  if (!l.upload_id.empty()) return l.key + " (unfinished upload " + l.upload_id + ")";
  return l.key + " (temporary file, " + std::to_string(l.size) + " bytes)";
}

asio::awaitable<std::vector<backup_entry>> async_list_backups(store& s) {
  std::vector<backup_entry> out;
  for (const auto& [id, group] : co_await async_groups(s)) {
    backup_entry e;
    e.id = id;
    e.bytes = group.bytes;
    e.has_manifest = group.has_manifest;
    co_await async_inspect(s, e, group.has_manifest, group.has_status);
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
    const bool has_manifest = has_object(objects, manifest_key(id));
    const bool has_status = has_object(objects, id + "/" + std::string(status_name));
    backup_entry e;
    e.id = id;
    co_await async_inspect(s, e, has_manifest, has_status);
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
  std::string newest_damaged;
  for (auto it = groups.rbegin(); it != groups.rend(); ++it) {
    backup_entry e;
    e.id = it->first;
    co_await async_inspect(s, e, it->second.has_manifest);
    if (e.complete) {
      if (!newest_damaged.empty()) {
        throw failure(exit_code::integrity,
                      "the newest backup " + newest_damaged + " in " + s.location() +
                          " has a manifest kage cannot read; to restore the newest readable "
                          "backup instead, pass --id " +
                          e.id + " (" + list_hint(s) + ")");
      }
      co_return std::move(*e.meta);
    }
    if (it->second.has_manifest && newest_damaged.empty()) newest_damaged = e.id;
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

asio::awaitable<std::string> async_claim_backup_id(store& s, std::int64_t unix_ms,
                                                   std::string owner) {
  std::random_device random;
  const std::string nonce = std::to_string(random()) + "-" + std::to_string(random());
  // A few milliseconds later is still the run's start to any reader; 1000 taken ids in a row
  // means the store is not behaving.
  for (std::int64_t n = 0; n < 1000; ++n) {
    const std::string id = make_backup_id(unix_ms + n);
    const std::string key = id + "/" + std::string(claim_name);
    const std::string claim = claim_json(id, owner, nonce);
    if (!co_await s.async_create_new(key, claim)) continue;
    if (co_await async_read_all(s, key, 1 << 16) != claim) continue;  // another run's after all
    co_return id;
  }
  throw failure(exit_code::store, "cannot claim a backup id in " + s.location() +
                                      ": 1000 ids in a row from " + make_backup_id(unix_ms) +
                                      " are taken; check the backup location");
}

asio::awaitable<prune_report> async_prune(store& s, prune_policy policy) {
  prune_report report;
  auto backups = co_await async_list_backups(s);
  std::vector<const backup_entry*> complete;
  for (const auto& b : backups) {
    if (b.complete) complete.push_back(&b);
  }
  std::sort(complete.begin(), complete.end(),
            [](const backup_entry* a, const backup_entry* b) { return a->id > b->id; });
  std::vector<std::string> doomed;
  for (std::size_t i = 0; i < complete.size(); ++i) {
    const auto t = backup_id_time(complete[i]->id).value_or(policy.now_ms);
    const bool recent = policy.keep_within_ms >= 0 && policy.now_ms - t < policy.keep_within_ms;
    if (static_cast<int>(i) < policy.keep_last || recent) {
      report.kept.push_back(complete[i]->id);
    } else {
      doomed.push_back(complete[i]->id);
    }
  }
  // Never the last complete backup, unless told so.
  if (report.kept.empty() && !doomed.empty() && !policy.allow_empty) {
    report.kept.push_back(doomed.front());
    doomed.erase(doomed.begin());
  }
  report.deleted = doomed;
  for (const auto& b : backups) {
    if (b.complete) continue;
    // A manifest kage cannot read (damaged, or written by a newer kage) is not "interrupted":
    // never delete it.
    if (b.has_manifest) {
      report.kept_damaged.push_back(b.id);
      continue;
    }
    const auto t = backup_id_time(b.id).value_or(policy.now_ms);
    if (policy.now_ms - t >= policy.grace_ms) {
      report.deleted_incomplete.push_back(b.id);
      doomed.push_back(b.id);
    } else {
      report.kept_incomplete.push_back(b.id);
    }
  }
  std::vector<leftover> stale;
  for (auto& l : co_await s.async_list_leftovers()) {
    if (policy.now_ms - l.started_ms >= policy.grace_ms) {
      report.deleted_leftovers.push_back(describe_leftover(l));
      stale.push_back(std::move(l));
    } else {
      report.kept_leftovers.push_back(describe_leftover(l));
    }
  }
  if (policy.dry_run) co_return report;
  if (!stale.empty()) co_await s.async_remove_leftovers(std::move(stale));
  // One listing for everything; manifests go first (in one batch), so an interrupted prune
  // leaves incomplete backups behind, never "complete" ones with missing objects.
  std::sort(doomed.begin(), doomed.end());
  std::vector<std::string> manifests, rest;
  for (const auto& o : co_await s.async_list("")) {
    const auto slash = o.key.find('/');
    if (slash == std::string::npos) continue;
    if (!std::binary_search(doomed.begin(), doomed.end(), o.key.substr(0, slash))) continue;
    (o.key.substr(slash + 1) == manifest_name ? manifests : rest).push_back(o.key);
  }
  if (!manifests.empty()) co_await s.async_remove(std::move(manifests));
  if (!rest.empty()) co_await s.async_remove(std::move(rest));
  co_return report;
}

}  // namespace kage::storage
