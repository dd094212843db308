// A fixture for tests that read options from the environment and from files: it owns every
// AUDITOR_* variable (the outer environment's are put aside and restored afterwards, the
// ones a test sets are removed) and a scratch directory, deleted afterwards.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

extern char** environ;

namespace auditor::test {

class IsolatedEnvironment : public testing::Test {
 protected:
  void SetUp() override {
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry(*e);
      if (entry.rfind("AUDITOR_", 0) == 0) saved_.push_back(entry);
    }
    for (const auto& entry : saved_) unsetenv(entry.substr(0, entry.find('=')).c_str());
    dir_ = std::filesystem::temp_directory_path() /
           ("auditor-unit-" + std::to_string(getpid()) + "-" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }

  void TearDown() override {
    for (const auto& name : set_) unsetenv(name.c_str());
    for (const auto& entry : saved_) {
      const auto eq = entry.find('=');
      setenv(entry.substr(0, eq).c_str(), entry.substr(eq + 1).c_str(), 1);
    }
    std::filesystem::remove_all(dir_);
  }

  void set_env(const std::string& name, const std::string& value) {
    setenv(name.c_str(), value.c_str(), 1);
    set_.push_back(name);
  }
  static void unset_env(const std::string& name) { unsetenv(name.c_str()); }

  // Writes `content` to `name` in the scratch directory; its path.
  std::string write_file(const std::string& name, const std::string& content) {
    const auto path = dir_ / name;
    std::ofstream(path) << content;
    return path.string();
  }

  std::filesystem::path dir_;

 private:
  std::vector<std::string> saved_;
  std::vector<std::string> set_;
};

}  // namespace auditor::test
