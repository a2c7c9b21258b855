#include <kage/storage/manifest.hpp>

#include <algorithm>

#include "json_helpers.hpp"

namespace kage::storage {

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

json::array slots_to_json(const std::vector<slot_range>& slots) {
  json::array a;
  a.reserve(slots.size());
  for (const auto& r : slots) a.push_back(json::array{r.first, r.last});
  return a;
}

void read_slots(field_reader& r, const json::object& o, const std::string& prefix,
                std::vector<slot_range>& out) {
  const json::array* a = r.array(o, prefix, "slots");
  if (!a) return;
  for (std::size_t i = 0; i < a->size(); ++i) {
    const auto& v = (*a)[i];
    const std::string path = field_reader::index(prefix + "slots", i);
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    if (!v.is_array() || v.get_array().size() != 2 ||
        !field_reader::as_uint(v.get_array()[0], first) ||
        !field_reader::as_uint(v.get_array()[1], last))
      return r.fail(manifest_errc::wrong_type, path, "must be a [first, last] pair of integers");
    if (first > last || last > max_slot)
      return r.fail(manifest_errc::bad_value, path, "must satisfy 0 <= first <= last <= 16383");
    out.push_back({static_cast<int>(first), static_cast<int>(last)});
  }
}

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

constexpr std::string_view role_problem = "must be \"master\" or \"replica\"";
constexpr std::string_view sha256_problem = "must be 64 lowercase hex digits";
constexpr std::string_view time_problem = "must be a UTC time like 2026-11-22T02:11:55.123Z";
constexpr std::string_view file_name_problem =
    "must be a plain file name (no '/', not starting with '.')";

void read_topology(field_reader& r, const json::object& o, manifest& m) {
  for_each_object(r, o, "topology", [&](const json::object& t, const std::string& prefix) {
    topology_node n;
    r.read(t, prefix, "id", n.id);
    r.read(t, prefix, "address", n.address);
    r.read(t, prefix, "role", n.role, is_role, role_problem);
    r.read(t, prefix, "master_id", n.master_id);
    read_slots(r, t, prefix, n.slots);
    m.topology.push_back(std::move(n));
  });
}

// Kind "snapshot": where the RDB came from.
void read_snapshot_source(field_reader& r, const json::object& j, const std::string& prefix,
                          shard_object& s) {
  r.read(j, prefix, "node_id", s.node_id);
  r.read(j, prefix, "redis_version", s.redis_version);
  r.read(j, prefix, "rdb_version", s.rdb_version);
  r.read(
      j, prefix, "transfer", s.transfer,
      [](std::string_view t) { return t == "diskless" || t == "disk"; },
      "must be \"diskless\" or \"disk\"");
  r.read(j, prefix, "started_at", s.started_at, valid_rfc3339_ms, time_problem);
  r.read(j, prefix, "finished_at", s.finished_at, valid_rfc3339_ms, time_problem);
}

void read_objects(field_reader& r, const json::object& o, bool snapshot, manifest& m) {
  for_each_object(r, o, "objects", [&](const json::object& j, const std::string& prefix) {
    shard_object s;
    r.read(j, prefix, "name", s.name, is_object_name, file_name_problem);
    r.read(j, prefix, "master_id", s.master_id);
    r.read(j, prefix, "master_address", s.master_address);
    r.read(j, prefix, "read_from", s.read_from);
    r.read(j, prefix, "read_role", s.read_role, is_role, role_problem);
    read_slots(r, j, prefix, s.slots);
    r.read(j, prefix, "bytes", s.bytes);
    r.read(j, prefix, "uncompressed_bytes", s.uncompressed_bytes);
    r.read(j, prefix, "keys", s.keys);
    r.read(j, prefix, "vanished", s.vanished);
    r.read(j, prefix, "functions", s.functions);
    r.read(j, prefix, "sha256", s.sha256, is_sha256_hex, sha256_problem);
    if (snapshot) read_snapshot_source(r, j, prefix, s);
    m.objects.push_back(std::move(s));
  });
}

void read_node_configs(field_reader& r, const json::object& o, manifest& m) {
  for_each_object(r, o, "node_configs", [&](const json::object& j, const std::string& prefix) {
    node_config c;
    r.read(j, prefix, "node_id", c.node_id, is_object_name,
           "must be a node id (no '/', not starting with '.')");
    r.read(j, prefix, "address", c.address);
    r.read(j, prefix, "role", c.role, is_role, role_problem);
    r.read(j, prefix, "master_id", c.master_id);
    r.read(j, prefix, "name", c.name);
    if (!r.failed() && c.name != "nodes/" + c.node_id + ".conf")
      r.fail(manifest_errc::bad_value, prefix + "name", "must be \"nodes/<node_id>.conf\"");
    r.read(j, prefix, "bytes", c.bytes);
    r.read(j, prefix, "sha256", c.sha256, is_sha256_hex, sha256_problem);
    r.read(
        j, prefix, "source", c.source,
        [](std::string_view s) { return s == "self" || s == "peer"; },
        "must be \"self\" or \"peer\"");
    r.read(j, prefix, "source_address", c.source_address);
    m.node_configs.push_back(std::move(c));
  });
}

void read_cluster_view(field_reader& r, const json::object& o, manifest& m) {
  const json::value* view = r.get(o, "", "cluster_view");
  const json::object* j = view ? r.object(*view, "cluster_view") : nullptr;
  if (!j) return;
  r.read(*j, "cluster_view.", "name", m.cluster_view.name, is_object_name, file_name_problem);
  r.read(*j, "cluster_view.", "bytes", m.cluster_view.bytes);
  r.read(*j, "cluster_view.", "sha256", m.cluster_view.sha256, is_sha256_hex, sha256_problem);
}

bool is_pod_object_name(std::string_view s) noexcept {
  return s.starts_with("pods/") && s.ends_with(".nodes.conf") && is_object_name(s.substr(5));
}

// Optional: manifests written before --pods (or without it) have no "pod_node_configs".
void read_pod_node_configs(field_reader& r, const json::object& o, manifest& m) {
  if (r.failed() || !o.contains("pod_node_configs")) return;
  for_each_object(r, o, "pod_node_configs", [&](const json::object& j, const std::string& prefix) {
    pod_node_config c;
    r.read(j, prefix, "pod", c.pod, is_object_name,
           "must be a pod name (no '/', not starting with '.')");
    r.read(j, prefix, "path", c.path);
    r.read(j, prefix, "node_id", c.node_id);
    r.read(j, prefix, "error", c.error);
    r.read(j, prefix, "name", c.name);
    r.read(j, prefix, "bytes", c.bytes);
    r.read(j, prefix, "sha256", c.sha256);
    if (r.failed()) return;
    if (c.error.empty()) {
      if (c.name != "pods/" + c.pod + ".nodes.conf" || !is_pod_object_name(c.name))
        r.fail(manifest_errc::bad_value, prefix + "name", "must be \"pods/<pod>.nodes.conf\"");
      else if (!is_sha256_hex(c.sha256))
        r.fail(manifest_errc::bad_value, prefix + "sha256", sha256_problem);
    } else if (!c.name.empty() || !c.sha256.empty()) {
      r.fail(manifest_errc::bad_value, prefix + "name",
             "must be empty when the pod's nodes.conf could not be read");
    }
    m.pod_node_configs.push_back(std::move(c));
  });
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
  if (!m.pod_node_configs.empty()) {
    json::array pods;
    for (const auto& c : m.pod_node_configs) {
      pods.push_back(json::object{{"pod", c.pod},
                                  {"path", c.path},
                                  {"node_id", c.node_id},
                                  {"name", c.name},
                                  {"bytes", c.bytes},
                                  {"sha256", c.sha256},
                                  {"error", c.error}});
    }
    o["pod_node_configs"] = std::move(pods);
  }
  return pretty(o);
}

boost::system::result<manifest> parse_manifest(std::string_view text, std::string* error_message) {
  field_reader r("manifest.json", error_message);
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

  r.read(
      o, top, "kind", m.kind, [](std::string_view k) { return k == "logical" || k == "snapshot"; },
      "must be \"logical\" or \"snapshot\"");
  const bool snapshot = m.kind == "snapshot";
  r.read(o, top, "id", m.id, valid_backup_id, "is not a backup id like 20261122T021155.123Z");
  r.read(o, top, "kage_version", m.kage_version);
  r.read(o, top, "started_at", m.started_at, valid_rfc3339_ms, time_problem);
  r.read(o, top, "finished_at", m.finished_at, valid_rfc3339_ms, time_problem);
  r.read(o, top, "redis_version", m.redis_version);
  r.read(o, top, "cluster", m.cluster);
  r.read_strings(o, top, "patterns", m.patterns);
  read_topology(r, o, m);
  read_objects(r, o, snapshot, m);
  r.read(o, top, "total_keys", m.total_keys);
  r.read(o, top, "total_bytes", m.total_bytes);
  r.read(o, top, "total_vanished", m.total_vanished);
  if (snapshot) {
    read_node_configs(r, o, m);
    read_cluster_view(r, o, m);
  }
  read_pod_node_configs(r, o, m);
  if (r.failed()) return make_error_code(r.error());
  return m;
}

}  // namespace kage::storage
