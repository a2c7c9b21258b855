#pragma once
// The replication client: ask a master (or a replica) for a full resynchronization the way a
// replica does (REPLCONF rdb-only + SYNC) and stream the RDB it sends, never holding more than a
// chunk. The framing parser and the RDB frame check are sans-IO.
#include <kage/proto/connection.hpp>

#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace kage::proto {

// RDB_EOF_MARK_SIZE in Redis' replication.c: the diskless transfer's end marker.
inline constexpr std::size_t rdb_eof_mark_size = 40;

enum class rdb_framing : std::uint8_t {
  unknown,     // the preamble has not been read yet
  length,      // disk-based: "$<length>\r\n", then exactly <length> bytes
  eof_marker,  // diskless: "$EOF:<40 bytes>\r\n", the bytes, then the same 40 bytes
};

// What a master sends after SYNC (or PSYNC ? -1): any number of "\n" keep-alives while it
// prepares the RDB, for PSYNC a "+FULLRESYNC <replid> <offset>" line, then the payload in one of
// the two framings. Give parse() every byte received and not yet consumed, in order; it says how
// many to drop from the front and which of those are RDB bytes (a view into the input). In the
// EOF-marker framing it leaves the last 39 bytes unconsumed until it can tell whether they
// start the marker. Bytes after the payload (a replication stream) are left unconsumed.
class rdb_transfer_parser {
 public:
  struct step {
    std::size_t consumed = 0;
    std::string_view payload;  // inside the consumed bytes
  };

  // Errors: errc::server_error (an error line instead of a payload; server_error() has its
  // text), errc::protocol_error (bytes that are no transfer preamble), errc::too_large (a
  // preamble line longer than 4 KiB). Nothing more is consumed once done().
  boost::system::result<step> parse(std::string_view input) noexcept;
  static constexpr std::size_t max_preamble_line = 4096;

  bool done() const noexcept { return state_ == state::done; }
  rdb_framing framing() const noexcept { return framing_; }
  std::uint64_t declared_length() const noexcept { return length_; }  // length framing
  std::uint64_t payload_bytes() const noexcept { return delivered_; }
  const std::string& server_error() const noexcept { return error_; }
  const std::string& replid() const noexcept { return replid_; }  // from +FULLRESYNC
  std::int64_t offset() const noexcept { return offset_; }        // -1 without +FULLRESYNC

 private:
  enum class state : std::uint8_t { preamble, payload, done };
  state state_ = state::preamble;
  rdb_framing framing_ = rdb_framing::unknown;
  std::uint64_t length_ = 0;
  std::uint64_t delivered_ = 0;
  char mark_[rdb_eof_mark_size] = {};
  std::string error_;
  std::string replid_;
  std::int64_t offset_ = -1;
};

// Checks the frame of an RDB file as its bytes stream past: "REDIS" and 4 ASCII digits (the RDB
// version) at the start; the EOF opcode 0xFF and an 8-byte little-endian CRC-64/Jones of every
// byte before it at the end. A stored CRC of 0 means the writer had rdbchecksum off.
class rdb_file_check {
 public:
  void update(std::string_view bytes) noexcept;
  std::uint64_t bytes() const noexcept { return total_; }
  // The version once the first 9 bytes were seen and look right; 0 otherwise.
  int version() const noexcept;

  struct verdict {
    int version = 0;                // 0: no "REDIS" + 4 digits header
    bool eof_opcode = false;        // 0xFF right before the last 8 bytes
    bool checksum_present = false;  // the stored CRC is not 0
    bool checksum_ok = false;       // stored CRC == computed (false when absent)
    std::string problem;            // one sentence; empty when the frame is sound
  };
  verdict finish() const;

 private:
  std::uint64_t total_ = 0;
  std::uint64_t crc_ = 0;  // over every byte except the last 8 seen so far
  unsigned char head_[9] = {};
  std::size_t head_len_ = 0;
  unsigned char tail_[8] = {};  // the last min(total_, 8) bytes, not yet in crc_
  std::size_t tail_len_ = 0;
  unsigned char last_in_crc_ = 0;  // the byte before tail_
};

// Something that takes the RDB bytes as they arrive (a store object, a SHA-256...).
class rdb_sink {
 public:
  virtual ~rdb_sink() = default;
  virtual asio::awaitable<void> async_write(std::string_view bytes) = 0;
};

struct rdb_transfer {
  rdb_framing framing = rdb_framing::unknown;  // eof_marker: the server sent it diskless
  std::uint64_t bytes = 0;
  bool rdb_only = true;          // false: the server did not take REPLCONF rdb-only (Redis < 7.0)
  std::string rdb_only_refusal;  // the server's words when rdb_only is false
};

// On a connected, authenticated conn: REPLCONF capa eof and REPLCONF rdb-only 1 (when refused
// as unknown, plain SYNC is used and the link is closed right after the RDB), then SYNC; hands
// the RDB to sink in pieces of at most chunk bytes and closes conn. Throws kage::failure(redis)
// quoting the server (an ACL refusal names the permissions needed) or naming the transport
// error and how many RDB bytes had arrived; system_error(operation_aborted) when cancelled.
asio::awaitable<rdb_transfer> async_sync_rdb(connection& conn, rdb_sink& sink,
                                             std::size_t chunk = 256 * 1024);

}  // namespace kage::proto
