// The spdlog formatter of `--log-format json`: one JSON object per line for log shippers,
//   {"time":"2026-12-01T09:30:00.123Z","level":"info","component":"worker",
//    "message":"...","fields":{"command":"worker","thread":1234,...}}
// `fields` holds the process's context (log::set_field) and the logging thread's id.
// Strings are escaped as JSON; bytes that are not UTF-8 become U+FFFD, so every line parses.
//
// Thread-safety: format() may be called from several threads at once (it only reads);
// spdlog's _mt sinks call it under their own lock anyway.
#pragma once

#include <spdlog/formatter.h>

#include <map>
#include <memory>
#include <string>

namespace auditor::log {

class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::map<std::string, std::string> fields);

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  std::map<std::string, std::string> fields_;
};

}  // namespace auditor::log
