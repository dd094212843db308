// `--log-format json` (worker/common/log_json_formatter.h): every line one JSON object with
// time, level, component, message and fields, whatever bytes the message holds.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "worker/common/log_json_formatter.h"

namespace auditor::log {
namespace {

nlohmann::json format(const JsonFormatter& formatter, spdlog::level::level_enum level,
                      std::string_view message) {
  const spdlog::details::log_msg msg(spdlog::source_loc{}, "store", level,
                                     spdlog::string_view_t(message.data(), message.size()));
  spdlog::memory_buf_t out;
  formatter.clone()->format(msg, out);
  const std::string line(out.data(), out.size());
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line, ended by a newline: " << line;
  return nlohmann::json::parse(line);
}

TEST(LogJson, OneObjectWithTimeLevelComponentMessageAndFields) {
  const JsonFormatter formatter({{"command", "worker"}, {"instance_id", "a"}});
  const auto line = format(formatter, spdlog::level::warn, "task 3 restored in 0.8 s");
  EXPECT_TRUE(std::regex_match(line.at("time").get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << line;
  EXPECT_EQ(line.at("level"), "warning");
  EXPECT_EQ(line.at("component"), "store");
  EXPECT_EQ(line.at("message"), "task 3 restored in 0.8 s");
  EXPECT_EQ(line.at("fields").at("command"), "worker");
  EXPECT_EQ(line.at("fields").at("instance_id"), "a");
  EXPECT_TRUE(line.at("fields").at("thread").is_number_unsigned()) << line;
}

TEST(LogJson, QuotesControlCharactersAndInvalidUtf8StayOneParsableLine) {
  const JsonFormatter formatter({});
  const std::string message = "bad record \"x\"\n\tat \\ offset 7: \xff\xfe end";
  const auto line = format(formatter, spdlog::level::err, message);
  EXPECT_EQ(line.at("level"), "error");
  EXPECT_EQ(line.at("message"), "bad record \"x\"\n\tat \\ offset 7: \xef\xbf\xbd\xef\xbf\xbd end");
}

}  // namespace
}  // namespace auditor::log
