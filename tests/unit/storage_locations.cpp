// Several locations: the tee (multi_store) drops a failing location and goes on with the others;
// reads pick the first location with a complete copy and fall back to the next.
#include <kage/base/error.hpp>
#include <kage/storage/locations.hpp>
#include <kage/storage/multi_store.hpp>

#include <boost/test/unit_test.hpp>

#include "storage_test_util.hpp"

#include <filesystem>

namespace ks = kage::storage;
namespace asio = boost::asio;
namespace fs = std::filesystem;

using kage::test::run;

namespace {

ks::backup_entry entry(std::string id, bool complete) {
  ks::backup_entry e;
  e.id = std::move(id);
  e.complete = complete;
  e.has_manifest = complete;
  return e;
}

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "kage-multi-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// A local store whose writes start failing after `writes_ok` successful ones (a disk filling
// up, a bucket going away), counted across every object it writes.
class failing_store final : public ks::store {
 public:
  failing_store(std::shared_ptr<ks::store> inner, int writes_ok)
      : inner_(std::move(inner)), left_(std::make_shared<int>(writes_ok)) {}
  std::string location() const override { return "failing:" + inner_->location(); }
  asio::awaitable<std::unique_ptr<ks::object_writer>> async_create(std::string key) override {
    co_return std::make_unique<writer>(co_await inner_->async_create(key), left_);
  }
  asio::awaitable<std::unique_ptr<ks::object_reader>> async_open(std::string key) override {
    return inner_->async_open(std::move(key));
  }
  asio::awaitable<std::vector<ks::object_info>> async_list(std::string prefix) override {
    return inner_->async_list(std::move(prefix));
  }
  asio::awaitable<void> async_remove(std::vector<std::string> keys) override {
    return inner_->async_remove(std::move(keys));
  }
  asio::awaitable<bool> async_create_new(std::string key, std::string bytes) override {
    return inner_->async_create_new(std::move(key), std::move(bytes));
  }
  asio::awaitable<std::vector<ks::leftover>> async_list_leftovers() override {
    return inner_->async_list_leftovers();
  }
  asio::awaitable<void> async_remove_leftovers(std::vector<ks::leftover> items) override {
    return inner_->async_remove_leftovers(std::move(items));
  }

 private:
  struct writer final : ks::object_writer {
    writer(std::unique_ptr<ks::object_writer> w, std::shared_ptr<int> budget)
        : inner(std::move(w)), left(std::move(budget)) {}
    asio::awaitable<void> async_write(std::string_view bytes) override {
      if ((*left)-- <= 0) kage::fail(kage::exit_code::store, "No space left on device");
      co_await inner->async_write(bytes);
    }
    asio::awaitable<void> async_commit() override { return inner->async_commit(); }
    asio::awaitable<void> async_abort() override { return inner->async_abort(); }
    std::uint64_t bytes_written() const noexcept override { return inner->bytes_written(); }
    std::unique_ptr<ks::object_writer> inner;
    std::shared_ptr<int> left;
  };
  std::shared_ptr<ks::store> inner_;
  std::shared_ptr<int> left_;
};

asio::awaitable<void> write_object(ks::store& s, std::string key, std::string data, int pieces) {
  auto w = co_await s.async_create(key);
  for (int i = 0; i < pieces; ++i) co_await w->async_write(data);
  co_await w->async_commit();
}

// Two objects open at once, as a backup has one per master, then the manifest.
asio::awaitable<void> two_shards_then_manifest(ks::store& m) {
  auto w0 = co_await m.async_create("id/shard-00");
  auto w1 = co_await m.async_create("id/shard-01");
  for (int i = 0; i < 3; ++i) {
    co_await w0->async_write("0123456789");
    co_await w1->async_write("abcdefghij");
  }
  co_await w0->async_commit();
  co_await w1->async_commit();
  co_await write_object(m, "id/manifest.json", "{}", 1);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(storage_locations)

BOOST_AUTO_TEST_CASE(read_order_prefers_the_first_location_with_a_complete_copy) {
  const std::string a = "20260101T000000.000Z", b = "20260102T000000.000Z";
  std::vector<ks::location_listing> listings{
      std::vector<ks::backup_entry>{entry(a, true), entry(b, false)},  // local: b interrupted
      std::vector<ks::backup_entry>{entry(a, true), entry(b, true)}};  // S3: both complete
  std::string id;
  BOOST_TEST(ks::read_order(listings, id) == (std::vector<std::size_t>{1}));
  BOOST_TEST(id == b);  // the newest complete anywhere, from where it is complete
  id = a;
  BOOST_TEST(ks::read_order(listings, id) == (std::vector<std::size_t>{0, 1}));  // local first
  id.clear();
  BOOST_TEST(ks::read_order(listings, id, b) == (std::vector<std::size_t>{0, 1}));
  BOOST_TEST(id == a);  // the newest before b
  id = "20990101T000000.000Z";
  BOOST_TEST(ks::read_order(listings, id).empty());
  id.clear();
  BOOST_TEST(ks::read_order(listings, id, a).empty());  // nothing older than a
  BOOST_TEST(id.empty());
}

BOOST_AUTO_TEST_CASE(read_order_skips_a_location_that_could_not_be_listed) {
  const std::string a = "20260101T000000.000Z";
  std::vector<ks::location_listing> listings{std::nullopt,
                                             std::vector<ks::backup_entry>{entry(a, true)}};
  std::string id;
  BOOST_TEST(ks::read_order(listings, id) == (std::vector<std::size_t>{1}));
  BOOST_TEST(id == a);
  std::vector<ks::location_listing> none{std::nullopt, std::nullopt};
  id.clear();
  BOOST_TEST(ks::read_order(none, id).empty());
}

BOOST_AUTO_TEST_CASE(merged_listing_shows_where_each_backup_is_complete) {
  const std::string a = "20260101T000000.000Z", b = "20260102T000000.000Z";
  auto local_b = entry(b, false);
  local_b.problem = "no manifest.json";
  std::vector<ks::location_listing> listings{std::vector<ks::backup_entry>{entry(a, true), local_b},
                                             std::vector<ks::backup_entry>{entry(b, true)}};
  const auto merged = ks::merge_listings(listings);
  BOOST_TEST_REQUIRE(merged.size() == 2u);
  BOOST_TEST(merged[0].entry.id == a);
  BOOST_TEST(merged[0].complete_in == (std::vector<std::size_t>{0}));
  BOOST_TEST(merged[1].entry.id == b);
  BOOST_TEST(merged[1].entry.complete);  // the complete copy's entry, not the interrupted one
  BOOST_TEST(merged[1].complete_in == (std::vector<std::size_t>{1}));
}

BOOST_AUTO_TEST_CASE(tee_writes_every_location) {
  temp_dir one, two;
  std::vector<std::shared_ptr<ks::store>> both{ks::open_store(one.path.string()),
                                               ks::open_store(two.path.string())};
  ks::multi_store m(both, {});
  run(write_object(m, "id/shard-00", "abc", 3));
  BOOST_TEST(fs::file_size(one.path / "id/shard-00") == 9u);
  BOOST_TEST(fs::file_size(two.path / "id/shard-00") == 9u);
  for (const auto& l : m.locations()) BOOST_TEST(!l.failure);
  BOOST_TEST(m.location() == one.path.string() + " + " + two.path.string());
}

BOOST_AUTO_TEST_CASE(a_failing_location_is_dropped_for_the_rest_of_the_job) {
  temp_dir one, two;
  auto full = std::make_shared<failing_store>(ks::open_store(one.path.string()), 4);
  ks::multi_store m({full, std::shared_ptr<ks::store>(ks::open_store(two.path.string()))}, {});
  // The first location fails mid-stream on shard-00; shard-01 is dropped there too.
  run(two_shards_then_manifest(m));
  BOOST_TEST(static_cast<bool>(m.locations()[0].failure));
  BOOST_TEST(!m.locations()[1].failure);
  BOOST_TEST(kage::describe(m.locations()[0].failure) == "No space left on device");
  // The surviving copy is whole; the dropped one has no manifest, hence no complete backup.
  BOOST_TEST(fs::file_size(two.path / "id/shard-00") == 30u);
  BOOST_TEST(fs::file_size(two.path / "id/shard-01") == 30u);
  BOOST_TEST(fs::exists(two.path / "id/manifest.json"));
  BOOST_TEST(!fs::exists(one.path / "id/manifest.json"));
  BOOST_TEST(!fs::exists(one.path / "id/shard-00"));
  BOOST_TEST(!fs::exists(one.path / "id/shard-01"));
}

BOOST_AUTO_TEST_CASE(the_write_fails_only_when_no_location_is_left) {
  temp_dir one, two;
  std::vector<std::shared_ptr<ks::store>> both{
      std::make_shared<failing_store>(ks::open_store(one.path.string()), 1),
      std::make_shared<failing_store>(ks::open_store(two.path.string()), 2)};
  ks::multi_store m(both, {});
  try {
    run(write_object(m, "id/shard-00", "x", 5));
    BOOST_FAIL("expected a failure");
  } catch (const kage::failure& f) {
    BOOST_TEST(static_cast<int>(f.code()) == static_cast<int>(kage::exit_code::store));
  }
  BOOST_TEST(static_cast<bool>(m.locations()[0].failure));
  BOOST_TEST(static_cast<bool>(m.locations()[1].failure));
}

BOOST_AUTO_TEST_CASE(reads_fall_back_to_the_next_location) {
  temp_dir one, two;
  std::shared_ptr<ks::store> first = ks::open_store(one.path.string());
  std::shared_ptr<ks::store> second = ks::open_store(two.path.string());
  run(write_object(*second, "id/shard-00", "only here", 1));
  run(write_object(*first, "id/manifest.json", "{}", 1));
  ks::multi_store m({first, second}, {});
  BOOST_TEST(run(ks::async_read_all(m, "id/shard-00")) == "only here");
  const auto listed = run(m.async_list("id/"));
  BOOST_TEST_REQUIRE(listed.size() == 2u);  // the union
  BOOST_TEST(listed[0].key == "id/manifest.json");
  BOOST_TEST(listed[1].key == "id/shard-00");
}

BOOST_AUTO_TEST_SUITE_END()
