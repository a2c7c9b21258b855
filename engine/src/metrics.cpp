#include <kage/engine/metrics.hpp>

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace kage::engine {

void metrics_registry::describe(std::string name, std::string type, std::string help) {
  families_.push_back({std::move(name), std::move(type), std::move(help), {}, {}, {}});
}

void metrics_registry::describe_histogram(std::string name, std::string help,
                                          std::vector<double> bounds) {
  families_.push_back({std::move(name), "histogram", std::move(help), {}, std::move(bounds), {}});
}

metrics_registry::family& metrics_registry::find(std::string_view name) {
  for (auto& f : families_)
    if (f.name == name) return f;
  throw std::logic_error("metric not described: " + std::string(name));
}

void metrics_registry::set(std::string_view name, const metric_labels& labels, double value) {
  find(name).samples[labels] = value;
}

void metrics_registry::add(std::string_view name, const metric_labels& labels, double delta) {
  find(name).samples[labels] += delta;
}

void metrics_registry::observe(std::string_view name, const metric_labels& labels, double value) {
  auto& f = find(name);
  if (f.type != "histogram") throw std::logic_error("not a histogram: " + f.name);
  auto& h = f.histograms[labels];
  h.counts.resize(f.bounds.size());
  for (std::size_t i = 0; i < f.bounds.size(); ++i)
    if (value <= f.bounds[i]) {
      ++h.counts[i];
      break;
    }
  h.sum += value;
  ++h.count;
}

double metrics_registry::value(std::string_view name, const metric_labels& labels) const {
  for (const auto& f : families_) {
    if (f.name != name) continue;
    auto it = f.samples.find(labels);
    return it == f.samples.end() ? 0 : it->second;
  }
  return 0;
}

std::string prometheus_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::to_chars_result r;
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
  else
    r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string prometheus_escape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

namespace {
// HELP text escapes only backslash and newline.
std::string help_escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void render_sample(std::string& out, std::string_view name, const metric_labels& labels,
                   double value) {
  out += name;
  if (!labels.empty()) {
    out += "{";
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i) out += ",";
      out += labels[i].first + "=\"" + prometheus_escape(labels[i].second) + "\"";
    }
    out += "}";
  }
  out += " " + prometheus_number(value) + "\n";
}
}  // namespace

std::string metrics_registry::render() const {
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP " + f.name + " " + help_escape(f.help) + "\n";
    out += "# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& [labels, value] : f.samples) render_sample(out, f.name, labels, value);
    for (const auto& [labels, h] : f.histograms) {
      metric_labels with_le = labels;
      with_le.emplace_back("le", "");
      double cumulative = 0;
      for (std::size_t i = 0; i < f.bounds.size(); ++i) {
        cumulative += h.counts[i];
        with_le.back().second = prometheus_number(f.bounds[i]);
        render_sample(out, f.name + "_bucket", with_le, cumulative);
      }
      with_le.back().second = "+Inf";
      render_sample(out, f.name + "_bucket", with_le, h.count);
      render_sample(out, f.name + "_sum", labels, h.sum);
      render_sample(out, f.name + "_count", labels, h.count);
    }
  }
  return out;
}

}  // namespace kage::engine
