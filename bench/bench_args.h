// Command-line options of the benchmark tools (bench_tool, auditor_bench_pipeline):
// --name value pairs, each tool asking for the ones it knows; and the one way they fail.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "topology/duration.h"

namespace bench {

[[noreturn]] inline void fail(const std::string& message) {
  std::cerr << "bench: error: " << message << "\n";
  std::exit(1);
}

// --name value pairs; flags without a value are not used by any subcommand.
class Args {
 public:
  Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0) fail("unexpected argument " + key);
      if (i + 1 >= argc) fail(key + " needs a value");
      values_[key.substr(2)].push_back(argv[++i]);
    }
  }
  std::string str(const std::string& k, std::optional<std::string> fallback = std::nullopt) const {
    used_.insert(k);
    const auto it = values_.find(k);
    if (it != values_.end()) return it->second.back();
    if (!fallback) fail("--" + k + " is required");
    return *fallback;
  }
  std::vector<std::string> all(const std::string& k) const {
    used_.insert(k);
    const auto it = values_.find(k);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }
  std::int64_t integer(const std::string& k,
                       std::optional<std::int64_t> fallback = std::nullopt) const {
    const std::string s =
        str(k, fallback ? std::optional(std::to_string(*fallback)) : std::nullopt);
    try {
      std::size_t pos = 0;
      const auto v = std::stoll(s, &pos);
      if (pos != s.size()) throw std::invalid_argument(s);
      return v;
    } catch (const std::exception&) {
      fail("--" + k + ": not an integer: " + s);
    }
  }
  double number(const std::string& k, double fallback) const {
    const std::string s = str(k, std::to_string(fallback));
    try {
      return std::stod(s);
    } catch (const std::exception&) {
      fail("--" + k + ": not a number: " + s);
    }
  }
  std::int64_t duration_ms(const std::string& k, const std::string& fallback) const {
    const auto d = auditor::parse_duration(str(k, fallback));
    if (!d) fail("--" + k + ": not a duration like 30s, 5m, 3h");
    return d->value;
  }
  // Unknown options are mistakes (a typo would silently change a benchmark).
  void check_all_used() const {
    for (const auto& [k, v] : values_) {
      if (!used_.contains(k)) fail("unknown option --" + k);
    }
  }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  mutable std::set<std::string> used_;
};

}  // namespace bench
