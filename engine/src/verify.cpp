#include <kage/base/error.hpp>
#include <kage/engine/verify.hpp>
#include <kage/proto/redis_text.hpp>
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

asio::awaitable<object_check> check_object(storage::store& store, const storage::manifest& m,
                                           const storage::shard_object& object,
                                           verify_progress& progress) {
  object_check check;
  check.name = object.name;
  std::unique_ptr<storage::object_reader> reader;
  try {
    reader = co_await store.async_open(m.id + "/" + object.name);
  } catch (const failure& f) {
    check.problem = f.what();
    co_return check;
  }
  storage::sha256 sha;
  storage::archive_reader archive;
  std::vector<char> buf(256 * 1024);
  bool input_done = false;
  bool trailer = false;
  for (;;) {
    auto rec = archive.next();
    if (!rec) {
      if (rec.error() != storage::archive_errc::needs_more) {
        check.problem = rec.error().message();
        break;
      }
      if (input_done) {
        check.problem = "unexpected end of data";
        break;
      }
      const std::size_t n = co_await reader->async_read(buf);
      if (n == 0) {
        archive.end_of_input();
        input_done = true;
        continue;
      }
      const std::string_view bytes(buf.data(), n);
      sha.update(bytes);
      archive.feed(bytes);
      check.bytes += n;
      progress.bytes_read += n;
      continue;
    }
    if (!*rec) {
      trailer = true;
      break;
    }
    ++progress.records;
    const auto& r = **rec;
    if (r.type == storage::archive_record::kind::key) ++check.keys;
    auto footer = proto::inspect_dump_payload(r.payload);
    if (!footer || !footer->checksum_ok) {
      check.problem = r.type == storage::archive_record::kind::key
                          ? "the payload of key '" + proto::printable(r.key) +
                                "' fails its own CRC64 check"
                          : "the Redis Functions payload fails its own CRC64 check";
      break;
    }
  }
  // Read to the end so the checksum covers every byte, even after a problem.
  for (;;) {
    const std::size_t n = co_await reader->async_read(buf);
    if (n == 0) break;
    sha.update(std::string_view(buf.data(), n));
    check.bytes += n;
    progress.bytes_read += n;
    if (trailer && check.problem.empty()) check.problem = "data after the end marker";
  }
  check.sha256 = sha.hex_digest();
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

}  // namespace

asio::awaitable<verify_report> async_verify(std::shared_ptr<storage::store> store, std::string id,
                                            std::shared_ptr<verify_progress> progress) {
  verify_report report;
  report.manifest = co_await storage::async_load_manifest(*store, id);
  for (const auto& o : report.manifest.objects) progress->bytes_total += o.bytes;
  for (const auto& o : report.manifest.objects) {
    report.objects.push_back(co_await check_object(*store, report.manifest, o, *progress));
  }
  co_return report;
}

}  // namespace kage::engine
