#include "archive_stream.hpp"

#include <kage/base/error.hpp>
#include <kage/engine/verify.hpp>
#include <kage/proto/redis_text.hpp>
#include <kage/proto/replication.hpp>
#include <kage/storage/archive.hpp>
#include <kage/storage/catalog.hpp>
#include <kage/storage/sha256.hpp>

#include <boost/asio.hpp>

namespace kage::engine {

bool verify_report::ok() const {
  for (const auto& o : objects) {
    if (!o.problem.empty()) return false;
  }
  return true;
}

namespace {

// The object's reader, or nullptr with check.problem set when the object is missing: only a
// missing object is the backup's fault; an unreachable or refusing store is not, and throws.
asio::awaitable<std::unique_ptr<storage::object_reader>> async_open_object(storage::store& store,
                                                                           std::string key,
                                                                           object_check& check) {
  std::unique_ptr<storage::object_reader> reader;
  try {
    reader = co_await store.async_open(std::move(key));
  } catch (const failure& f) {
    if (f.error() != storage::store_errc::not_found) throw;
    check.problem = f.what();
  }
  co_return reader;
}

// "" when the payload of the record passes its own CRC64 check.
std::string payload_problem(const storage::archive_record& r) {
  const std::string problem = proto::dump_payload_problem(r.payload);
  if (problem.empty()) return "";
  return r.type == storage::archive_record::kind::key
             ? "the payload of key '" + proto::printable(r.key) + "' " + problem
             : "the Redis Functions payload " + problem;
}

asio::awaitable<object_check> check_object(storage::store& store, const storage::manifest& m,
                                           const storage::shard_object& object,
                                           verify_progress& progress) {
  object_check check;
  check.name = object.name;
  auto reader = co_await async_open_object(store, m.id + "/" + object.name, check);
  if (!reader) co_return check;
  archive_stream stream(*reader, progress.bytes_read);
  bool trailer = false;
  for (;;) {
    auto rec = co_await stream.async_next();
    if (!rec) {
      check.problem = rec.error().message();
      break;
    }
    if (!*rec) {
      trailer = true;
      break;
    }
    ++progress.records;
    if ((*rec)->type == storage::archive_record::kind::key) ++check.keys;
    check.problem = payload_problem(**rec);
    if (!check.problem.empty()) break;
  }
  // Read to the end so the checksum covers every byte, even after a problem.
  const std::uint64_t rest = co_await stream.async_read_rest();
  if (trailer && rest > 0 && check.problem.empty()) check.problem = "data after the end marker";
  check.bytes = stream.bytes();
  check.sha256 = stream.hex_digest();
  if (check.problem.empty() && check.bytes != object.bytes) {
    check.problem = "size is " + std::to_string(check.bytes) + " bytes, the manifest says " +
                    std::to_string(object.bytes);
  }
  if (check.problem.empty() && check.sha256 != object.sha256) {
    check.problem = "SHA-256 is " + check.sha256 + ", the manifest says " + object.sha256;
  }
  if (check.problem.empty() && check.keys != object.keys) {
    check.problem = "holds " + std::to_string(check.keys) + " keys, the manifest says " +
                    std::to_string(object.keys);
  }
  co_return check;
}

enum class snapshot_file { rdb, nodes_conf, other };

// A snapshot's objects are checked as stored bytes: size and SHA-256 against the manifest; an
// RDB's frame (REDIS + version, 0xFF, CRC-64); a nodes.conf's own line and vars line.
asio::awaitable<object_check> check_snapshot_file(storage::store& store, std::string id,
                                                  std::string name, std::uint64_t bytes,
                                                  std::string sha256, snapshot_file kind,
                                                  std::string node_id, verify_progress& progress) {
  object_check check;
  check.name = name;
  auto reader = co_await async_open_object(store, id + "/" + name, check);
  if (!reader) co_return check;
  storage::sha256 sha;
  proto::rdb_file_check rdb;
  std::string text;  // a nodes.conf, read whole (small; capped below)
  std::vector<char> buf(256 * 1024);
  for (;;) {
    const std::size_t n = co_await reader->async_read(buf);
    if (n == 0) break;
    const std::string_view chunk(buf.data(), n);
    sha.update(chunk);
    if (kind == snapshot_file::rdb) rdb.update(chunk);
    if (kind == snapshot_file::nodes_conf && text.size() < (1u << 20)) text.append(chunk);
    check.bytes += n;
    progress.bytes_read += n;
  }
  check.sha256 = sha.hex_digest();
  if (check.bytes != bytes) {
    check.problem = "size is " + std::to_string(check.bytes) + " bytes, the manifest says " +
                    std::to_string(bytes);
  } else if (check.sha256 != sha256) {
    check.problem = "SHA-256 is " + check.sha256 + ", the manifest says " + sha256;
  } else if (kind == snapshot_file::rdb) {
    check.problem = rdb.finish().problem;
  } else if (kind == snapshot_file::nodes_conf) {
    const bool own_line =
        text.starts_with(node_id + " ") || text.find("\n" + node_id + " ") != std::string::npos;
    if (!own_line || text.find(" myself,") == std::string::npos ||
        text.find("\nvars currentEpoch ") == std::string::npos)
      check.problem = "it is not a nodes.conf for node " + node_id;
  }
  co_return check;
}

asio::awaitable<void> verify_snapshot(storage::store& store, verify_report& report,
                                      verify_progress& progress) {
  const auto& m = report.manifest;
  for (const auto& o : m.objects) {
    report.objects.push_back(co_await check_snapshot_file(store, m.id, o.name, o.bytes, o.sha256,
                                                          snapshot_file::rdb, "", progress));
  }
  for (const auto& c : m.node_configs) {
    report.objects.push_back(co_await check_snapshot_file(
        store, m.id, c.name, c.bytes, c.sha256, snapshot_file::nodes_conf, c.node_id, progress));
  }
  report.objects.push_back(co_await check_snapshot_file(store, m.id, m.cluster_view.name,
                                                        m.cluster_view.bytes, m.cluster_view.sha256,
                                                        snapshot_file::other, "", progress));
}

// With --pods: each pod's own nodes.conf (storage/FORMAT.md, section 8), any kind of backup.
asio::awaitable<void> verify_pod_files(storage::store& store, verify_report& report,
                                       verify_progress& progress) {
  const auto& m = report.manifest;
  for (const auto& c : m.pod_node_configs) {
    if (c.name.empty()) continue;  // not read when the backup was taken: nothing to check
    report.objects.push_back(co_await check_snapshot_file(
        store, m.id, c.name, c.bytes, c.sha256,
        c.node_id.empty() ? snapshot_file::other : snapshot_file::nodes_conf, c.node_id, progress));
  }
}

}  // namespace

asio::awaitable<verify_report> async_verify(std::shared_ptr<storage::store> store, std::string id,
                                            std::shared_ptr<verify_progress> progress) {
  verify_report report;
  report.manifest = co_await storage::async_load_manifest(*store, id);
  for (const auto& o : report.manifest.objects) progress->bytes_total += o.bytes;
  if (report.manifest.kind == "snapshot") {
    co_await verify_snapshot(*store, report, *progress);
  } else {
    for (const auto& o : report.manifest.objects) {
      report.objects.push_back(co_await check_object(*store, report.manifest, o, *progress));
    }
  }
  co_await verify_pod_files(*store, report, *progress);
  co_return report;
}

}  // namespace kage::engine
