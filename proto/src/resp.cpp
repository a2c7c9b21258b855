#include <kage/proto/resp.hpp>

#include <charconv>

namespace kage::proto {
namespace {

struct line_result {
  std::string_view line;
  std::size_t next = 0;
};

// The text between pos and the next CRLF. needs_more if the CRLF has not arrived yet.
boost::system::result<line_result> read_line(std::string_view data, std::size_t pos,
                                             const resp_limits& limits) noexcept {
  const std::size_t window = std::min(data.size() - pos, limits.max_line + 2);
  const std::size_t nl = data.substr(pos, window).find("\r\n");
  if (nl == std::string_view::npos) {
    if (data.size() - pos > limits.max_line + 1) return make_error_code(errc::too_large);
    return make_error_code(errc::needs_more);
  }
  return line_result{data.substr(pos, nl), pos + nl + 2};
}

bool parse_length(std::string_view text, std::int64_t& n) noexcept {
  return to_int64(text, n) && n >= -1;
}

}  // namespace

bool is_aggregate(resp_type t) noexcept {
  switch (t) {
    case resp_type::array:
    case resp_type::map:
    case resp_type::set:
    case resp_type::push:
    case resp_type::attribute:
      return true;
    default:
      return false;
  }
}

bool to_int64(std::string_view text, std::int64_t& value) noexcept {
  if (text.empty()) return false;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (*first == '+') return false;
  auto [ptr, ec] = std::from_chars(first, last, value);
  return ec == std::errc{} && ptr == last;
}

namespace {

// Parses elements from st.pos until the reply st describes is complete, appending their nodes
// to out (values point into data). On needs_more, st and out stop at the start of the element
// that is not complete yet, so a later call with more bytes goes on from there.
boost::system::error_code parse_elements(std::string_view data, reply_parser::state& st,
                                         std::vector<resp_node>& out,
                                         const resp_limits& limits) noexcept {
  const std::uint32_t max_depth = std::min<std::uint32_t>(limits.max_depth, 63);
  do {
    const std::size_t element_start = st.pos;
    auto need_more = [&] {
      st.pos = element_start;
      return make_error_code(errc::needs_more);
    };
    if (st.pos >= data.size()) return need_more();
    const char marker = data[st.pos];
    auto line = read_line(data, st.pos + 1, limits);
    if (!line) {
      if (line.error() == make_error_code(errc::needs_more)) return need_more();
      return line.error();
    }
    std::size_t pos = line->next;
    resp_node node;
    node.depth = st.open;
    node.value = line->line;
    bool aggregate_open = false;
    switch (marker) {
      case '+':
        node.type = resp_type::simple_string;
        break;
      case '-':
        node.type = resp_type::error;
        break;
      case ':': {
        std::int64_t v;
        if (!to_int64(node.value, v)) return make_error_code(errc::protocol_error);
        node.type = resp_type::integer;
        break;
      }
      case ',':
        node.type = resp_type::double_type;
        break;
      case '(':
        node.type = resp_type::big_number;
        break;
      case '#':
        if (node.value != "t" && node.value != "f") return make_error_code(errc::protocol_error);
        node.type = resp_type::boolean;
        break;
      case '_':
        if (!node.value.empty()) return make_error_code(errc::protocol_error);
        node.type = resp_type::null;
        break;
      case '$':
      case '!':
      case '=': {
        std::int64_t len;
        if (!parse_length(node.value, len)) return make_error_code(errc::protocol_error);
        if (len == -1) {
          node.type = resp_type::null;
          node.value = {};
          break;
        }
        if (static_cast<std::uint64_t>(len) > limits.max_bulk) {
          return make_error_code(errc::too_large);
        }
        const auto n = static_cast<std::size_t>(len);
        if (data.size() - pos < n + 2) return need_more();
        if (data[pos + n] != '\r' || data[pos + n + 1] != '\n') {
          return make_error_code(errc::protocol_error);
        }
        node.type = marker == '$'   ? resp_type::bulk_string
                    : marker == '!' ? resp_type::blob_error
                                    : resp_type::verbatim_string;
        node.value = data.substr(pos, n);
        node.size = n;
        pos += n + 2;
        break;
      }
      case '*':
      case '~':
      case '>':
      case '%': {
        std::int64_t count;
        if (!parse_length(node.value, count)) return make_error_code(errc::protocol_error);
        node.value = {};
        if (count == -1) {
          node.type = resp_type::null;
          break;
        }
        auto n = static_cast<std::size_t>(count);
        if (marker == '%') n *= 2;
        if (n > limits.max_elements) return make_error_code(errc::too_large);
        node.type = marker == '*'   ? resp_type::array
                    : marker == '~' ? resp_type::set
                    : marker == '>' ? resp_type::push
                                    : resp_type::map;
        node.size = n;
        if (n > 0) {
          if (st.open + 1 > max_depth) return make_error_code(errc::too_deep);
          aggregate_open = true;
        }
        break;
      }
      default:
        return make_error_code(errc::protocol_error);  // includes RESP3 attributes, never requested
    }
    out.push_back(node);
    st.pos = pos;
    if (aggregate_open) {
      st.remaining[st.open++] = node.size;
      continue;
    }
    // One element finished: close every aggregate it completes.
    while (st.open > 0) {
      if (--st.remaining[st.open - 1] != 0) break;
      --st.open;
    }
  } while (st.open > 0);
  return {};
}

}  // namespace

boost::system::result<std::size_t> parse_reply(std::string_view data, std::vector<resp_node>& out,
                                               const resp_limits& limits) noexcept {
  const std::size_t start = out.size();
  reply_parser::state st;
  if (auto ec = parse_elements(data, st, out, limits)) {
    out.resize(start);
    return ec;
  }
  return st.pos;
}

boost::system::result<std::size_t> reply_parser::parse(std::string_view data) noexcept {
  const std::size_t before = nodes_.size();
  if (auto ec = parse_elements(data, state_, nodes_, limits_)) {
    if (ec != make_error_code(errc::needs_more)) reset();
    remember_offsets(data, before);
    return ec;
  }
  remember_offsets(data, before);
  // Nodes from earlier calls point into the bytes as they were then; the caller may have moved
  // them since (a growing read buffer), so point every node into data.
  for (std::size_t i = 0; i < before; ++i) {
    nodes_[i].value = data.substr(offsets_[i], nodes_[i].value.size());
  }
  return state_.pos;
}

void reply_parser::remember_offsets(std::string_view data, std::size_t from) {
  offsets_.resize(nodes_.size());
  for (std::size_t i = from; i < nodes_.size(); ++i) {
    const auto& v = nodes_[i].value;
    offsets_[i] = v.empty() ? 0 : static_cast<std::size_t>(v.data() - data.data());
  }
}

void reply_parser::reset() noexcept {
  nodes_.clear();
  offsets_.clear();
  state_ = {};
}

void append_command(std::string& out, std::span<const std::string_view> args) {
  char num[24];
  auto append_number = [&](char marker, std::size_t n) {
    out.push_back(marker);
    auto [end, ec] = std::to_chars(num, num + sizeof num, n);
    (void)ec;
    out.append(num, end);
    out.append("\r\n", 2);
  };
  append_number('*', args.size());
  for (std::string_view a : args) {
    append_number('$', a.size());
    out.append(a);
    out.append("\r\n", 2);
  }
}

bool reply::is_string() const noexcept {
  return type == resp_type::simple_string || type == resp_type::bulk_string ||
         type == resp_type::verbatim_string;
}

const reply* reply::find(std::string_view key) const noexcept {
  for (std::size_t i = 0; i + 1 < elements.size(); i += 2) {
    if (elements[i].value == key) return &elements[i + 1];
  }
  return nullptr;
}

namespace {

std::size_t build(std::span<const resp_node> nodes, std::size_t i, reply& r) {
  const resp_node& n = nodes[i];
  r.type = n.type;
  r.value.assign(n.value);
  ++i;
  if (is_aggregate(n.type)) {
    r.elements.resize(n.size);
    for (auto& child : r.elements) i = build(nodes, i, child);
  }
  return i;
}

}  // namespace

reply to_reply(std::span<const resp_node> nodes) {
  reply r;
  if (!nodes.empty()) build(nodes, 0, r);
  return r;
}

}  // namespace kage::proto
