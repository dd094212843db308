#include "tests/support/second_broker.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "tests/support/harness.h"

namespace auditor::test {
namespace {

std::string env_or(const std::string& name, const std::string& fallback) {
  const char* v = std::getenv(name.c_str());
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return c == '-' ? '_' : static_cast<char>(std::toupper(c));
  });
  return s;
}

}  // namespace

SecondBroker::SecondBroker(std::string name, int port, std::string host, bool secure)
    : name_(std::move(name)),
      home_(env_or("AUDITOR_" + upper(name_) + "_HOME", (it::work_dir() / name_).string())),
      host_(std::move(host)),
      port_(env_or("AUDITOR_" + upper(name_) + "_PORT", std::to_string(port))),
      controller_port_(std::to_string(std::stoi(port_) + 1)),
      secure_(secure) {}

SecondBroker::~SecondBroker() {
  (void)run("stop");
}

std::string SecondBroker::run(const std::string& action) {
  std::filesystem::create_directories(home_);
  std::vector<std::string> args = {"AUDITOR_KAFKA_HOME=" + home_, "AUDITOR_KAFKA_HOST=" + host_,
                                   "AUDITOR_KAFKA_PORT=" + port_,
                                   "AUDITOR_KAFKA_CONTROLLER_PORT=" + controller_port_};
  if (secure_) {
    args.push_back("AUDITOR_KAFKA_INTERNAL_PORT=" + std::to_string(std::stoi(port_) + 2));
  }
  for (const char* a : {"bash", AUDITOR_KAFKA_SCRIPT}) args.emplace_back(a);
  args.push_back(action);
  if (secure_) args.emplace_back("--secure");
  ChildProcess script("/usr/bin/env", args,
                      it::work_dir() / "logs" / (name_ + "-" + action + ".log"));
  // The first start may download the broker jars.
  const auto status = script.wait(deadline_in(std::chrono::seconds(600)));
  if (status && status->clean()) return "";
  return "kafka.sh " + action + " (" + name_ + ") failed:\n" + script.log_tail();
}

}  // namespace auditor::test
