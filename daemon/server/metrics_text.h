// The Prometheus text exposition format (version 0.0.4), written once here
// for every metric the daemon exports.
//
// A family is opened with its HELP and TYPE lines and its samples follow it;
// the writer escapes label values and HELP text and formats numbers the way
// Prometheus parses them. It does not check names or that a family's samples
// stay together: the callers are fixed code, and promtool checks the result
// in the tests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "common/histogram.h"

namespace raftdns::server {

using MetricLabel = std::pair<std::string_view, std::string_view>;
using MetricLabels = std::initializer_list<MetricLabel>;

class MetricsText {
 public:
  enum class Type { counter, gauge, histogram };

  // HELP and TYPE lines. A counter's family is named as its samples are
  // (with _total, as the 0.0.4 text format wants); a histogram's without
  // the _bucket/_sum/_count suffixes.
  void family(std::string_view name, Type type, std::string_view help);
  void sample(std::string_view name, MetricLabels labels, uint64_t value);
  void sample(std::string_view name, MetricLabels labels, double value);
  // _bucket (cumulative, with le), _sum and _count samples of a histogram.
  void histogram(std::string_view name, MetricLabels labels,
                 const LatencyHistogram::Snapshot& h);

  // Family and one unlabelled sample in one call.
  void counter(std::string_view name, std::string_view help, uint64_t value);
  void gauge(std::string_view name, std::string_view help, double value);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void start_sample(std::string_view name, MetricLabels labels, std::string_view extra_name = {},
                    std::string_view extra_value = {});
  std::string out_;
};

// Prometheus's spelling of a float: shortest round-trip form, +Inf, -Inf, NaN.
std::string format_metric_value(double value);

}  // namespace raftdns::server
