// The sans-IO parts of replication.hpp: the transfer framing and the RDB frame check (apart
// from the client, so they build and fuzz without Asio).
#include <kage/proto/redis_text.hpp>
#include <kage/proto/replication.hpp>

#include <charconv>
#include <cstring>

namespace kage::proto {

namespace {

bool is_digit(unsigned char c) noexcept {
  return c >= '0' && c <= '9';
}

std::string hex64(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 15];
  return s;
}

}  // namespace

// ---- framing ---------------------------------------------------------------------------------

boost::system::result<rdb_transfer_parser::step> rdb_transfer_parser::parse(
    std::string_view input) noexcept {
  step out;
  while (state_ == state::preamble) {
    const std::string_view rest = input.substr(out.consumed);
    if (rest.empty()) return out;
    if (rest.front() == '\n') {  // keep-alive while the master prepares the RDB
      ++out.consumed;
      continue;
    }
    const auto nl = rest.substr(0, max_preamble_line + 1).find('\n');
    if (nl == std::string_view::npos) {
      if (rest.size() > max_preamble_line) return make_error_code(errc::too_large);
      return out;  // needs more
    }
    std::string_view line = rest.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.consumed += nl + 1;
    if (line.starts_with('-')) {
      error_.assign(line.substr(1));
      return make_error_code(errc::server_error);
    }
    if (line.starts_with("+FULLRESYNC ")) {  // PSYNC: "+FULLRESYNC <replid> <offset>"
      const std::string_view args = line.substr(12);
      const auto space = args.find(' ');
      if (space == std::string_view::npos) return make_error_code(errc::protocol_error);
      replid_.assign(args.substr(0, space));
      const std::string_view offset = args.substr(space + 1);
      auto [p, ec] = std::from_chars(offset.data(), offset.data() + offset.size(), offset_);
      if (ec != std::errc{} || p != offset.data() + offset.size())
        return make_error_code(errc::protocol_error);
      continue;
    }
    if (line.starts_with("$EOF:")) {
      const std::string_view mark = line.substr(5);
      if (mark.size() != rdb_eof_mark_size) return make_error_code(errc::protocol_error);
      std::memcpy(mark_, mark.data(), rdb_eof_mark_size);
      framing_ = rdb_framing::eof_marker;
      state_ = state::payload;
      break;
    }
    if (line.starts_with('$')) {
      const std::string_view digits = line.substr(1);
      if (digits.empty() || !is_digit(static_cast<unsigned char>(digits.front())))
        return make_error_code(errc::protocol_error);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length_);
      if (ec != std::errc{} || p != digits.data() + digits.size())
        return make_error_code(errc::protocol_error);
      framing_ = rdb_framing::length;
      state_ = length_ == 0 ? state::done : state::payload;
      break;
    }
    return make_error_code(errc::protocol_error);  // "+CONTINUE", a RESP reply, garbage
  }
  if (state_ != state::payload) return out;

  const std::string_view rest = input.substr(out.consumed);
  if (framing_ == rdb_framing::length) {
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(rest.size(), length_ - delivered_));
    out.payload = rest.substr(0, n);
    out.consumed += n;
    delivered_ += n;
    if (delivered_ == length_) state_ = state::done;
    return out;
  }
  // EOF marker: the payload ends where the marker is. Redis' own replica looks for it only at
  // the end of each read (nothing follows it until the replica ACKs); looking everywhere also
  // copes with bytes after it. Without a match, the last 39 bytes may be a marker's start.
  const std::string_view marker(mark_, rdb_eof_mark_size);
  if (const auto at = rest.find(marker); at != std::string_view::npos) {
    out.payload = rest.substr(0, at);
    out.consumed += at + rdb_eof_mark_size;
    delivered_ += at;
    state_ = state::done;
    return out;
  }
  if (rest.size() >= rdb_eof_mark_size) {
    out.payload = rest.substr(0, rest.size() - (rdb_eof_mark_size - 1));
    out.consumed += out.payload.size();
    delivered_ += out.payload.size();
  }
  return out;
}

// ---- RDB frame -------------------------------------------------------------------------------

void rdb_file_check::update(std::string_view bytes) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  if (n == 0) return;
  total_ += n;
  for (std::size_t i = 0; head_len_ < sizeof head_ && i < n; ++i) head_[head_len_++] = p[i];
  const auto feed = [this](const unsigned char* data, std::size_t len) {
    if (len == 0) return;
    crc_ = crc64(crc_, std::string_view(reinterpret_cast<const char*>(data), len));
    last_in_crc_ = data[len - 1];
  };
  if (n >= sizeof tail_) {
    feed(tail_, tail_len_);
    feed(p, n - sizeof tail_);
    std::memcpy(tail_, p + n - sizeof tail_, sizeof tail_);
    tail_len_ = sizeof tail_;
    return;
  }
  unsigned char joined[2 * sizeof tail_];
  std::memcpy(joined, tail_, tail_len_);
  std::memcpy(joined + tail_len_, p, n);
  const std::size_t len = tail_len_ + n;
  const std::size_t spill = len > sizeof tail_ ? len - sizeof tail_ : 0;
  feed(joined, spill);
  std::memmove(tail_, joined + spill, len - spill);
  tail_len_ = len - spill;
}

int rdb_file_check::version() const noexcept {
  if (head_len_ < sizeof head_ || std::memcmp(head_, "REDIS", 5) != 0) return 0;
  int v = 0;
  for (std::size_t i = 5; i < 9; ++i) {
    if (!is_digit(head_[i])) return 0;
    v = v * 10 + (head_[i] - '0');
  }
  return v;
}

rdb_file_check::verdict rdb_file_check::finish() const {
  verdict v;
  v.version = version();
  // Magic and version (9), at least the EOF opcode (1), the checksum (8).
  if (total_ < 18) {
    v.problem = "it is " + std::to_string(total_) + " bytes long, too short for an RDB file";
    return v;
  }
  if (v.version == 0) {
    v.problem = "it does not start with \"REDIS\" and a 4-digit RDB version";
    return v;
  }
  v.eof_opcode = last_in_crc_ == 0xff;
  std::uint64_t stored = 0;
  for (int i = 7; i >= 0; --i) stored = (stored << 8) | tail_[i];
  v.checksum_present = stored != 0;
  v.checksum_ok = v.checksum_present && stored == crc_;
  if (!v.eof_opcode) {
    v.problem =
        "it does not end with the RDB end-of-file opcode (0xFF) and checksum; it is "
        "truncated or not an RDB file";
  } else if (v.checksum_present && !v.checksum_ok) {
    v.problem = "its CRC-64 is " + hex64(crc_) + " but the file records " + hex64(stored) +
                "; it is corrupted";
  }
  return v;
}

}  // namespace kage::proto
