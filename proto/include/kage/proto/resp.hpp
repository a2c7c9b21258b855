#pragma once
// Sans-IO RESP2/RESP3 codec. The parser reads one complete reply from a byte view and returns
// flat nodes whose string views point into that view (valid until the bytes are consumed).
#include <kage/proto/error.hpp>

#include <boost/system/result.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kage::proto {

enum class resp_type : std::uint8_t {
  simple_string,
  error,
  integer,
  bulk_string,
  null,
  array,  // RESP2
  map,
  set,
  push,
  attribute,
  double_type,
  boolean,
  big_number,
  verbatim_string,
  blob_error  // RESP3
};

bool is_aggregate(resp_type t) noexcept;

struct resp_node {
  resp_type type = resp_type::null;
  std::uint32_t depth = 0;  // 0 for the top-level reply
  std::size_t size = 0;     // aggregates: number of child elements (a map counts keys+values)
  std::string_view value;   // strings, errors, numbers (their text)
};

struct resp_limits {
  // Redis refuses a bulk string over proto-max-bulk-len (512 MB by default) as a command
  // argument, so no value longer than that can be restored either.
  std::size_t max_bulk = std::size_t{512} << 20;
  std::size_t max_line = 64 * 1024;                 // simple strings, errors, numbers
  std::size_t max_elements = std::size_t{1} << 24;  // per aggregate
  std::uint32_t max_depth = 32;
};

// Parses exactly one top-level reply at the start of data and appends its nodes to out (pre-order).
// Returns the bytes consumed; errc::needs_more when data holds only part of a reply (out is then
// restored to its previous size).
boost::system::result<std::size_t> parse_reply(std::string_view data, std::vector<resp_node>& out,
                                               const resp_limits& limits = {}) noexcept;

// The same parser, resumable: for a reply that arrives in pieces, each call goes on from the
// element where the previous one stopped instead of parsing the reply from its start again (a
// large reply read in small chunks would otherwise cost time quadratic in its size). Give
// parse() the reply's bytes from its first byte, the same bytes each time plus what arrived (they
// may have moved in memory). Once it returns the bytes consumed, nodes() holds the reply
// (pointing into the last data) until reset(); any other error than needs_more resets it.
class reply_parser {
 public:
  explicit reply_parser(const resp_limits& limits = {}) : limits_(limits) {}
  boost::system::result<std::size_t> parse(std::string_view data) noexcept;
  std::span<const resp_node> nodes() const noexcept { return nodes_; }
  void reset() noexcept;

  struct state {
    std::size_t pos = 0;
    std::uint32_t open = 0;
    std::size_t remaining[64] = {};  // children still expected by each open aggregate
  };

 private:
  void remember_offsets(std::string_view data, std::size_t from);
  resp_limits limits_;
  state state_;
  std::vector<resp_node> nodes_;
  std::vector<std::size_t> offsets_;  // of each node's value from the reply's first byte
};

// Integer value of an integer node (or of a bulk string holding digits); false if not a number.
bool to_int64(std::string_view text, std::int64_t& value) noexcept;

// Appends "*N\r\n$len\r\narg\r\n..." to out.
void append_command(std::string& out, std::span<const std::string_view> args);
inline void append_command(std::string& out, std::initializer_list<std::string_view> args) {
  append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

// An owning copy of a reply, for control-path commands (CLUSTER SHARDS, INFO...).
struct reply {
  resp_type type = resp_type::null;
  std::string value;
  std::vector<reply> elements;

  bool is_error() const noexcept {
    return type == resp_type::error || type == resp_type::blob_error;
  }
  bool is_null() const noexcept { return type == resp_type::null; }
  bool is_string() const noexcept;  // simple, bulk, verbatim
  // For map replies (RESP3) and RESP2 flat key/value arrays: value of the element after `key`.
  const reply* find(std::string_view key) const noexcept;
};

reply to_reply(std::span<const resp_node> nodes);

}  // namespace kage::proto
