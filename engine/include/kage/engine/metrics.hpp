#pragma once
// Metrics of a long-running kage (`kage run`), rendered in the Prometheus text exposition
// format (version 0.0.4). Sans-IO: the HTTP server only serves what render() returns.
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kage::engine {

using metric_labels = std::vector<std::pair<std::string, std::string>>;

class metrics_registry {
 public:
  // Declares a family; its samples render in declaration order. type: counter | gauge.
  void describe(std::string name, std::string type, std::string help);
  // Declares a histogram family with these upper bounds (ascending; +Inf is implied).
  void describe_histogram(std::string name, std::string help, std::vector<double> bounds);

  void set(std::string_view name, const metric_labels& labels, double value);
  void add(std::string_view name, const metric_labels& labels, double delta = 1);
  // One observation of a histogram; a sample never observed renders nothing.
  void observe(std::string_view name, const metric_labels& labels, double value);
  // 0 for a sample never set.
  double value(std::string_view name, const metric_labels& labels = {}) const;

  std::string render() const;

 private:
  struct histogram {
    std::vector<double> counts;  // per bound, not cumulative; +Inf is `count`
    double sum = 0, count = 0;
  };
  struct family {
    std::string name, type, help;
    std::map<metric_labels, double> samples;
    std::vector<double> bounds;  // histograms only
    std::map<metric_labels, histogram> histograms;
  };
  family& find(std::string_view name);
  std::vector<family> families_;
};

// Prometheus number text: integers without exponent, NaN, +Inf, -Inf.
std::string prometheus_number(double v);
// A label value with \ " and newline escaped.
std::string prometheus_escape(std::string_view v);

}  // namespace kage::engine
