// Local directory store: temp-name writes, commit/abort, listing, errors a user can act on.
#include <kage/base/error.hpp>
#include <kage/storage/store.hpp>

#include <sys/mount.h>
#include <sys/stat.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "storage_test_util.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

namespace ks = kage::storage;
namespace asio = boost::asio;
namespace fs = std::filesystem;

BOOST_TEST_DONT_PRINT_LOG_VALUE(kage::exit_code)

using kage::test::run;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "kage-store-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Every file under dir (temp files included), relative, sorted.
std::vector<std::string> files_on_disk(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

asio::awaitable<void> write_object(ks::store& s, std::string key, std::string data) {
  auto w = co_await s.async_create(key);
  co_await w->async_write(data);
  co_await w->async_commit();
}

std::vector<std::string> keys_of(const std::vector<ks::object_info>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects) out.push_back(o.key);
  return out;
}

// The failure a call threw, for checking its code and message.
template <class F>
kage::failure failure_of(F f) {
  try {
    f();
  } catch (const kage::failure& e) {
    return e;
  }
  BOOST_FAIL("expected kage::failure");
  return kage::failure(kage::exit_code::ok, "");
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(storage_local_store)

BOOST_AUTO_TEST_CASE(write_commit_read) {
  temp_dir dir;
  auto s = ks::open_store(dir.path.string());
  BOOST_TEST(s->location() == dir.path.string());
  const std::string data = std::string("a\0b\r\n", 5) + std::string(100000, 'x');
  auto w = run(s->async_create("20261122T021155.123Z/shard-00.resp.zst"));
  run(w->async_write(std::string_view(data).substr(0, 3)));
  run(w->async_write(std::string_view(data).substr(3)));
  BOOST_TEST(w->bytes_written() == data.size());
  // Before commit the data is only under a temporary name, which listings hide.
  const auto before = files_on_disk(dir.path);
  BOOST_REQUIRE(before.size() == 1u);
  BOOST_TEST(contains(before[0], "/.shard-00.resp.zst.tmp-"));
  BOOST_TEST(run(s->async_list("")).empty());
  run(w->async_commit());
  w.reset();  // destroying a committed writer keeps the object
  BOOST_TEST(
      files_on_disk(dir.path) == std::vector<std::string>{"20261122T021155.123Z/shard-00.resp.zst"},
      boost::test_tools::per_element());
  const auto listed = run(s->async_list(""));
  BOOST_REQUIRE(listed.size() == 1u);
  BOOST_TEST(listed[0].key == "20261122T021155.123Z/shard-00.resp.zst");
  BOOST_TEST(listed[0].size == data.size());

  auto r = run(s->async_open("20261122T021155.123Z/shard-00.resp.zst"));
  BOOST_TEST(r->size() == data.size());
  std::string back;
  char buf[4096];
  for (;;) {
    const std::size_t n = run(r->async_read(buf));
    if (n == 0) break;
    back.append(buf, n);
  }
  BOOST_TEST((back == data));
  BOOST_TEST((run(ks::async_read_all(*s, "20261122T021155.123Z/shard-00.resp.zst")) == data));
}

BOOST_AUTO_TEST_CASE(commit_replaces_existing_object) {
  temp_dir dir;
  auto s = ks::open_store(dir.path.string());
  run(write_object(*s, "b/x", "first"));
  run(write_object(*s, "b/x", "second"));
  BOOST_TEST(run(ks::async_read_all(*s, "b/x")) == "second");
  BOOST_TEST(files_on_disk(dir.path) == std::vector<std::string>{"b/x"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(abort_and_destroy_leave_nothing) {
  temp_dir dir;
  auto s = ks::open_store(dir.path.string());
  {
    auto w = run(s->async_create("b/aborted"));
    run(w->async_write("data"));
    run(w->async_abort());
    run(w->async_abort());  // idempotent
    BOOST_CHECK_THROW(run(w->async_write("more")), std::logic_error);
  }
  {
    auto w = run(s->async_create("b/dropped"));
    run(w->async_write("data"));
  }  // destroyed without commit
  BOOST_TEST(files_on_disk(dir.path).empty());
  BOOST_TEST(run(s->async_list("")).empty());
}

BOOST_AUTO_TEST_CASE(two_writers_same_key) {
  temp_dir dir;
  auto s = ks::open_store(dir.path.string());
  auto w1 = run(s->async_create("b/k"));
  auto w2 = run(s->async_create("b/k"));  // distinct temporary names
  run(w1->async_write("one"));
  run(w2->async_write("two"));
  run(w1->async_commit());
  run(w2->async_commit());
  BOOST_TEST(run(ks::async_read_all(*s, "b/k")) == "two");
  BOOST_TEST(files_on_disk(dir.path).size() == 1u);
}

BOOST_AUTO_TEST_CASE(list_sorts_filters_and_hides_temp_files) {
  temp_dir dir;
  auto s = ks::open_store("file://" + dir.path.string());
  BOOST_TEST(s->location() == dir.path.string());
  for (const char* key : {"b2/z", "b1/y", "b1/a/deep", "b10/x", "top"})
    run(write_object(*s, key, key));
  // A writer still in progress, and a temp file left by a crashed process.
  auto pending = run(s->async_create("b1/pending"));
  std::ofstream(dir.path / "b2" / ".z.tmp-999-1") << "stale";
  BOOST_TEST(keys_of(run(s->async_list(""))) ==
                 (std::vector<std::string>{"b1/a/deep", "b1/y", "b10/x", "b2/z", "top"}),
             boost::test_tools::per_element());
  BOOST_TEST(keys_of(run(s->async_list("b1/"))) == (std::vector<std::string>{"b1/a/deep", "b1/y"}),
             boost::test_tools::per_element());
  BOOST_TEST(
      keys_of(run(s->async_list("b1"))) == (std::vector<std::string>{"b1/a/deep", "b1/y", "b10/x"}),
      boost::test_tools::per_element());
  BOOST_TEST(keys_of(run(s->async_list("b1/a"))) == std::vector<std::string>{"b1/a/deep"},
             boost::test_tools::per_element());
  BOOST_TEST(run(s->async_list("nothing/")).empty());
  const auto sizes = run(s->async_list("top"));
  BOOST_REQUIRE(sizes.size() == 1u);
  BOOST_TEST(sizes[0].size == 3u);
}

BOOST_AUTO_TEST_CASE(missing_root_lists_empty_and_is_created_on_write) {
  temp_dir dir;
  const fs::path root = dir.path / "not" / "yet";
  auto s = ks::open_store(root.string() + "/");
  BOOST_TEST(s->location() == root.string());
  BOOST_TEST(run(s->async_list("")).empty());
  run(write_object(*s, "b/k", "v"));
  BOOST_TEST(fs::is_regular_file(root / "b" / "k"));
}

BOOST_AUTO_TEST_CASE(objects_and_folders_are_owner_only) {
  temp_dir dir;
  const fs::path root = dir.path / "not" / "yet";
  auto s = ks::open_store(root.string());
  const mode_t old_mask = ::umask(022);  // a common umask must not widen what the store creates
  auto w = run(s->async_create("b/c/k"));
  run(w->async_write("v"));
  // The temporary file already holds data: owner only too.
  const auto temp = files_on_disk(dir.path);
  BOOST_REQUIRE(temp.size() == 1u);
  const auto mode_of = [](const fs::path& p) {
    struct stat st {};
    BOOST_REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
  };
  BOOST_TEST(mode_of(dir.path / temp[0]) == 0600u);
  run(w->async_commit());
  ::umask(old_mask);
  BOOST_TEST(mode_of(root / "b" / "c" / "k") == 0600u);
  for (const fs::path& d : {dir.path / "not", root, root / "b", root / "b" / "c"})
    BOOST_TEST(mode_of(d) == 0700u, d);
}

BOOST_AUTO_TEST_CASE(root_that_is_a_file) {
  temp_dir dir;
  std::ofstream(dir.path / "file") << "x";
  auto s = ks::open_store((dir.path / "file").string());
  auto f = failure_of([&] { run(s->async_list("")); });
  BOOST_TEST(f.code() == kage::exit_code::store);
  BOOST_TEST(contains(f.what(), "not a directory"), f.what());
  // Writing under a regular file: ENOTDIR, named with the path (root can bypass permissions,
  // so this is the portable way to make a location unwritable in tests).
  auto s2 = ks::open_store((dir.path / "file" / "sub").string());
  f = failure_of([&] { run(s2->async_create("20261122T021155.123Z/shard-00.resp.zst")); });
  BOOST_TEST(f.code() == kage::exit_code::store);
  BOOST_TEST(contains(f.what(), (dir.path / "file" / "sub").string()), f.what());
  BOOST_TEST(contains(f.what(), "Not a directory"), f.what());
  BOOST_TEST(contains(f.what(), "choose another --to"), f.what());
  f = failure_of([&] { run(s2->async_list("")); });
  BOOST_TEST(f.code() == kage::exit_code::store);
}

BOOST_AUTO_TEST_CASE(full_disk) {
  temp_dir dir;
  // A 64 KiB filesystem (tests run as root; elsewhere there is nothing to test with).
  if (::mount("tmpfs", dir.path.c_str(), "tmpfs", 0, "size=64k") != 0) {
    BOOST_TEST_MESSAGE("skipped: cannot mount tmpfs: " << std::strerror(errno));
    return;
  }
  struct unmount {
    std::string path;
    ~unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } guard{dir.path.string()};
  auto s = ks::open_store(dir.path.string());
  auto w = run(s->async_create("20261122T021155.123Z/shard-00.resp.zst"));
  const std::string chunk(16 * 1024, 'x');
  auto f = failure_of([&] {
    for (int i = 0; i < 100; ++i) run(w->async_write(chunk));
  });
  BOOST_TEST(f.code() == kage::exit_code::store);
  BOOST_TEST(f.what() == "cannot write " +
                             (dir.path / "20261122T021155.123Z/shard-00.resp.zst").string() +
                             ": No space left on device; free space on that filesystem or choose "
                             "another --to");
  // The partial temporary file is gone, so the space is free again.
  BOOST_TEST(files_on_disk(dir.path).empty());
  BOOST_CHECK_THROW(run(w->async_commit()), std::logic_error);
}

BOOST_AUTO_TEST_CASE(open_missing_object) {
  temp_dir dir;
  auto s = ks::open_store(dir.path.string());
  auto f = failure_of([&] { run(s->async_open("20261122T021155.123Z/manifest.json")); });
  BOOST_TEST(f.code() == kage::exit_code::store);
  BOOST_TEST(f.what() == "backup object " +
                             (dir.path / "20261122T021155.123Z/manifest.json").string() +
                             " does not exist");
  fs::create_directories(dir.path / "d" / "sub");
  f = failure_of([&] { run(s->async_open("d/sub")); });
  BOOST_TEST(f.code() == kage::exit_code::store);
  BOOST_TEST(contains(f.what(), "not a regular file"), f.what());
}

BOOST_AUTO_TEST_CASE(read_all_refuses_large_objects) {
  temp_dir dir;
  auto s = ks::open_store(dir.path.string());
  run(write_object(*s, "b/m", std::string(100, 'x')));
  BOOST_TEST(run(ks::async_read_all(*s, "b/m", 100)).size() == 100u);
  auto f = failure_of([&] { run(ks::async_read_all(*s, "b/m", 99)); });
  BOOST_TEST(f.code() == kage::exit_code::integrity);
  run(write_object(*s, "b/empty", ""));
  BOOST_TEST(run(ks::async_read_all(*s, "b/empty")).empty());
}

BOOST_AUTO_TEST_CASE(invalid_keys) {
  temp_dir dir;
  auto s = ks::open_store(dir.path.string());
  for (const char* key :
       {"", "/abs", "a/../b", "..", "a//b", "a/", "./a", "a/.hidden", "a/.x.tmp-1-1"}) {
    auto f = failure_of([&] { run(s->async_create(key)); });
    BOOST_TEST(contains(f.what(), "invalid backup object key"), f.what());
    f = failure_of([&] { run(s->async_open(key)); });
    BOOST_TEST(contains(f.what(), "invalid backup object key"), f.what());
  }
  BOOST_TEST(files_on_disk(dir.path).empty());
}

BOOST_AUTO_TEST_CASE(remove_objects_and_empty_directories) {
  temp_dir dir;
  auto s = ks::open_store(dir.path.string());
  run(write_object(*s, "b1/x", "1"));
  run(write_object(*s, "b1/sub/y", "2"));
  run(write_object(*s, "b2/z", "3"));
  run(s->async_remove({"b1/x", "b1/sub/y", "b1/already-gone"}));
  BOOST_TEST(!fs::exists(dir.path / "b1"));
  BOOST_TEST(keys_of(run(s->async_list(""))) == std::vector<std::string>{"b2/z"},
             boost::test_tools::per_element());
  BOOST_TEST(fs::exists(dir.path));  // the root itself stays
}

BOOST_AUTO_TEST_CASE(open_store_locations) {
  using kage::exit_code;
  auto f = failure_of([] { ks::open_store(""); });
  BOOST_TEST(f.code() == exit_code::usage);
  BOOST_TEST(f.what() == std::string("no backup location: pass --to/--from or set BACKUP_DIR"));
  f = failure_of([] { ks::open_store("s3://bucket/prefix"); });
  BOOST_TEST(f.code() == exit_code::usage);
  BOOST_TEST(contains(f.what(), "needs S3 settings"), f.what());
  f = failure_of([] { ks::open_store("gs://bucket"); });
  BOOST_TEST(f.code() == exit_code::usage);
  f = failure_of([] { ks::open_store("file://relative/path"); });
  BOOST_TEST(f.code() == exit_code::usage);
  BOOST_TEST(ks::open_store("file:///var/backups/redis")->location() == "/var/backups/redis");
  BOOST_TEST(ks::open_store("backups/redis")->location() == "backups/redis");
  BOOST_TEST(ks::open_store("/")->location() == "/");
}

BOOST_AUTO_TEST_SUITE_END()
