#include "worker/common/prometheus.h"

#include <cmath>
#include <cstdio>

#include "worker/common/build_info.h"

namespace auditor::prometheus {
namespace {

void append_escaped(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

std::string format_value(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char buf[64];
  // Integers print without exponent; others with 15 significant digits.
  if (value == std::floor(value) && std::fabs(value) < 9e15) {
    std::snprintf(buf, sizeof buf, "%.0f", value);
  } else {
    std::snprintf(buf, sizeof buf, "%.15g", value);
  }
  return buf;
}

}  // namespace

void Histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros.fetch_add(static_cast<std::uint64_t>(std::max(0.0, seconds) * 1e6),
                       std::memory_order_relaxed);
}

void Writer::header(std::string_view name, std::string_view help, std::string_view type) {
  if (declared_.contains(name)) return;
  declared_.emplace(name);
  text_.append("# HELP ").append(name).append(" ").append(help).append("\n");
  text_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Writer::sample(std::string_view name, Labels labels, double value) {
  text_.append(name);
  if (labels.size() > 0) {
    text_ += '{';
    bool first = true;
    for (const auto& [key, label_value] : labels) {
      if (!first) text_ += ',';
      first = false;
      text_.append(key).append("=\"");
      append_escaped(text_, label_value);
      text_ += '"';
    }
    text_ += '}';
  }
  text_.append(" ").append(format_value(value)).append("\n");
}

void Writer::counter(std::string_view name, std::string_view help, double value, Labels labels) {
  header(name, help, "counter");
  sample(name, labels, value);
}

void Writer::gauge(std::string_view name, std::string_view help, double value, Labels labels) {
  header(name, help, "gauge");
  sample(name, labels, value);
}

void Writer::histogram(std::string_view name, std::string_view help, const Histogram& h) {
  header(name, help, "histogram");
  const std::string base(name);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < Histogram::kBounds.size(); ++i) {
    cumulative += h.buckets[i].load(std::memory_order_relaxed);
    const std::string le = format_value(Histogram::kBounds[i]);
    sample(base + "_bucket", {{"le", le}}, static_cast<double>(cumulative));
  }
  const auto count =
      cumulative + h.buckets[Histogram::kBounds.size()].load(std::memory_order_relaxed);
  sample(base + "_bucket", {{"le", "+Inf"}}, static_cast<double>(count));
  sample(base + "_sum", {},
         static_cast<double>(h.sum_micros.load(std::memory_order_relaxed)) / 1e6);
  sample(base + "_count", {}, static_cast<double>(count));
}

void Writer::build_info() {
  gauge("auditor_build_info", "The running build: version and git commit; always 1", 1,
        {{"version", build_info::version()}, {"commit", build_info::commit()}});
}

}  // namespace auditor::prometheus
