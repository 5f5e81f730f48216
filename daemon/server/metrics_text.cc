// Prometheus text exposition writer.
#include "daemon/server/metrics_text.h"

#include <charconv>
#include <cmath>

namespace raftdns::server {
namespace {

// HELP text escapes backslash and newline; label values also the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

const char* type_name(MetricsText::Type t) {
  switch (t) {
    case MetricsText::Type::counter:
      return "counter";
    case MetricsText::Type::gauge:
      return "gauge";
    case MetricsText::Type::histogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  return ec == std::errc{} ? std::string(buf, end) : std::string("NaN");
}

void MetricsText::family(std::string_view name, Type type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
}

void MetricsText::start_sample(std::string_view name, MetricLabels labels,
                               std::string_view extra_name, std::string_view extra_value) {
  out_ += name;
  if (labels.size() == 0 && extra_name.empty()) {
    out_ += ' ';
    return;
  }
  out_ += '{';
  bool first = true;
  auto add = [&](std::string_view k, std::string_view v) {
    if (!first) out_ += ',';
    first = false;
    out_ += k;
    out_ += "=\"";
    append_escaped(out_, v, true);
    out_ += '"';
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (!extra_name.empty()) add(extra_name, extra_value);
  out_ += "} ";
}

void MetricsText::sample(std::string_view name, MetricLabels labels, uint64_t value) {
  start_sample(name, labels);
  out_ += std::to_string(value);
  out_ += '\n';
}

void MetricsText::sample(std::string_view name, MetricLabels labels, double value) {
  start_sample(name, labels);
  out_ += format_metric_value(value);
  out_ += '\n';
}

void MetricsText::histogram(std::string_view name, MetricLabels labels,
                            const LatencyHistogram::Snapshot& h) {
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t b = 0; b < LatencyHistogram::kBounds.size(); ++b) {
    cumulative += h.buckets[b];
    start_sample(bucket, labels, "le", format_metric_value(LatencyHistogram::kBounds[b]));
    out_ += std::to_string(cumulative);
    out_ += '\n';
  }
  cumulative += h.buckets.back();
  start_sample(bucket, labels, "le", "+Inf");
  out_ += std::to_string(cumulative);
  out_ += '\n';
  sample(std::string(name) + "_sum", labels, h.sum_seconds);
  // The count is the +Inf bucket, so the two always agree within a scrape.
  sample(std::string(name) + "_count", labels, cumulative);
}

void MetricsText::counter(std::string_view name, std::string_view help, uint64_t value) {
  family(name, Type::counter, help);
  sample(name, {}, value);
}

void MetricsText::gauge(std::string_view name, std::string_view help, double value) {
  family(name, Type::gauge, help);
  sample(name, {}, value);
}

}  // namespace raftdns::server
