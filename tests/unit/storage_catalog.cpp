// Catalog: complete vs interrupted backups, newest selection, messages for missing backups.
#include <kage/base/error.hpp>
#include <kage/storage/catalog.hpp>
#include <kage/storage/sha256.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "storage_test_util.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace ks = kage::storage;
namespace asio = boost::asio;
namespace fs = std::filesystem;

BOOST_TEST_DONT_PRINT_LOG_VALUE(kage::exit_code)

using kage::test::run;

namespace {

struct catalog_fixture {
  fs::path root;
  std::unique_ptr<ks::store> store;

  catalog_fixture() {
    std::string tmpl = (fs::temp_directory_path() / "kage-catalog-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    root = tmpl;
    store = ks::open_store(root.string());
  }
  ~catalog_fixture() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }

  void put(const std::string& key, const std::string& data) {
    run([](ks::store& s, std::string k, std::string bytes) -> asio::awaitable<void> {
      auto w = co_await s.async_create(k);
      co_await w->async_write(bytes);
      co_await w->async_commit();
    }(*store, key, data));
  }

  static ks::manifest manifest_for(const std::string& id) {
    ks::manifest m;
    m.id = id;
    m.kage_version = "0.1.0";
    m.started_at = "2026-11-22T02:11:55.123Z";
    m.finished_at = "2026-11-22T02:12:00.000Z";
    m.redis_version = "7.2.4";
    m.patterns = {"*"};
    ks::shard_object o;
    o.name = "shard-00.resp.zst";
    o.read_role = "master";
    o.sha256 = ks::sha256_hex("shard");
    o.bytes = 5;
    m.objects.push_back(o);
    m.total_bytes = 5;
    return m;
  }

  // A backup as the engine leaves it: data first, manifest last (or never, if interrupted).
  void backup(const std::string& id, bool complete) {
    put(id + "/shard-00.resp.zst", "shard");
    if (complete) put(id + "/manifest.json", ks::to_json(manifest_for(id)));
  }

  kage::failure load_failure(const std::string& id) {
    try {
      run(ks::async_load_manifest(*store, id));
    } catch (const kage::failure& f) {
      return f;
    }
    BOOST_FAIL("expected kage::failure");
    return kage::failure(kage::exit_code::ok, "");
  }
};

const std::string id1 = "20261120T010000.000Z";
const std::string id2 = "20261121T010000.000Z";
const std::string id3 = "20261122T010000.000Z";
const std::string id4 = "20261123T010000.000Z";

}  // namespace

BOOST_FIXTURE_TEST_SUITE(storage_catalog, catalog_fixture)

BOOST_AUTO_TEST_CASE(complete_interrupted_and_damaged) {
  backup(id1, true);
  backup(id2, false);
  backup(id3, true);
  put(id4 + "/manifest.json", "{ not json");
  put("README", "not a backup");
  put("lost+found/x", "not a backup either");
  const auto list = run(ks::async_list_backups(*store));
  BOOST_REQUIRE(list.size() == 4u);
  BOOST_TEST(list[0].id == id1);
  BOOST_TEST(list[0].complete);
  BOOST_TEST(list[0].problem.empty());
  BOOST_REQUIRE(list[0].meta.has_value());
  BOOST_TEST(list[0].meta->id == id1);
  BOOST_TEST(list[0].bytes == 5 + ks::to_json(manifest_for(id1)).size());
  BOOST_TEST(list[1].id == id2);
  BOOST_TEST(!list[1].complete);
  BOOST_TEST(!list[1].meta.has_value());
  BOOST_TEST(list[1].bytes == 5u);
  BOOST_TEST(list[1].problem.find("no manifest.json") != std::string::npos, list[1].problem);
  BOOST_TEST(list[2].complete);
  BOOST_TEST(list[3].id == id4);
  BOOST_TEST(!list[3].complete);
  BOOST_TEST(list[3].problem.find("not valid JSON") != std::string::npos, list[3].problem);
}

BOOST_AUTO_TEST_CASE(manifest_naming_another_backup_is_not_complete) {
  put(id2 + "/manifest.json", ks::to_json(manifest_for(id1)));
  const auto list = run(ks::async_list_backups(*store));
  BOOST_REQUIRE(list.size() == 1u);
  BOOST_TEST(!list[0].complete);
  BOOST_TEST(list[0].problem.find(id1) != std::string::npos, list[0].problem);
}

BOOST_AUTO_TEST_CASE(latest_is_newest_complete) {
  backup(id1, true);
  backup(id2, true);
  backup(id3, false);  // newer, but interrupted: skipped
  BOOST_TEST(run(ks::async_load_manifest(*store, "")).id == id2);
  BOOST_TEST(run(ks::async_load_manifest(*store, id1)).id == id1);
  // A newest backup with a manifest kage cannot read is not skipped quietly: the error names
  // the backup that --id would restore instead.
  put(id4 + "/manifest.json", "[]");
  auto f = load_failure("");
  BOOST_TEST(f.code() == kage::exit_code::integrity);
  BOOST_TEST(std::string(f.what()).find("pass --id " + id2) != std::string::npos, f.what());
}

BOOST_AUTO_TEST_CASE(no_complete_backup) {
  auto f = load_failure("");
  BOOST_TEST(f.code() == kage::exit_code::incompatible);
  BOOST_TEST(f.what() == "no complete backup in " + root.string() + " (it holds no backups)");
  backup(id1, false);
  backup(id2, false);
  f = load_failure("");
  BOOST_TEST(f.what() == "no complete backup in " + root.string() +
                             " (2 interrupted backups have no manifest)");
  put(id3 + "/manifest.json", "{}");
  f = load_failure("");
  BOOST_TEST(f.what() == "no complete backup in " + root.string() +
                             " (2 interrupted backups have no manifest; 1 backup has a damaged "
                             "manifest)");
}

BOOST_AUTO_TEST_CASE(missing_root_has_no_backups) {
  auto s = ks::open_store((root / "nowhere").string());
  BOOST_TEST(run(ks::async_list_backups(*s)).empty());
}

BOOST_AUTO_TEST_CASE(backup_by_id_errors) {
  backup(id1, true);
  backup(id2, false);
  put(id3 + "/manifest.json", "{}");
  const std::string hint = "run 'kage list --from " + root.string() + "' to see the backups";

  auto f = load_failure(id4);
  BOOST_TEST(f.code() == kage::exit_code::incompatible);
  BOOST_TEST(f.what() == "backup " + id4 + " not found in " + root.string() + ", " + hint);

  f = load_failure(id2);
  BOOST_TEST(f.code() == kage::exit_code::incompatible);
  BOOST_TEST(std::string(f.what()).find("is incomplete") != std::string::npos, f.what());

  f = load_failure(id3);
  BOOST_TEST(f.code() == kage::exit_code::integrity);
  BOOST_TEST(std::string(f.what()).find("damaged manifest") != std::string::npos, f.what());
  BOOST_TEST(std::string(f.what()).find("field 'format' is missing") != std::string::npos,
             f.what());

  f = load_failure("../etc");
  BOOST_TEST(f.code() == kage::exit_code::incompatible);
  BOOST_TEST(std::string(f.what()).find("is not a backup id") != std::string::npos, f.what());
}

BOOST_AUTO_TEST_SUITE_END()

// Issue 14, defect 1: two runs starting in one millisecond used to share an id.
BOOST_AUTO_TEST_SUITE(backup_id_claims)

BOOST_FIXTURE_TEST_CASE(create_new_is_exclusive, catalog_fixture) {
  BOOST_TEST(run(store->async_create_new("x/claim.json", "first")));
  BOOST_TEST(!run(store->async_create_new("x/claim.json", "second")));
  BOOST_TEST(run(ks::async_read_all(*store, "x/claim.json")) == "first");
  // No temporary file is left by the refused one.
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(root / "x")) files += e.is_regular_file();
  BOOST_TEST(files == 1u);
}

BOOST_FIXTURE_TEST_CASE(runs_in_one_millisecond_get_distinct_ids, catalog_fixture) {
  const std::int64_t t = 1795313515123;  // 20261122T021155.123Z
  const auto a = run(ks::async_claim_backup_id(*store, t, "run a"));
  const auto b = run(ks::async_claim_backup_id(*store, t, "run b"));
  BOOST_TEST(a == "20261122T021155.123Z");
  BOOST_TEST(b == "20261122T021155.124Z");
  BOOST_TEST(run(ks::async_read_all(*store, a + "/claim.json")).find("run a") != std::string::npos);
  BOOST_TEST(run(ks::async_read_all(*store, b + "/claim.json")).find("run b") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// Issue 14, defect 4: temporary files of killed runs were hidden from list and never pruned.
BOOST_FIXTURE_TEST_CASE(prune_removes_leftovers_past_the_grace_period, catalog_fixture) {
  backup(id1, true);
  const fs::path old_tmp = root / id1 / ".shard-00.resp.zst.tmp-1-1";
  const fs::path new_tmp = root / id2 / ".shard-00.rdb.tmp-2-2";
  fs::create_directories(new_tmp.parent_path());
  std::ofstream(old_tmp) << "partial";
  std::ofstream(new_tmp) << "still being written";
  fs::last_write_time(old_tmp, fs::file_time_type::clock::now() - std::chrono::hours(2));

  const auto leftovers = run(store->async_list_leftovers());
  BOOST_TEST_REQUIRE(leftovers.size() == 2u);
  BOOST_TEST(leftovers[0].key == id1 + "/.shard-00.resp.zst.tmp-1-1");
  BOOST_TEST(leftovers[0].size == 7u);
  BOOST_TEST(run(store->async_list("")).size() == 2u);  // still hidden from object listings

  ks::prune_policy p;
  p.keep_last = 5;
  p.grace_ms = 3600 * 1000;
  p.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  p.dry_run = true;
  auto r = run(ks::async_prune(*store, p));
  BOOST_TEST(r.deleted_leftovers.size() == 1u);
  BOOST_TEST(fs::exists(old_tmp));
  p.dry_run = false;
  r = run(ks::async_prune(*store, p));
  BOOST_TEST_REQUIRE(r.deleted_leftovers.size() == 1u);
  BOOST_TEST(r.deleted_leftovers[0] ==
             id1 + "/.shard-00.resp.zst.tmp-1-1 (temporary file, 7 bytes)");
  BOOST_TEST(r.kept_leftovers.size() == 1u);
  BOOST_TEST(!fs::exists(old_tmp));
  BOOST_TEST(fs::exists(new_tmp));
  BOOST_TEST(r.kept.size() == 1u);  // the complete backup beside it is untouched
  p.grace_ms = 0;
  r = run(ks::async_prune(*store, p));
  BOOST_TEST(r.deleted_leftovers.size() == 1u);
  BOOST_TEST(!fs::exists(new_tmp.parent_path()));  // its folder held nothing else
}
