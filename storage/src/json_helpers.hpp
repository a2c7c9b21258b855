#pragma once
// What manifest.json and status.json share: a pretty printer with stable output, and a strict
// reader whose first problem becomes a sentence naming the field.
#include <kage/storage/manifest.hpp>

#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kage::storage {

namespace json = boost::json;

// Boost.JSON has no pretty printer. Objects one member per line; arrays of scalars on one line
// (slot ranges, patterns); other arrays one element per line. Key order is insertion order.
// Ends with a newline.
std::string pretty(const json::value& v);

json::array strings_to_json(const std::vector<std::string>& v);

// Walks the document and records the first problem as a sentence naming the field.
class field_reader {
 public:
  // document: the file named in messages ("manifest.json", "status.json").
  field_reader(std::string_view document, std::string* message)
      : document_(document), message_(message) {}

  bool failed() const noexcept { return error_ != manifest_errc{}; }
  manifest_errc error() const noexcept { return error_; }

  void fail(manifest_errc e, const std::string& path, std::string_view problem) {
    if (failed()) return;
    error_ = e;
    if (message_)
      *message_ = std::string(document_) + ": field '" + path + "' " + std::string(problem);
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

  // A string field that must also pass `valid`; else bad_value, saying `problem`.
  void read(const json::object& o, const std::string& prefix, std::string_view name,
            std::string& out, bool (*valid)(std::string_view), std::string_view problem) {
    read(o, prefix, name, out);
    if (!failed() && !valid(out))
      fail(manifest_errc::bad_value, prefix + std::string(name), problem);
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
  std::string_view document_;
  std::string* message_;
  manifest_errc error_{};
};

// Calls each(element, "name[i].") for every object in array field `name`, until a problem.
template <class Each>
void for_each_object(field_reader& r, const json::object& o, std::string_view name, Each each) {
  const json::array* a = r.array(o, "", name);
  if (!a) return;
  for (std::size_t i = 0; i < a->size() && !r.failed(); ++i) {
    const std::string path = field_reader::index(std::string(name), i);
    const json::object* element = r.object((*a)[i], path);
    if (!element) return;
    each(*element, path + ".");
  }
}

}  // namespace kage::storage
