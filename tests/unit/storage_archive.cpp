// Archive format v1: round trips, partial input, corruption, truncation, strictness.
#include <kage/storage/archive.hpp>

#include <zstd.h>
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace kage::storage {
// Boost.Test prints both sides of a failed comparison; found by ADL.
inline std::ostream& operator<<(std::ostream& os, archive_errc e) {
  return os << make_error_code(e).message();
}
}  // namespace kage::storage

namespace ks = kage::storage;
using ks::archive_errc;

namespace {

struct owned_record {
  ks::archive_record::kind type;
  std::string key;
  std::int64_t expire_at_ms;
  std::string payload;
  bool operator==(const owned_record&) const = default;
};

std::ostream& operator<<(std::ostream& os, const owned_record& r) {
  return os << (r.type == ks::archive_record::kind::key ? "key" : "functions") << " key["
            << r.key.size() << "] expire " << r.expire_at_ms << " payload[" << r.payload.size()
            << "]";
}

std::string bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s.push_back(static_cast<char>(v));
  return s;
}

// Deterministic, poorly compressible bytes.
std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::string s(n, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

std::vector<owned_record> sample_records() {
  std::vector<owned_record> v;
  v.push_back({ks::archive_record::kind::functions, "", 0, bytes({0xf5, 0xc3, 0, '\r', '\n'})});
  v.push_back({ks::archive_record::kind::key, "", 0, ""});  // empty key and payload
  v.push_back({ks::archive_record::kind::key, bytes({'a', 0, 'b'}), 1, bytes({0})});
  v.push_back({ks::archive_record::kind::key, "\r\n$5\r\n*3\r\n", 0, "\r\n"});
  v.push_back({ks::archive_record::kind::key, bytes({0xff, 0xfe, 0x80}),
               std::int64_t{9'223'372'036'854'775'807}, bytes({0xff, 0, 0xff})});
  v.push_back({ks::archive_record::kind::key, "ECHO", 0, "kage-archive-end 3"});
  for (int i = 0; i < 500; ++i)
    v.push_back({ks::archive_record::kind::key, "user:" + std::to_string(i) + bytes({0, '\n'}),
                 i % 2 ? 1795313515123 + i : 0, random_bytes(static_cast<std::size_t>(i * 7), i)});
  // Larger than the writer's one-call threshold: exercises the view path.
  v.push_back({ks::archive_record::kind::key, random_bytes(300, 1), 5, random_bytes(40000, 2)});
  return v;
}

std::string write_archive(const std::vector<owned_record>& records, int level = 3,
                          std::string_view header = R"({"shard":0})") {
  ks::archive_writer w(level, header);
  std::string out;
  for (const auto& r : records) {
    if (r.type == ks::archive_record::kind::functions)
      w.add_functions(r.payload, out);
    else
      w.add_key(r.key, r.expire_at_ms, r.payload, out);
  }
  w.finish(out);
  BOOST_TEST(w.records() == records.size());
  return out;
}

struct read_result {
  boost::system::error_code error;  // empty: success
  std::vector<owned_record> records;
  std::string header;
};

// Feeds the object in chunks of `chunk` bytes (0: all at once), draining next() in between.
read_result read_archive(std::string_view object, std::size_t chunk = 0,
                         std::size_t max_record = std::size_t{1} << 30) {
  ks::archive_reader reader(max_record);
  read_result out;
  std::size_t fed = 0;
  if (chunk == 0) chunk = object.size() + 1;
  for (;;) {
    auto r = reader.next();
    if (!r) {
      if (r.error() != archive_errc::needs_more) {
        out.error = r.error();
        return out;
      }
      if (fed == object.size()) {
        reader.end_of_input();
        continue;
      }
      const std::size_t n = std::min(chunk, object.size() - fed);
      reader.feed(object.substr(fed, n));
      fed += n;
      continue;
    }
    if (!*r) {
      BOOST_TEST(fed == object.size());
      out.header = std::string(reader.header_json());
      BOOST_TEST(reader.records() == out.records.size());
      return out;
    }
    const auto& rec = **r;
    out.records.push_back(
        {rec.type, std::string(rec.key), rec.expire_at_ms, std::string(rec.payload)});
  }
}

// For hand-made inputs: the decompressed content, compressed as one zstd frame with checksum.
std::string compress(std::string_view plain) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  const std::size_t n = ZSTD_compress2(c, out.data(), out.size(), plain.data(), plain.size());
  ZSTD_freeCCtx(c);
  BOOST_REQUIRE(!ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string decompress(std::string_view object) {
  const auto size = ZSTD_getFrameContentSize(object.data(), object.size());
  std::string out;
  // The writer streams, so the frame does not declare its size: decompress by streaming.
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ZSTD_inBuffer in{object.data(), object.size(), 0};
  std::string buf(1 << 16, '\0');
  while (in.pos < in.size) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    const std::size_t rc = ZSTD_decompressStream(d, &o, &in);
    BOOST_REQUIRE(!ZSTD_isError(rc));
    out.append(buf.data(), o.pos);
  }
  ZSTD_freeDCtx(d);
  (void)size;
  return out;
}

// A RESP array of bulk strings, lengths computed: for hand-made well-formed commands.
std::string resp(std::initializer_list<std::string_view> args) {
  std::string s = "*" + std::to_string(args.size()) + "\r\n";
  for (auto a : args) s += "$" + std::to_string(a.size()) + "\r\n" + std::string(a) + "\r\n";
  return s;
}

const std::string header_cmd = resp({"ECHO", "kage-archive 1 {}"});
std::string trailer_cmd(int n) {
  return resp({"ECHO", "kage-archive-end " + std::to_string(n)});
}
const std::string key_cmd = resp({"RESTORE", "k", "0", "v", "ABSTTL"});

std::vector<owned_record> small_records() {
  std::vector<owned_record> v;
  v.push_back({ks::archive_record::kind::functions, "", 0, "lib"});
  for (int i = 0; i < 40; ++i)
    v.push_back({ks::archive_record::kind::key, "k" + std::to_string(i), i % 2 ? 1000 + i : 0,
                 random_bytes(static_cast<std::size_t>(i * 3), i)});
  return v;
}

boost::system::error_code read_plain(std::string_view plain, std::size_t max = 1 << 20) {
  return read_archive(compress(plain), 0, max).error;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(storage_archive)

BOOST_AUTO_TEST_CASE(round_trip_all_at_once) {
  const auto records = sample_records();
  const std::string object = write_archive(records);
  const auto r = read_archive(object);
  BOOST_TEST(!r.error, r.error.message());
  BOOST_TEST(r.header == R"({"shard":0})");
  BOOST_TEST(r.records == records, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(round_trip_one_byte_at_a_time) {
  const auto records = sample_records();
  const std::string object = write_archive(records);
  const auto r = read_archive(object, 1);
  BOOST_TEST(!r.error, r.error.message());
  BOOST_TEST(r.records == records, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(round_trip_odd_chunks_and_levels) {
  const auto records = sample_records();
  for (int level : {1, 3, 19}) {
    const std::string object = write_archive(records, level);
    for (std::size_t chunk : {7u, 4093u, 65536u}) {
      const auto r = read_archive(object, chunk);
      BOOST_TEST(!r.error, r.error.message());
      BOOST_TEST(r.records == records, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(exact_bytes_for_standard_tools) {
  // The decompressed content is what redis-cli --pipe sends: pin it byte for byte.
  ks::archive_writer w(3, "{}");
  std::string out;
  w.add_functions("F", out);
  w.add_key(bytes({'k', 0}), 0, "P", out);
  w.add_key("x", 1795313515123, "", out);
  w.finish(out);
  const std::string expected =
      header_cmd +
      "*3\r\n$8\r\nFUNCTION\r\n$7\r\nRESTORE\r\n$1\r\nF\r\n"
      "*5\r\n$7\r\nRESTORE\r\n$2\r\nk" +
      bytes({0}) +
      "\r\n$1\r\n0\r\n$1\r\nP\r\n$6\r\nABSTTL\r\n"
      "*5\r\n$7\r\nRESTORE\r\n$1\r\nx\r\n$13\r\n1795313515123\r\n$0\r\n\r\n"
      "$6\r\nABSTTL\r\n" +
      trailer_cmd(3);
  BOOST_TEST(decompress(out) == expected);
  BOOST_TEST(w.uncompressed_bytes() == expected.size());
  // Content checksum is on: the frame header's descriptor has bit 2 set.
  BOOST_REQUIRE(out.size() > 4);
  BOOST_TEST((static_cast<unsigned char>(out[4]) & 0x04) != 0);
}

BOOST_AUTO_TEST_CASE(empty_archive) {
  const std::string object = write_archive({});
  const auto r = read_archive(object);
  BOOST_TEST(!r.error, r.error.message());
  BOOST_TEST(r.records.empty());
  BOOST_TEST(decompress(object) ==
             "*2\r\n$4\r\nECHO\r\n$26\r\nkage-archive 1 {\"shard\":0}\r\n" + trailer_cmd(0));
}

BOOST_AUTO_TEST_CASE(fifty_megabyte_payload) {
  const std::string big = random_bytes(50u << 20, 42);
  ks::archive_writer w(1, "{}");
  std::string out;
  w.add_key("small", 0, "x", out);
  w.add_key("big", 1795313515123, big, out);
  // Compressed bytes come out while the record is written, not only at finish().
  BOOST_TEST(out.size() > (40u << 20));
  w.add_key("after", 0, "y", out);
  w.finish(out);

  ks::archive_reader reader(64u << 20);
  std::size_t fed = 0;
  std::vector<std::string> keys;
  bool done = false;
  while (!done) {
    auto r = reader.next();
    if (!r) {
      BOOST_REQUIRE(r.error() == archive_errc::needs_more);
      if (fed == out.size()) {
        reader.end_of_input();
        continue;
      }
      const std::size_t n = std::min<std::size_t>(1 << 20, out.size() - fed);
      reader.feed(std::string_view(out).substr(fed, n));
      fed += n;
    } else if (!*r) {
      done = true;
    } else {
      keys.emplace_back((*r)->key);
      if ((*r)->key == "big") {
        BOOST_TEST((*r)->payload.size() == big.size());
        BOOST_TEST(((*r)->payload == big));
        BOOST_TEST((*r)->expire_at_ms == 1795313515123);
      }
    }
  }
  BOOST_TEST(keys == (std::vector<std::string>{"small", "big", "after"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(record_too_large) {
  std::vector<owned_record> records{
      {ks::archive_record::kind::key, "k", 0, std::string(5000, 'a')}};
  const std::string object = write_archive(records);
  BOOST_TEST(read_archive(object, 0, 4096).error == archive_errc::record_too_large);
  BOOST_TEST(read_archive(object, 1, 4096).error == archive_errc::record_too_large);
  BOOST_TEST(!read_archive(object, 0, 8192).error);
  // The declared length is checked before any of the bulk is buffered.
  const std::string plain =
      header_cmd + "*5\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n$999999999\r\n";
  ks::archive_reader reader(1 << 20);
  reader.feed(compress(plain));
  auto r = reader.next();
  BOOST_TEST((!r && r.error() == archive_errc::record_too_large));
}

BOOST_AUTO_TEST_CASE(corrupt_byte_is_an_error_never_a_crash) {
  const std::string object = write_archive(sample_records());
  int checked = 0;
  for (std::size_t pos = 0; pos < object.size();
       pos += std::max<std::size_t>(1, object.size() / 300)) {
    for (unsigned char flip : {0x01, 0x80, 0xff}) {
      std::string bad = object;
      bad[pos] = static_cast<char>(static_cast<unsigned char>(bad[pos]) ^ flip);
      const auto r = read_archive(bad);
      BOOST_TEST(r.error, "corruption at byte " << pos << " went undetected");
      BOOST_TEST(r.error != archive_errc::needs_more);
      ++checked;
    }
  }
  BOOST_TEST(checked > 300);
}

BOOST_AUTO_TEST_CASE(truncation_is_detected_at_every_position) {
  const auto check = [](std::string_view object, std::size_t cut, std::size_t chunk) {
    const auto r = read_archive(object.substr(0, cut), chunk);
    const bool expected =
        r.error == archive_errc::missing_trailer || r.error == archive_errc::bad_compression;
    BOOST_TEST(expected, "cut at " << cut << ": " << (r.error ? r.error.message() : "success"));
  };
  const std::string small = write_archive(small_records());
  for (std::size_t cut = 0; cut < small.size(); ++cut) check(small, cut, cut % 2 ? 0 : 7);
  // A multi-block archive, cut at a stride and in its last bytes (checksum, last block).
  const std::string big = write_archive(sample_records());
  for (std::size_t cut = 0; cut < big.size(); cut += big.size() / 97) check(big, cut, 0);
  for (std::size_t cut = big.size() - 16; cut < big.size(); ++cut) check(big, cut, 4096);
}

BOOST_AUTO_TEST_CASE(concatenated_frames_are_one_archive) {
  const std::string plain = header_cmd + key_cmd + key_cmd + trailer_cmd(2);
  const std::size_t split = header_cmd.size() + key_cmd.size() + 9;  // inside a record
  const std::string object = compress(plain.substr(0, split)) + compress(plain.substr(split));
  const auto r = read_archive(object);
  BOOST_TEST(!r.error, r.error.message());
  BOOST_TEST(r.records.size() == 2u);
  BOOST_TEST(!read_archive(object, 1).error);
}

BOOST_AUTO_TEST_CASE(trailer_checks) {
  BOOST_TEST(!read_plain(header_cmd + key_cmd + trailer_cmd(1)));
  BOOST_TEST(read_plain(header_cmd + key_cmd + trailer_cmd(2)) == archive_errc::trailer_mismatch);
  BOOST_TEST(read_plain(header_cmd + key_cmd + trailer_cmd(0)) == archive_errc::trailer_mismatch);
  BOOST_TEST(read_plain(header_cmd + key_cmd) == archive_errc::missing_trailer);
  BOOST_TEST(read_plain(header_cmd) == archive_errc::missing_trailer);
  BOOST_TEST(read_plain("") == archive_errc::missing_trailer);
  BOOST_TEST(read_plain(header_cmd + trailer_cmd(0) + key_cmd) == archive_errc::data_after_trailer);
  BOOST_TEST(read_plain(header_cmd + trailer_cmd(0) + "\r\n") == archive_errc::data_after_trailer);
  BOOST_TEST(read_plain(header_cmd + trailer_cmd(0) + trailer_cmd(0)) ==
             archive_errc::data_after_trailer);
  // Trailer count must be a strict decimal.
  BOOST_TEST(read_plain(header_cmd + key_cmd + resp({"ECHO", "kage-archive-end 01"})) ==
             archive_errc::bad_framing);
  BOOST_TEST(read_plain(header_cmd + key_cmd + resp({"ECHO", "kage-archive-end 1 "})) ==
             archive_errc::bad_framing);
  // An empty object, and a byte that is not zstd at all.
  BOOST_TEST(read_archive("").error == archive_errc::missing_trailer);
  BOOST_TEST(read_archive("not zstd").error == archive_errc::bad_compression);
  // A complete archive followed by a byte of garbage.
  BOOST_TEST(read_archive(compress(header_cmd + trailer_cmd(0)) + "garbage!").error ==
             archive_errc::bad_compression);
}

BOOST_AUTO_TEST_CASE(header_checks) {
  const auto with_header = [](std::string_view text) {
    return read_plain(resp({"ECHO", text}) + trailer_cmd(0));
  };
  BOOST_TEST(!with_header("kage-archive 1 {}"));
  BOOST_TEST(!with_header("kage-archive 1 {\"shard\": 3, \"note\": \"a b\"}"));
  BOOST_TEST(read_plain(key_cmd + trailer_cmd(1)) == archive_errc::bad_header);
  BOOST_TEST(with_header("kage-archive 2 {}") == archive_errc::unsupported_version);
  BOOST_TEST(with_header("kage-archive 10 {}") == archive_errc::unsupported_version);
  BOOST_TEST(with_header("kage-archive x {}") == archive_errc::bad_header);
  BOOST_TEST(with_header("kage-archive 01 {}") == archive_errc::bad_header);
  BOOST_TEST(with_header("kage-archive 1") == archive_errc::bad_header);
  BOOST_TEST(with_header("kage-archive 1 []") == archive_errc::bad_header);
  BOOST_TEST(with_header("kage-archive 1 {]") == archive_errc::bad_header);
  BOOST_TEST(with_header("kage-archive-end 0") == archive_errc::bad_header);
  BOOST_TEST(read_plain(resp({"echo", "kage-archive 1 {}"}) + trailer_cmd(0)) ==
             archive_errc::bad_header);
  BOOST_TEST(read_plain(resp({"ECHO", "kage-archive 1 {}", "x"}) + trailer_cmd(0)) ==
             archive_errc::bad_header);
  BOOST_TEST(read_plain("PING\r\n") == archive_errc::bad_header);
}

BOOST_AUTO_TEST_CASE(framing_is_strict) {
  const auto rec = [](std::string_view cmd) {
    return read_plain(header_cmd + std::string(cmd) + trailer_cmd(1));
  };
  BOOST_TEST(!rec(key_cmd));
  BOOST_TEST(rec("*5\r\n$7\r\nrestore\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\nv\r\n$6\r\nABSTTL\r\n") ==
             archive_errc::bad_framing);
  BOOST_TEST(rec("*5\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\nv\r\n$6\r\nREPLACE\r\n") ==
             archive_errc::bad_framing);
  BOOST_TEST(rec("*4\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\nv\r\n") ==
             archive_errc::bad_framing);
  BOOST_TEST(rec("*05\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\nv\r\n$6\r\nABSTTL\r\n") ==
             archive_errc::bad_framing);
  BOOST_TEST(rec("*5\r\n$07\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\nv\r\n$6\r\nABSTTL\r\n") ==
             archive_errc::bad_framing);
  BOOST_TEST(rec("*5\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\nv\r\n$6\r\nABSTTL\r\n") ==
             archive_errc::bad_framing);
  BOOST_TEST(rec("*5\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$2\r\n-1\r\n$1\r\nv\r\n$6\r\nABSTTL\r\n") ==
             archive_errc::bad_framing);
  BOOST_TEST(rec("*5\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$2\r\n+1\r\n$1\r\nv\r\n$6\r\nABSTTL\r\n") ==
             archive_errc::bad_framing);
  BOOST_TEST(rec("*5\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$2\r\n01\r\n$1\r\nv\r\n$6\r\nABSTTL\r\n") ==
             archive_errc::bad_framing);
  BOOST_TEST(rec("*5\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$19\r\n9223372036854775808\r\n$1\r\nv\r\n"
                 "$6\r\nABSTTL\r\n") == archive_errc::bad_framing);
  BOOST_TEST(rec("*5\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n$-1\r\n$6\r\nABSTTL\r\n") ==
             archive_errc::bad_framing);
  BOOST_TEST(rec("*5\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\nvX\r\n$6\r\nABSTTL\r\n") ==
             archive_errc::bad_framing);
  BOOST_TEST(rec("*5\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n+v\r\n$6\r\nABSTTL\r\n") ==
             archive_errc::bad_framing);
  BOOST_TEST(rec("*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$1\r\nf\r\n") == archive_errc::bad_framing);
  BOOST_TEST(rec(resp({"ECHO", "hello"})) == archive_errc::bad_framing);
  BOOST_TEST(rec(resp({"RESTORE", "k", "0", "v"})) == archive_errc::bad_framing);
  BOOST_TEST(rec(resp({"RESTORE", "k", "0", "v", "ABSTTL", "x"})) == archive_errc::bad_framing);
  BOOST_TEST(rec(resp({"RESTORE", "k", "", "v", "ABSTTL"})) == archive_errc::bad_framing);
  BOOST_TEST(!rec(resp({"FUNCTION", "RESTORE", ""})));
  BOOST_TEST(!rec(resp({"RESTORE", "", "9223372036854775807", "", "ABSTTL"})));
  // An endless integer line is garbage, not a reason to wait for more input.
  ks::archive_reader reader;
  reader.feed(compress(header_cmd + "*5\r\n$" + std::string(30, '1')));
  auto r = reader.next();
  BOOST_TEST((!r && r.error() == archive_errc::bad_framing));
}

BOOST_AUTO_TEST_CASE(errors_are_sticky) {
  ks::archive_reader reader;
  reader.feed(compress(key_cmd));
  auto r1 = reader.next();
  BOOST_REQUIRE(!r1);
  BOOST_TEST(r1.error() == archive_errc::bad_header);
  reader.feed(compress(header_cmd));
  auto r2 = reader.next();
  BOOST_TEST((!r2 && r2.error() == archive_errc::bad_header));
}

BOOST_AUTO_TEST_CASE(done_stays_done) {
  ks::archive_reader reader;
  reader.feed(write_archive({}));
  reader.end_of_input();
  for (int i = 0; i < 3; ++i) {
    auto r = reader.next();
    BOOST_TEST((r && !*r));
  }
}

BOOST_AUTO_TEST_CASE(writer_refuses_misuse) {
  ks::archive_writer w(3, "{}");
  std::string out;
  BOOST_CHECK_THROW(w.add_key("k", -1, "v", out), std::invalid_argument);
  w.finish(out);
  BOOST_CHECK_THROW(w.add_key("k", 0, "v", out), std::logic_error);
  BOOST_CHECK_THROW(w.finish(out), std::logic_error);
}

BOOST_AUTO_TEST_CASE(error_messages_are_sentences) {
  const auto ec = make_error_code(archive_errc::missing_trailer);
  BOOST_TEST(ec.message().find("truncated") != std::string::npos);
  BOOST_TEST(std::string(ec.category().name()) == "kage.archive");
}

BOOST_AUTO_TEST_SUITE_END()
