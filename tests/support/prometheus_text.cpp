#include "tests/support/prometheus_text.h"

#include <cmath>
#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>
#include <string_view>

namespace auditor::test {
namespace {

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}
bool is_label_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_label_char(char c) {
  return is_label_start(c) || (c >= '0' && c <= '9');
}

// A metric name at `pos`; empty when there is none.
std::string take_name(const std::string& line, std::size_t& pos) {
  const std::size_t start = pos;
  if (pos < line.size() && is_name_start(line[pos])) {
    ++pos;
    while (pos < line.size() && is_name_char(line[pos])) ++pos;
  }
  return line.substr(start, pos - start);
}

// Go's strconv.ParseFloat subset that Prometheus writes: decimal floats and the specials.
std::optional<double> parse_value(const std::string& text) {
  if (text == "+Inf" || text == "Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  if (text == "NaN") return std::nan("");
  static const std::regex number(R"([+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?)");
  if (!std::regex_match(text, number)) return std::nullopt;
  return std::strtod(text.c_str(), nullptr);
}

// HELP docstrings may escape only backslash and newline.
bool valid_help_escapes(const std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') continue;
    if (i + 1 >= text.size() || (text[i + 1] != '\\' && text[i + 1] != 'n')) return false;
    ++i;
  }
  return true;
}

// The family a sample belongs to: its own name, or the histogram/summary it is part of.
std::optional<std::string> family_of(const Exposition& e, const std::string& name) {
  if (e.families.contains(name)) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    if (!name.ends_with(suffix)) continue;
    const std::string base = name.substr(0, name.size() - std::string_view(suffix).size());
    const auto it = e.families.find(base);
    if (it != e.families.end() &&
        (it->second.type == "histogram" ||
         (it->second.type == "summary" && std::string_view(suffix) != "_bucket"))) {
      return base;
    }
  }
  return std::nullopt;
}

void check_histograms(Exposition& e) {
  for (const auto& [name, family] : e.families) {
    if (family.type != "histogram") continue;
    // Buckets grouped by their labels other than `le`.
    std::map<Labels, std::vector<const PromSample*>> groups;
    std::map<Labels, double> counts;
    std::set<Labels> sums;
    for (const std::size_t i : family.samples) {
      const PromSample& s = e.samples[i];
      Labels rest = s.labels;
      if (s.name == name + "_bucket") {
        if (rest.erase("le") == 0) {
          e.errors.push_back("line " + std::to_string(s.line) + ": " + s.name + " without le");
          continue;
        }
        groups[rest].push_back(&s);
      } else if (s.name == name + "_count") {
        counts[rest] = s.value;
      } else if (s.name == name + "_sum") {
        sums.insert(rest);
      } else {
        e.errors.push_back("line " + std::to_string(s.line) + ": histogram " + name +
                           " has a plain sample " + s.name);
      }
    }
    if (groups.empty()) e.errors.push_back("histogram " + name + " has no buckets");
    for (const auto& [labels, buckets] : groups) {
      double previous_le = -HUGE_VAL;
      double previous_value = 0;
      for (const PromSample* b : buckets) {
        const auto le = parse_value(b->labels.at("le"));
        if (!le || std::isnan(*le)) {
          e.errors.push_back("line " + std::to_string(b->line) + ": le=\"" + b->labels.at("le") +
                             "\" is not a number");
          continue;
        }
        if (*le <= previous_le) {
          e.errors.push_back("line " + std::to_string(b->line) + ": buckets of " + name +
                             " not in increasing le order");
        }
        if (b->value < previous_value) {
          e.errors.push_back("line " + std::to_string(b->line) + ": buckets of " + name +
                             " not cumulative (" + std::to_string(b->value) + " after " +
                             std::to_string(previous_value) + ")");
        }
        previous_le = *le;
        previous_value = b->value;
      }
      const PromSample* last = buckets.back();
      if (last->labels.at("le") != "+Inf") {
        e.errors.push_back("histogram " + name + ": the last bucket is le=\"" +
                           last->labels.at("le") + "\", not le=\"+Inf\"");
      }
      const auto count = counts.find(labels);
      if (count == counts.end()) {
        e.errors.push_back("histogram " + name + " has no _count");
      } else if (count->second != last->value) {
        e.errors.push_back("histogram " + name + ": _count " + std::to_string(count->second) +
                           " differs from the +Inf bucket " + std::to_string(last->value));
      }
      if (!sums.contains(labels)) e.errors.push_back("histogram " + name + " has no _sum");
    }
  }
}

}  // namespace

Exposition parse_exposition(const std::string& text) {
  Exposition e;
  auto error = [&](int line, const std::string& what) {
    e.errors.push_back("line " + std::to_string(line) + ": " + what);
  };
  if (text.empty()) {
    e.errors.push_back("empty exposition");
    return e;
  }
  if (text.back() != '\n') e.errors.push_back("the last line does not end with a newline");
  std::set<std::string> series_seen;
  std::string previous_family;
  std::set<std::string> finished_families;  // families whose samples are over
  int number = 0;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    ++number;
    if (line.empty()) continue;
    if (line.find('\r') != std::string::npos) error(number, "carriage return");
    if (line[0] == '#') {
      const bool help = line.starts_with("# HELP ");
      const bool type = line.starts_with("# TYPE ");
      if (!help && !type) continue;  // a comment
      std::size_t pos = 7;
      const std::string name = take_name(line, pos);
      if (name.empty()) {
        error(number, "no metric name after # HELP/# TYPE");
        continue;
      }
      if (help) {
        std::string doc;
        if (pos < line.size()) {
          if (line[pos] != ' ') {
            error(number, "bad metric name in HELP");
            continue;
          }
          doc = line.substr(pos + 1);
        }
        if (!valid_help_escapes(doc)) error(number, "HELP of " + name + " has a bad escape");
        PromFamily& f = e.families[name];
        if (f.help) error(number, "second HELP for " + name);
        f.help = doc;
      } else {
        if (pos >= line.size() || line[pos] != ' ') {
          error(number, "TYPE without a type");
          continue;
        }
        const std::string t = line.substr(pos + 1);
        if (t != "counter" && t != "gauge" && t != "histogram" && t != "summary" &&
            t != "untyped") {
          error(number, "unknown type '" + t + "'");
        }
        PromFamily& f = e.families[name];
        if (!f.type.empty()) error(number, "second TYPE for " + name);
        if (!f.samples.empty()) error(number, "TYPE of " + name + " after its samples");
        f.type = t;
      }
      continue;
    }
    // A sample: name{label="value",...} value [timestamp]
    std::size_t pos = 0;
    PromSample s;
    s.line = number;
    s.name = take_name(line, pos);
    if (s.name.empty()) {
      error(number, "not a sample: " + line);
      continue;
    }
    bool ok = true;
    if (pos < line.size() && line[pos] == '{') {
      ++pos;
      while (ok && pos < line.size() && line[pos] != '}') {
        const std::size_t label_start = pos;
        if (!is_label_start(line[pos])) {
          ok = false;
          break;
        }
        while (pos < line.size() && is_label_char(line[pos])) ++pos;
        const std::string label = line.substr(label_start, pos - label_start);
        if (label.starts_with("__")) error(number, "reserved label name " + label);
        if (pos + 1 >= line.size() || line[pos] != '=' || line[pos + 1] != '"') {
          ok = false;
          break;
        }
        pos += 2;
        std::string value;
        bool closed = false;
        while (pos < line.size()) {
          const char c = line[pos++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (pos >= line.size()) break;
            const char escaped = line[pos++];
            if (escaped == '\\') {
              value += '\\';
            } else if (escaped == '"') {
              value += '"';
            } else if (escaped == 'n') {
              value += '\n';
            } else {
              error(number, std::string("bad escape \\") + escaped + " in label " + label);
            }
            continue;
          }
          value += c;
        }
        if (!closed) {
          ok = false;
          break;
        }
        if (!s.labels.emplace(label, value).second) error(number, "label " + label + " twice");
        if (pos < line.size() && line[pos] == ',') ++pos;
      }
      if (ok && (pos >= line.size() || line[pos] != '}')) ok = false;
      ++pos;
    }
    if (!ok) {
      error(number, "malformed labels: " + line);
      continue;
    }
    if (pos >= line.size() || line[pos] != ' ') {
      error(number, "no space before the value: " + line);
      continue;
    }
    ++pos;
    const std::size_t space = line.find(' ', pos);
    const std::string value_text =
        line.substr(pos, space == std::string::npos ? std::string::npos : space - pos);
    const auto value = parse_value(value_text);
    if (!value) {
      error(number, "bad value '" + value_text + "'");
      continue;
    }
    s.value = *value;
    if (space != std::string::npos) {
      static const std::regex timestamp("-?[0-9]+");
      if (!std::regex_match(line.substr(space + 1), timestamp)) {
        error(number, "bad timestamp or trailing text: " + line);
      }
    }
    const auto family = family_of(e, s.name);
    if (!family || e.families.at(*family).type.empty()) {
      error(number, "sample " + s.name + " has no TYPE declared before it");
      continue;
    }
    PromFamily& f = e.families.at(*family);
    if (*family != previous_family) {
      if (!previous_family.empty()) finished_families.insert(previous_family);
      if (finished_families.contains(*family)) {
        error(number, "samples of " + *family + " are not grouped together");
      }
      previous_family = *family;
    }
    if ((f.type == "counter" || f.type == "gauge") && s.name != *family) {
      error(number, "sample " + s.name + " of " + f.type + " " + *family);
    }
    if (f.type == "counter" && (std::isnan(s.value) || s.value < 0)) {
      error(number, "counter " + s.name + " is " + value_text);
    }
    std::string series = s.name + "{";
    for (const auto& [k, v] : s.labels) series += k + "=\"" + v + "\",";
    series += "}";
    if (!series_seen.insert(series).second) error(number, "duplicate series " + series);
    f.samples.push_back(e.samples.size());
    e.samples.push_back(std::move(s));
  }
  for (const auto& [name, family] : e.families) {
    if (family.type.empty()) e.errors.push_back(name + " has a HELP but no TYPE");
  }
  check_histograms(e);
  return e;
}

// The naming conventions of https://prometheus.io/docs/practices/naming/.
std::vector<std::string> naming_problems(const Exposition& e) {
  std::vector<std::string> out;
  static const std::set<std::string> non_base_units = {
      "milliseconds", "ms",       "microseconds", "us",        "nanoseconds", "ns",
      "minutes",      "hours",    "days",         "kilobytes", "kb",          "kib",
      "megabytes",    "mb",       "mib",          "gigabytes", "gb",          "percent",
      "millis",       "kilobyte", "megabyte",     "bits"};
  for (const auto& [name, family] : e.families) {
    if (!name.starts_with("auditor_")) out.push_back(name + ": no auditor_ prefix");
    if (name.find(':') != std::string::npos) out.push_back(name + ": ':' is for recording rules");
    if (!family.help || family.help->empty()) out.push_back(name + ": no HELP text");
    if (family.type == "counter" && !name.ends_with("_total")) {
      out.push_back(name + ": a counter whose name does not end in _total");
    }
    if (family.type != "counter" && name.ends_with("_total")) {
      out.push_back(name + ": a " + family.type + " named like a counter (_total)");
    }
    std::string base = name;
    if (base.ends_with("_total")) base.resize(base.size() - 6);
    std::stringstream parts(name);
    for (std::string part; std::getline(parts, part, '_');) {
      if (non_base_units.contains(part))
        out.push_back(name + ": unit '" + part + "' is not a base unit");
    }
    for (const char* timeish : {"duration", "latency", "seconds", "time"}) {
      if (base.find(timeish) != std::string::npos && !base.ends_with("_seconds") &&
          !base.ends_with("_timestamp_seconds")) {
        out.push_back(name + ": a time without the _seconds unit suffix");
      }
    }
    for (const char* sizeish : {"memory", "bytes"}) {
      if (base.find(sizeish) != std::string::npos && !base.ends_with("_bytes")) {
        out.push_back(name + ": a size without the _bytes unit suffix");
      }
    }
  }
  return out;
}

}  // namespace auditor::test
