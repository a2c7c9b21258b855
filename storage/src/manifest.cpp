#include <kage/storage/manifest.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>

namespace kage::storage {

namespace json = boost::json;

namespace {

class manifest_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "kage.manifest"; }
  std::string message(int ev) const override {
    switch (static_cast<manifest_errc>(ev)) {
      case manifest_errc::bad_json:
        return "The manifest is not a JSON object.";
      case manifest_errc::missing_field:
        return "The manifest lacks a required field.";
      case manifest_errc::wrong_type:
        return "A manifest field has the wrong type.";
      case manifest_errc::bad_value:
        return "A manifest field has an invalid value.";
      case manifest_errc::unsupported_format:
        return "The manifest uses a format version this kage does not read; use a newer kage.";
    }
    return "Unknown manifest error.";
  }
};

constexpr int max_slot = 16383;

// ---- writing --------------------------------------------------------------------------------

json::array slots_to_json(const std::vector<slot_range>& slots) {
  json::array a;
  a.reserve(slots.size());
  for (const auto& r : slots) a.push_back(json::array{r.first, r.last});
  return a;
}

json::array strings_to_json(const std::vector<std::string>& v) {
  json::array a;
  a.reserve(v.size());
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

bool is_scalar(const json::value& v) noexcept {
  return !v.is_object() && !v.is_array();
}

// Boost.JSON has no pretty printer. Objects one member per line; arrays of scalars on one line
// (slot ranges, patterns); other arrays one element per line. Key order is insertion order.
void pretty(const json::value& v, std::string& out, std::size_t indent) {
  const auto pad = [&](std::size_t n) { out.append(n, ' '); };
  if (v.is_object()) {
    const auto& o = v.get_object();
    if (o.empty()) {
      out.append("{}");
      return;
    }
    out.append("{\n");
    std::size_t i = 0;
    for (const auto& member : o) {
      pad(indent + 2);
      out.append(json::serialize(json::string_view(member.key())));
      out.append(": ");
      pretty(member.value(), out, indent + 2);
      out.append(++i < o.size() ? ",\n" : "\n");
    }
    pad(indent);
    out.push_back('}');
  } else if (v.is_array()) {
    const auto& a = v.get_array();
    if (a.empty()) {
      out.append("[]");
      return;
    }
    const bool inline_array = std::all_of(a.begin(), a.end(), is_scalar);
    out.append(inline_array ? "[" : "[\n");
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!inline_array) pad(indent + 2);
      pretty(a[i], out, indent + 2);
      if (i + 1 < a.size()) out.append(inline_array ? ", " : ",\n");
    }
    if (!inline_array) {
      out.push_back('\n');
      pad(indent);
    }
    out.push_back(']');
  } else {
    out.append(json::serialize(v));
  }
}

// ---- parsing --------------------------------------------------------------------------------

// Walks the document and records the first problem as a sentence naming the field.
class field_reader {
 public:
  explicit field_reader(std::string* message) : message_(message) {}

  bool failed() const noexcept { return error_ != manifest_errc{}; }
  manifest_errc error() const noexcept { return error_; }

  void fail(manifest_errc e, const std::string& path, std::string_view problem) {
    if (failed()) return;
    error_ = e;
    if (message_) *message_ = "manifest.json: field '" + path + "' " + std::string(problem);
  }
  void fail_text(manifest_errc e, std::string text) {
    if (failed()) return;
    error_ = e;
    if (message_) *message_ = std::move(text);
  }

  const json::value* get(const json::object& o, const std::string& prefix, std::string_view name) {
    if (failed()) return nullptr;
    const json::value* v = o.if_contains(name);
    if (!v) fail(manifest_errc::missing_field, prefix + std::string(name), "is missing");
    return v;
  }

  void read(const json::object& o, const std::string& prefix, std::string_view name,
            std::string& out) {
    const json::value* v = get(o, prefix, name);
    if (!v) return;
    if (!v->is_string())
      return fail(manifest_errc::wrong_type, prefix + std::string(name), "must be a string");
    out.assign(v->get_string().data(), v->get_string().size());
  }

  void read(const json::object& o, const std::string& prefix, std::string_view name, bool& out) {
    const json::value* v = get(o, prefix, name);
    if (!v) return;
    if (!v->is_bool())
      return fail(manifest_errc::wrong_type, prefix + std::string(name), "must be true or false");
    out = v->get_bool();
  }

  void read(const json::object& o, const std::string& prefix, std::string_view name,
            std::uint64_t& out) {
    const json::value* v = get(o, prefix, name);
    if (!v) return;
    if (!as_uint(*v, out))
      return fail(manifest_errc::wrong_type, prefix + std::string(name),
                  "must be a non-negative integer");
  }

  const json::array* array(const json::object& o, const std::string& prefix,
                           std::string_view name) {
    const json::value* v = get(o, prefix, name);
    if (!v) return nullptr;
    if (!v->is_array()) {
      fail(manifest_errc::wrong_type, prefix + std::string(name), "must be an array");
      return nullptr;
    }
    return &v->get_array();
  }

  const json::object* object(const json::value& v, const std::string& path) {
    if (failed()) return nullptr;
    if (!v.is_object()) {
      fail(manifest_errc::wrong_type, path, "must be an object");
      return nullptr;
    }
    return &v.get_object();
  }

  void read_strings(const json::object& o, const std::string& prefix, std::string_view name,
                    std::vector<std::string>& out) {
    const json::array* a = array(o, prefix, name);
    if (!a) return;
    for (std::size_t i = 0; i < a->size(); ++i) {
      const auto& v = (*a)[i];
      if (!v.is_string())
        return fail(manifest_errc::wrong_type, index(prefix + std::string(name), i),
                    "must be a string");
      out.emplace_back(v.get_string().data(), v.get_string().size());
    }
  }

  void read_slots(const json::object& o, const std::string& prefix, std::vector<slot_range>& out) {
    const json::array* a = array(o, prefix, "slots");
    if (!a) return;
    for (std::size_t i = 0; i < a->size(); ++i) {
      const auto& v = (*a)[i];
      const std::string path = index(prefix + "slots", i);
      std::uint64_t first = 0;
      std::uint64_t last = 0;
      if (!v.is_array() || v.get_array().size() != 2 || !as_uint(v.get_array()[0], first) ||
          !as_uint(v.get_array()[1], last))
        return fail(manifest_errc::wrong_type, path, "must be a [first, last] pair of integers");
      if (first > last || last > max_slot)
        return fail(manifest_errc::bad_value, path, "must satisfy 0 <= first <= last <= 16383");
      out.push_back({static_cast<int>(first), static_cast<int>(last)});
    }
  }

  static std::string index(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

  static bool as_uint(const json::value& v, std::uint64_t& out) noexcept {
    if (v.is_uint64()) {
      out = v.get_uint64();
      return true;
    }
    if (v.is_int64() && v.get_int64() >= 0) {
      out = static_cast<std::uint64_t>(v.get_int64());
      return true;
    }
    return false;
  }

 private:
  std::string* message_;
  manifest_errc error_{};
};

bool is_role(std::string_view r) noexcept {
  return r == "master" || r == "replica";
}

bool is_sha256_hex(std::string_view s) noexcept {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// An object name is one path component of our own making: no separators, no hidden names.
bool is_object_name(std::string_view s) noexcept {
  return !s.empty() && s.find('/') == std::string_view::npos && s.front() != '.' &&
         s.find('\0') == std::string_view::npos;
}

bool digits(std::string_view s, std::size_t at, std::size_t n) noexcept {
  for (std::size_t i = at; i < at + n; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

int number(std::string_view s, std::size_t at, std::size_t n) noexcept {
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

// "2026-11-22T02:11:55.123Z"
bool is_rfc3339_ms(std::string_view s) noexcept {
  if (s.size() != 24) return false;
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' ||
      s[23] != 'Z')
    return false;
  if (!digits(s, 0, 4) || !digits(s, 5, 2) || !digits(s, 8, 2) || !digits(s, 11, 2) ||
      !digits(s, 14, 2) || !digits(s, 17, 2) || !digits(s, 20, 3))
    return false;
  const int month = number(s, 5, 2), day = number(s, 8, 2);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && number(s, 11, 2) <= 23 &&
         number(s, 14, 2) <= 59 && number(s, 17, 2) <= 59;
}

struct civil_time {
  int year;
  unsigned month, day;
  long hours, minutes, seconds, millis;
};

civil_time to_civil(std::int64_t unix_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{unix_ms}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> t{tp - day};
  return {int(ymd.year()),     unsigned(ymd.month()), unsigned(ymd.day()),   t.hours().count(),
          t.minutes().count(), t.seconds().count(),   t.subseconds().count()};
}

}  // namespace

const boost::system::error_category& manifest_category() noexcept {
  static const manifest_category_impl category;
  return category;
}

boost::system::error_code make_error_code(manifest_errc e) noexcept {
  return {static_cast<int>(e), manifest_category()};
}

std::string to_json(const manifest& m) {
  const bool snapshot = m.kind == "snapshot";
  json::object o;
  o["format"] = m.format;
  o["kind"] = m.kind;
  o["id"] = m.id;
  o["kage_version"] = m.kage_version;
  o["started_at"] = m.started_at;
  o["finished_at"] = m.finished_at;
  o["redis_version"] = m.redis_version;
  o["cluster"] = m.cluster;
  o["patterns"] = strings_to_json(m.patterns);
  json::array topology;
  for (const auto& n : m.topology) {
    json::object t;
    t["id"] = n.id;
    t["address"] = n.address;
    t["role"] = n.role;
    t["master_id"] = n.master_id;
    t["slots"] = slots_to_json(n.slots);
    topology.push_back(std::move(t));
  }
  o["topology"] = std::move(topology);
  json::array objects;
  for (const auto& s : m.objects) {
    json::object j;
    j["name"] = s.name;
    j["master_id"] = s.master_id;
    j["master_address"] = s.master_address;
    j["read_from"] = s.read_from;
    j["read_role"] = s.read_role;
    j["slots"] = slots_to_json(s.slots);
    j["bytes"] = s.bytes;
    j["uncompressed_bytes"] = s.uncompressed_bytes;
    j["keys"] = s.keys;
    j["vanished"] = s.vanished;
    j["functions"] = s.functions;
    j["sha256"] = s.sha256;
    if (snapshot) {
      j["node_id"] = s.node_id;
      j["redis_version"] = s.redis_version;
      j["rdb_version"] = s.rdb_version;
      j["transfer"] = s.transfer;
      j["started_at"] = s.started_at;
      j["finished_at"] = s.finished_at;
    }
    objects.push_back(std::move(j));
  }
  o["objects"] = std::move(objects);
  o["total_keys"] = m.total_keys;
  o["total_bytes"] = m.total_bytes;
  o["total_vanished"] = m.total_vanished;
  if (snapshot) {
    json::array configs;
    for (const auto& c : m.node_configs) {
      configs.push_back(json::object{{"node_id", c.node_id},
                                     {"address", c.address},
                                     {"role", c.role},
                                     {"master_id", c.master_id},
                                     {"name", c.name},
                                     {"bytes", c.bytes},
                                     {"sha256", c.sha256},
                                     {"source", c.source},
                                     {"source_address", c.source_address}});
    }
    o["node_configs"] = std::move(configs);
    o["cluster_view"] = json::object{{"name", m.cluster_view.name},
                                     {"bytes", m.cluster_view.bytes},
                                     {"sha256", m.cluster_view.sha256}};
  }
  std::string out;
  pretty(o, out, 0);
  out.push_back('\n');
  return out;
}

boost::system::result<manifest> parse_manifest(std::string_view text, std::string* error_message) {
  field_reader r(error_message);
  boost::system::error_code ec;
  const json::value doc = json::parse(text, ec);
  if (ec) {
    r.fail_text(manifest_errc::bad_json, "manifest.json: not valid JSON (" + ec.message() + ")");
    return make_error_code(r.error());
  }
  if (!doc.is_object()) {
    r.fail_text(manifest_errc::bad_json, "manifest.json: not a JSON object");
    return make_error_code(r.error());
  }
  const json::object& o = doc.get_object();
  const std::string top;
  manifest m;

  // The format decides how to read everything else, so it is checked first.
  std::uint64_t format = 0;
  r.read(o, top, "format", format);
  if (!r.failed() && format != static_cast<std::uint64_t>(format_version))
    r.fail_text(manifest_errc::unsupported_format,
                "manifest.json: format " + std::to_string(format) +
                    " is not one this kage reads (it reads format " +
                    std::to_string(format_version) + "); use a newer kage");
  m.format = format_version;

  r.read(o, top, "kind", m.kind);
  if (!r.failed() && m.kind != "logical" && m.kind != "snapshot")
    r.fail(manifest_errc::bad_value, "kind", "must be \"logical\" or \"snapshot\"");
  const bool snapshot = m.kind == "snapshot";
  r.read(o, top, "id", m.id);
  if (!r.failed() && !valid_backup_id(m.id))
    r.fail(manifest_errc::bad_value, "id", "is not a backup id like 20261122T021155.123Z");
  r.read(o, top, "kage_version", m.kage_version);
  r.read(o, top, "started_at", m.started_at);
  if (!r.failed() && !is_rfc3339_ms(m.started_at))
    r.fail(manifest_errc::bad_value, "started_at",
           "must be a UTC time like 2026-11-22T02:11:55.123Z");
  r.read(o, top, "finished_at", m.finished_at);
  if (!r.failed() && !is_rfc3339_ms(m.finished_at))
    r.fail(manifest_errc::bad_value, "finished_at",
           "must be a UTC time like 2026-11-22T02:11:55.123Z");
  r.read(o, top, "redis_version", m.redis_version);
  r.read(o, top, "cluster", m.cluster);
  r.read_strings(o, top, "patterns", m.patterns);

  if (const json::array* a = r.array(o, top, "topology")) {
    for (std::size_t i = 0; i < a->size() && !r.failed(); ++i) {
      const std::string path = field_reader::index("topology", i);
      const json::object* t = r.object((*a)[i], path);
      if (!t) break;
      const std::string prefix = path + ".";
      topology_node n;
      r.read(*t, prefix, "id", n.id);
      r.read(*t, prefix, "address", n.address);
      r.read(*t, prefix, "role", n.role);
      if (!r.failed() && !is_role(n.role))
        r.fail(manifest_errc::bad_value, prefix + "role", "must be \"master\" or \"replica\"");
      r.read(*t, prefix, "master_id", n.master_id);
      r.read_slots(*t, prefix, n.slots);
      m.topology.push_back(std::move(n));
    }
  }

  if (const json::array* a = r.array(o, top, "objects")) {
    for (std::size_t i = 0; i < a->size() && !r.failed(); ++i) {
      const std::string path = field_reader::index("objects", i);
      const json::object* j = r.object((*a)[i], path);
      if (!j) break;
      const std::string prefix = path + ".";
      shard_object s;
      r.read(*j, prefix, "name", s.name);
      if (!r.failed() && !is_object_name(s.name))
        r.fail(manifest_errc::bad_value, prefix + "name",
               "must be a plain file name (no '/', not starting with '.')");
      r.read(*j, prefix, "master_id", s.master_id);
      r.read(*j, prefix, "master_address", s.master_address);
      r.read(*j, prefix, "read_from", s.read_from);
      r.read(*j, prefix, "read_role", s.read_role);
      if (!r.failed() && !is_role(s.read_role))
        r.fail(manifest_errc::bad_value, prefix + "read_role", "must be \"master\" or \"replica\"");
      r.read_slots(*j, prefix, s.slots);
      r.read(*j, prefix, "bytes", s.bytes);
      r.read(*j, prefix, "uncompressed_bytes", s.uncompressed_bytes);
      r.read(*j, prefix, "keys", s.keys);
      r.read(*j, prefix, "vanished", s.vanished);
      r.read(*j, prefix, "functions", s.functions);
      r.read(*j, prefix, "sha256", s.sha256);
      if (!r.failed() && !is_sha256_hex(s.sha256))
        r.fail(manifest_errc::bad_value, prefix + "sha256", "must be 64 lowercase hex digits");
      if (snapshot) {
        r.read(*j, prefix, "node_id", s.node_id);
        r.read(*j, prefix, "redis_version", s.redis_version);
        r.read(*j, prefix, "rdb_version", s.rdb_version);
        r.read(*j, prefix, "transfer", s.transfer);
        if (!r.failed() && s.transfer != "diskless" && s.transfer != "disk")
          r.fail(manifest_errc::bad_value, prefix + "transfer", "must be \"diskless\" or \"disk\"");
        r.read(*j, prefix, "started_at", s.started_at);
        if (!r.failed() && !is_rfc3339_ms(s.started_at))
          r.fail(manifest_errc::bad_value, prefix + "started_at",
                 "must be a UTC time like 2026-11-22T02:11:55.123Z");
        r.read(*j, prefix, "finished_at", s.finished_at);
        if (!r.failed() && !is_rfc3339_ms(s.finished_at))
          r.fail(manifest_errc::bad_value, prefix + "finished_at",
                 "must be a UTC time like 2026-11-22T02:11:55.123Z");
      }
      m.objects.push_back(std::move(s));
    }
  }

  r.read(o, top, "total_keys", m.total_keys);
  r.read(o, top, "total_bytes", m.total_bytes);
  r.read(o, top, "total_vanished", m.total_vanished);

  if (snapshot) {
    if (const json::array* a = r.array(o, top, "node_configs")) {
      for (std::size_t i = 0; i < a->size() && !r.failed(); ++i) {
        const std::string path = field_reader::index("node_configs", i);
        const json::object* j = r.object((*a)[i], path);
        if (!j) break;
        const std::string prefix = path + ".";
        node_config c;
        r.read(*j, prefix, "node_id", c.node_id);
        if (!r.failed() && !is_object_name(c.node_id))
          r.fail(manifest_errc::bad_value, prefix + "node_id",
                 "must be a node id (no '/', not starting with '.')");
        r.read(*j, prefix, "address", c.address);
        r.read(*j, prefix, "role", c.role);
        if (!r.failed() && !is_role(c.role))
          r.fail(manifest_errc::bad_value, prefix + "role", "must be \"master\" or \"replica\"");
        r.read(*j, prefix, "master_id", c.master_id);
        r.read(*j, prefix, "name", c.name);
        if (!r.failed() && c.name != "nodes/" + c.node_id + ".conf")
          r.fail(manifest_errc::bad_value, prefix + "name", "must be \"nodes/<node_id>.conf\"");
        r.read(*j, prefix, "bytes", c.bytes);
        r.read(*j, prefix, "sha256", c.sha256);
        if (!r.failed() && !is_sha256_hex(c.sha256))
          r.fail(manifest_errc::bad_value, prefix + "sha256", "must be 64 lowercase hex digits");
        r.read(*j, prefix, "source", c.source);
        if (!r.failed() && c.source != "self" && c.source != "peer")
          r.fail(manifest_errc::bad_value, prefix + "source", "must be \"self\" or \"peer\"");
        r.read(*j, prefix, "source_address", c.source_address);
        m.node_configs.push_back(std::move(c));
      }
    }
    const json::value* view = r.get(o, top, "cluster_view");
    if (const json::object* j = view ? r.object(*view, "cluster_view") : nullptr) {
      r.read(*j, "cluster_view.", "name", m.cluster_view.name);
      if (!r.failed() && !is_object_name(m.cluster_view.name))
        r.fail(manifest_errc::bad_value, "cluster_view.name",
               "must be a plain file name (no '/', not starting with '.')");
      r.read(*j, "cluster_view.", "bytes", m.cluster_view.bytes);
      r.read(*j, "cluster_view.", "sha256", m.cluster_view.sha256);
      if (!r.failed() && !is_sha256_hex(m.cluster_view.sha256))
        r.fail(manifest_errc::bad_value, "cluster_view.sha256", "must be 64 lowercase hex digits");
    }
  }
  if (r.failed()) return make_error_code(r.error());
  return m;
}

std::string to_json(const backup_status& st) {
  json::object o;
  o["id"] = st.id;
  o["kind"] = st.kind;
  o["phase"] = st.phase;
  o["pod"] = st.pod;
  o["startedAt"] = st.started_at;
  o["completedAt"] = st.completed_at;
  o["backupSize"] = st.backup_size;
  o["backupPath"] = st.backup_path;
  o["format"] = st.format;
  o["checksumSHA256"] = st.checksum_sha256;
  o["error"] = st.error;
  std::string out;
  pretty(o, out, 0);
  out.push_back('\n');
  return out;
}

boost::system::result<backup_status> parse_status(std::string_view text,
                                                  std::string* error_message) {
  field_reader r(error_message);
  boost::system::error_code ec;
  const json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) {
    r.fail_text(manifest_errc::bad_json, "status.json: not a JSON object");
    return make_error_code(r.error());
  }
  const json::object& o = doc.get_object();
  backup_status st;
  const std::string top;
  r.read(o, top, "id", st.id);
  r.read(o, top, "kind", st.kind);
  r.read(o, top, "phase", st.phase);
  if (!r.failed() && st.phase != "Pending" && st.phase != "Running" && st.phase != "Completed" &&
      st.phase != "Failed")
    r.fail(manifest_errc::bad_value, "phase", "must be Pending, Running, Completed or Failed");
  r.read(o, top, "pod", st.pod);
  r.read(o, top, "startedAt", st.started_at);
  r.read(o, top, "completedAt", st.completed_at);
  r.read(o, top, "backupSize", st.backup_size);
  r.read(o, top, "backupPath", st.backup_path);
  r.read(o, top, "format", st.format);
  r.read(o, top, "checksumSHA256", st.checksum_sha256);
  r.read(o, top, "error", st.error);
  if (r.failed()) {
    if (error_message && error_message->starts_with("manifest.json"))
      error_message->replace(0, 13, "status.json");
    return make_error_code(r.error());
  }
  return st;
}

std::string make_backup_id(std::int64_t unix_ms) {
  const civil_time t = to_civil(unix_ms);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02ld%02ld%02ld.%03ldZ", t.year, t.month, t.day,
                t.hours, t.minutes, t.seconds, t.millis);
  return buf;
}

std::string rfc3339_ms(std::int64_t unix_ms) {
  const civil_time t = to_civil(unix_ms);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ", t.year, t.month, t.day,
                t.hours, t.minutes, t.seconds, t.millis);
  return buf;
}

// "20261122T021155.123Z" exactly: only digits where digits go, so an id is always a safe single
// path component (no '/', no "..", no hidden names).
bool valid_backup_id(std::string_view id) noexcept {
  if (id.size() != 20 || id[8] != 'T' || id[15] != '.' || id[19] != 'Z') return false;
  if (!digits(id, 0, 8) || !digits(id, 9, 6) || !digits(id, 16, 3)) return false;
  const int month = number(id, 4, 2), day = number(id, 6, 2);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && number(id, 9, 2) <= 23 &&
         number(id, 11, 2) <= 59 && number(id, 13, 2) <= 59;
}

}  // namespace kage::storage
