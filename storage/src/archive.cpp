#include <kage/storage/archive.hpp>
#include <kage/storage/manifest.hpp>  // format_version: one number for the whole FORMAT.md

#include <zstd.h>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace kage::storage {

namespace {

constexpr std::string_view header_prefix = "kage-archive ";
constexpr std::string_view trailer_prefix = "kage-archive-end ";

class archive_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "kage.archive"; }
  std::string message(int ev) const override {
    switch (static_cast<archive_errc>(ev)) {
      case archive_errc::needs_more:
        return "The archive reader needs more input.";
      case archive_errc::bad_compression:
        return "The archive's zstd data is corrupt (or fails its checksum).";
      case archive_errc::bad_framing:
        return "The archive's content is not the RESP command sequence of format v1.";
      case archive_errc::bad_header:
        return "The object does not start with a kage-archive header: it is not a kage archive.";
      case archive_errc::unsupported_version:
        return "The archive uses a format version this kage does not read; use a newer kage.";
      case archive_errc::record_too_large:
        return "An archive record is larger than the configured maximum record size.";
      case archive_errc::missing_trailer:
        return "The archive ends before its trailer: the object is truncated.";
      case archive_errc::trailer_mismatch:
        return "The archive trailer's record count differs from the records it holds.";
      case archive_errc::data_after_trailer:
        return "The archive has data after its trailer.";
    }
    return "Unknown archive error.";
  }
};

// The decimal text of an unsigned integer, without allocating.
class decimal {
 public:
  explicit decimal(std::uint64_t v) noexcept {
    size_ = static_cast<std::size_t>(std::to_chars(buf_, buf_ + sizeof buf_, v).ptr - buf_);
  }
  std::string_view view() const noexcept { return {buf_, size_}; }

 private:
  char buf_[24];
  std::size_t size_;
};

// "$<len>\r\n" for a bulk string of len bytes.
void append_bulk_header(std::string& s, std::size_t len) {
  s.push_back('$');
  s.append(decimal(len).view());
  s.append("\r\n");
}

void append_bulk(std::string& s, std::string_view bytes) {
  append_bulk_header(s, bytes.size());
  s.append(bytes);
  s.append("\r\n");
}

// Strict decimal: digits only, no sign, no leading zero (except "0"), no overflow.
bool parse_decimal(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

const boost::system::error_category& archive_category() noexcept {
  static const archive_category_impl category;
  return category;
}

boost::system::error_code make_error_code(archive_errc e) noexcept {
  return {static_cast<int>(e), archive_category()};
}

// ---------------------------------------------------------------------------------------------
// Writer

struct archive_writer::impl {
  struct cctx_deleter {
    void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
  };
  std::unique_ptr<ZSTD_CCtx, cctx_deleter> cctx{ZSTD_createCCtx()};
  // zstd writes here and we append what it produced to the caller's string: the caller's
  // string is never resized speculatively, and this buffer is zstd's recommended size.
  std::size_t zbuf_size = ZSTD_CStreamOutSize();
  std::unique_ptr<char[]> zbuf{std::make_unique_for_overwrite<char[]>(zbuf_size)};
  std::string scratch;  // RESP framing, reused across records
  std::string pending;  // output produced by the constructor, handed out with the first call
  std::uint64_t records = 0;
  std::uint64_t uncompressed = 0;
  bool finished = false;

  static void check(std::size_t rc) {
    if (ZSTD_isError(rc))
      throw std::runtime_error(std::string("zstd compression failed: ") + ZSTD_getErrorName(rc));
  }

  void compress(std::string_view in, ZSTD_EndDirective mode, std::string& out) {
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    uncompressed += in.size();
    for (;;) {
      ZSTD_outBuffer output{zbuf.get(), zbuf_size, 0};
      const std::size_t rc = ZSTD_compressStream2(cctx.get(), &output, &input, mode);
      check(rc);
      out.append(zbuf.get(), output.pos);
      // continue: done once zstd took all input. end: done once the frame is fully flushed.
      if (mode == ZSTD_e_continue ? input.pos == input.size : rc == 0) return;
    }
  }

  void begin_call(std::string& out) {
    if (finished) throw std::logic_error("archive_writer: used after finish()");
    if (!pending.empty()) {
      out.append(pending);
      pending.clear();
    }
  }
};

archive_writer::archive_writer(int zstd_level, std::string_view header_json)
    : impl_(std::make_unique<impl>()) {
  if (!impl_->cctx) throw std::bad_alloc();
  // Out-of-range levels are clamped by zstd.
  impl::check(ZSTD_CCtx_setParameter(impl_->cctx.get(), ZSTD_c_compressionLevel, zstd_level));
  // The content checksum makes a flipped bit an error instead of a silently different payload.
  impl::check(ZSTD_CCtx_setParameter(impl_->cctx.get(), ZSTD_c_checksumFlag, 1));
  if (header_json.empty()) header_json = "{}";
  const decimal version(static_cast<std::uint64_t>(format_version));
  std::string& s = impl_->scratch;
  s.assign("*2\r\n$4\r\nECHO\r\n");
  append_bulk_header(s, header_prefix.size() + version.view().size() + 1 + header_json.size());
  s.append(header_prefix);
  s.append(version.view());
  s.push_back(' ');
  s.append(header_json);
  s.append("\r\n");
  impl_->compress(s, ZSTD_e_continue, impl_->pending);
}

archive_writer::~archive_writer() = default;
archive_writer::archive_writer(archive_writer&&) noexcept = default;
archive_writer& archive_writer::operator=(archive_writer&&) noexcept = default;

void archive_writer::add_functions(std::string_view payload, std::string& out) {
  impl_->begin_call(out);
  std::string& s = impl_->scratch;
  s.assign("*3\r\n$8\r\nFUNCTION\r\n$7\r\nRESTORE\r\n");
  append_bulk_header(s, payload.size());
  impl_->compress(s, ZSTD_e_continue, out);
  impl_->compress(payload, ZSTD_e_continue, out);
  impl_->compress("\r\n", ZSTD_e_continue, out);
  ++impl_->records;
}

void archive_writer::add_key(std::string_view key, std::int64_t expire_at_ms,
                             std::string_view payload, std::string& out) {
  if (expire_at_ms < 0) throw std::invalid_argument("archive_writer: negative expire_at_ms");
  impl_->begin_call(out);
  const decimal expire(static_cast<std::uint64_t>(expire_at_ms));
  std::string& s = impl_->scratch;
  s.assign("*5\r\n$7\r\nRESTORE\r\n");
  // Small records reach zstd in one call; large ones as views, so a big payload is not copied.
  constexpr std::size_t small_record = 16 * 1024;
  if (key.size() + payload.size() <= small_record) {
    append_bulk(s, key);
    append_bulk(s, expire.view());
    append_bulk(s, payload);
    s.append("$6\r\nABSTTL\r\n");
    impl_->compress(s, ZSTD_e_continue, out);
  } else {
    append_bulk_header(s, key.size());
    impl_->compress(s, ZSTD_e_continue, out);
    impl_->compress(key, ZSTD_e_continue, out);
    s.assign("\r\n");
    append_bulk(s, expire.view());
    append_bulk_header(s, payload.size());
    impl_->compress(s, ZSTD_e_continue, out);
    impl_->compress(payload, ZSTD_e_continue, out);
    impl_->compress("\r\n$6\r\nABSTTL\r\n", ZSTD_e_continue, out);
  }
  ++impl_->records;
}

void archive_writer::finish(std::string& out) {
  impl_->begin_call(out);
  const decimal count(impl_->records);
  std::string& s = impl_->scratch;
  s.assign("*2\r\n$4\r\nECHO\r\n");
  append_bulk_header(s, trailer_prefix.size() + count.view().size());
  s.append(trailer_prefix);
  s.append(count.view());
  s.append("\r\n");
  impl_->compress(s, ZSTD_e_end, out);
  impl_->finished = true;
}

std::uint64_t archive_writer::records() const noexcept {
  return impl_->records;
}
std::uint64_t archive_writer::uncompressed_bytes() const noexcept {
  return impl_->uncompressed;
}

// ---------------------------------------------------------------------------------------------
// Reader

namespace {

// One RESP array of bulk strings, as views into the decompressed buffer.
struct command {
  std::size_t argc = 0;
  std::array<std::string_view, 5> argv;
};

// Parses "<prefix><decimal>\r\n" at p[i]; advances i past it.
archive_errc parse_line(const char* p, std::size_t n, std::size_t& i, char prefix,
                        std::uint64_t& value, std::size_t& need) noexcept {
  if (i >= n) {
    need = i + 1;
    return archive_errc::needs_more;
  }
  if (p[i] != prefix) return archive_errc::bad_framing;
  const std::size_t digits_at = i + 1;
  std::size_t j = digits_at;
  // Fail on the first byte that cannot belong to the line: garbage is not a reason to wait.
  for (; j < n && p[j] != '\r'; ++j) {
    if (p[j] < '0' || p[j] > '9' || j - digits_at >= 20) return archive_errc::bad_framing;
  }
  if (j + 1 >= n) {
    need = j + 2;
    return archive_errc::needs_more;
  }
  if (p[j + 1] != '\n') return archive_errc::bad_framing;
  if (!parse_decimal({p + digits_at, j - digits_at}, value)) return archive_errc::bad_framing;
  i = j + 2;
  return {};
}

// Parses one command at the start of p[0, n). On success sets size to its encoded length; on
// needs_more sets need to the number of bytes (from p) required to make progress. Lengths are
// checked against max before anything is buffered for them.
archive_errc parse_command(const char* p, std::size_t n, std::size_t max, command& cmd,
                           std::size_t& size, std::size_t& need) noexcept {
  std::size_t i = 0;
  std::uint64_t argc = 0;
  if (auto e = parse_line(p, n, i, '*', argc, need); e != archive_errc{}) return e;
  if (argc != 2 && argc != 3 && argc != 5) return archive_errc::bad_framing;
  cmd.argc = static_cast<std::size_t>(argc);
  for (std::size_t a = 0; a < cmd.argc; ++a) {
    std::uint64_t len = 0;
    if (auto e = parse_line(p, n, i, '$', len, need); e != archive_errc{}) return e;
    if (len > max || i + len + 2 > max) return archive_errc::record_too_large;
    const std::size_t end = i + static_cast<std::size_t>(len);
    if (end + 2 > n) {
      need = end + 2;
      return archive_errc::needs_more;
    }
    if (p[end] != '\r' || p[end + 1] != '\n') return archive_errc::bad_framing;
    cmd.argv[a] = {p + i, static_cast<std::size_t>(len)};
    i = end + 2;
  }
  size = i;
  return {};
}

constexpr std::size_t default_buffer = std::size_t{128} * 1024;
// Room beyond a record's declared bulk so the few framing bytes after it do not cost a regrow.
constexpr std::size_t buffer_slack = std::size_t{64} * 1024;

}  // namespace

struct archive_reader::impl {
  enum class state { header, records, after_trailer, done, failed };

  struct dctx_deleter {
    void operator()(ZSTD_DCtx* c) const noexcept { ZSTD_freeDCtx(c); }
  };

  explicit impl(std::size_t max)
      : max_record(std::min(max, std::size_t{1} << 48)),
        buf(std::make_unique_for_overwrite<char[]>(default_buffer)),
        cap(default_buffer) {}

  std::size_t max_record;
  std::unique_ptr<ZSTD_DCtx, dctx_deleter> dctx{ZSTD_createDCtx()};
  std::string in;  // compressed bytes not yet given to zstd
  std::size_t in_pos = 0;
  bool eof = false;
  bool zstd_may_have_output = false;  // last call filled the output: zstd may hold more
  bool in_frame = false;              // a zstd frame began and has not ended
  // Decompressed bytes: [begin, end) not yet parsed; grows only to hold one record.
  std::unique_ptr<char[]> buf;
  std::size_t cap = 0;
  std::size_t begin = 0;
  std::size_t end = 0;
  state st = state::header;
  archive_errc error{};
  std::string header;
  std::uint64_t records = 0;

  boost::system::error_code fail(archive_errc e) noexcept {
    st = state::failed;
    error = e;
    return make_error_code(e);
  }

  // Moves unparsed bytes to the front and makes room for need bytes in total.
  void make_room(std::size_t need) {
    const std::size_t kept = end - begin;
    need = std::max(need, kept + 1);
    std::size_t want = cap;
    if (need > cap) want = need + buffer_slack;
    // Give back the memory of a huge record once the buffer holds only small ones.
    else if (cap > 4 * default_buffer && need <= default_buffer)
      want = default_buffer;
    if (want != cap) {
      auto bigger = std::make_unique_for_overwrite<char[]>(want);
      std::memcpy(bigger.get(), buf.get() + begin, kept);
      buf = std::move(bigger);
      cap = want;
    } else if (begin > 0) {
      std::memmove(buf.get(), buf.get() + begin, kept);
    }
    begin = 0;
    end = kept;
  }

  // Decompresses into buf[end, cap). False when zstd can produce nothing more from the input
  // fed so far; errors go through fail().
  bool decompress(boost::system::error_code& ec) noexcept {
    for (;;) {
      if (in_pos == in.size() && !zstd_may_have_output) {
        in.clear();
        in_pos = 0;
        return false;
      }
      ZSTD_inBuffer input{in.data() + in_pos, in.size() - in_pos, 0};
      ZSTD_outBuffer output{buf.get() + end, cap - end, 0};
      const std::size_t rc = ZSTD_decompressStream(dctx.get(), &output, &input);
      if (ZSTD_isError(rc)) {
        ec = fail(archive_errc::bad_compression);
        return false;
      }
      in_pos += input.pos;
      end += output.pos;
      zstd_may_have_output = output.pos == output.size;
      // rc == 0: a frame ended exactly here; another may follow (concatenated frames).
      in_frame = rc != 0;
      if (output.pos > 0) return true;
      if (input.pos == 0 && !zstd_may_have_output) return false;  // no progress possible
    }
  }

  boost::system::result<std::optional<archive_record>> handle(const command& cmd);
  boost::system::result<std::optional<archive_record>> next();
};

boost::system::result<std::optional<archive_record>> archive_reader::impl::next() {
  if (!dctx) return fail(archive_errc::bad_compression);
  for (;;) {
    switch (st) {
      case state::failed:
        return make_error_code(error);
      case state::done:
        return std::optional<archive_record>();
      default:
        break;
    }
    std::size_t need = 0;
    if (st == state::after_trailer) {
      if (end > begin) return fail(archive_errc::data_after_trailer);
      need = 1;
    } else {
      command cmd;
      std::size_t size = 0;
      archive_errc e = parse_command(buf.get() + begin, end - begin, max_record, cmd, size, need);
      if (e == archive_errc::needs_more && need > max_record) e = archive_errc::record_too_large;
      if (e == archive_errc{}) {
        begin += size;
        auto r = handle(cmd);
        if (!r || *r) return r;
        continue;  // header or trailer: nothing to hand out
      }
      if (e != archive_errc::needs_more)
        return fail(st == state::header ? archive_errc::bad_header : e);
    }
    make_room(need);
    boost::system::error_code ec;
    if (decompress(ec)) continue;
    if (ec) return ec;
    if (!eof) return make_error_code(archive_errc::needs_more);
    // All input seen. Complete only if the trailer was read and the zstd frame (and its
    // checksum) ended too.
    if (st == state::after_trailer && !in_frame) {
      st = state::done;
      continue;
    }
    return fail(archive_errc::missing_trailer);
  }
}

boost::system::result<std::optional<archive_record>> archive_reader::impl::handle(
    const command& cmd) {
  using opt = std::optional<archive_record>;
  const auto& v = cmd.argv;
  if (st == state::header) {
    if (cmd.argc != 2 || v[0] != "ECHO" || !v[1].starts_with(header_prefix))
      return fail(archive_errc::bad_header);
    std::string_view rest = v[1].substr(header_prefix.size());
    const auto space = rest.find(' ');
    std::uint64_t version = 0;
    if (space == std::string_view::npos || !parse_decimal(rest.substr(0, space), version))
      return fail(archive_errc::bad_header);
    if (version != static_cast<std::uint64_t>(format_version))
      return fail(archive_errc::unsupported_version);
    const std::string_view json = rest.substr(space + 1);
    boost::system::error_code ec;
    const boost::json::value parsed = boost::json::parse(json, ec);
    if (ec || !parsed.is_object()) return fail(archive_errc::bad_header);
    header.assign(json);
    st = state::records;
    return opt();
  }
  if (cmd.argc == 5 && v[0] == "RESTORE" && v[4] == "ABSTTL") {
    std::uint64_t expire = 0;
    if (!parse_decimal(v[2], expire) ||
        expire > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return fail(archive_errc::bad_framing);
    ++records;
    return opt(
        archive_record{archive_record::kind::key, v[1], static_cast<std::int64_t>(expire), v[3]});
  }
  if (cmd.argc == 3 && v[0] == "FUNCTION" && v[1] == "RESTORE") {
    ++records;
    return opt(archive_record{archive_record::kind::functions, {}, 0, v[2]});
  }
  if (cmd.argc == 2 && v[0] == "ECHO" && v[1].starts_with(trailer_prefix)) {
    std::uint64_t count = 0;
    if (!parse_decimal(v[1].substr(trailer_prefix.size()), count))
      return fail(archive_errc::bad_framing);
    if (count != records) return fail(archive_errc::trailer_mismatch);
    st = state::after_trailer;
    return opt();
  }
  return fail(archive_errc::bad_framing);
}

archive_reader::archive_reader(std::size_t max_record_bytes)
    : impl_(std::make_unique<impl>(max_record_bytes)) {
  if (!impl_->dctx) throw std::bad_alloc();
}

archive_reader::~archive_reader() = default;
archive_reader::archive_reader(archive_reader&&) noexcept = default;
archive_reader& archive_reader::operator=(archive_reader&&) noexcept = default;

void archive_reader::feed(std::string_view compressed) {
  impl& d = *impl_;
  if (d.in_pos > 0) {
    d.in.erase(0, d.in_pos);
    d.in_pos = 0;
  }
  d.in.append(compressed);
}

void archive_reader::end_of_input() {
  impl_->eof = true;
}

boost::system::result<std::optional<archive_record>> archive_reader::next() {
  return impl_->next();
}

std::string_view archive_reader::header_json() const noexcept {
  return impl_->header;
}
std::uint64_t archive_reader::records() const noexcept {
  return impl_->records;
}

}  // namespace kage::storage
