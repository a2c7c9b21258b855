#include <kage/storage/status.hpp>

#include "json_helpers.hpp"

namespace kage::storage {

namespace {

bool is_phase(std::string_view p) noexcept {
  return p == "Pending" || p == "Running" || p == "Completed" || p == "Failed";
}

}  // namespace

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
  return pretty(o);
}

boost::system::result<backup_status> parse_status(std::string_view text,
                                                  std::string* error_message) {
  field_reader r("status.json", error_message);
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
  r.read(o, top, "phase", st.phase, is_phase, "must be Pending, Running, Completed or Failed");
  r.read(o, top, "pod", st.pod);
  r.read(o, top, "startedAt", st.started_at);
  r.read(o, top, "completedAt", st.completed_at);
  r.read(o, top, "backupSize", st.backup_size);
  r.read(o, top, "backupPath", st.backup_path);
  r.read(o, top, "format", st.format);
  r.read(o, top, "checksumSHA256", st.checksum_sha256);
  r.read(o, top, "error", st.error);
  if (r.failed()) return make_error_code(r.error());
  return st;
}

}  // namespace kage::storage
