// What a build says it is: `auditor --version` and the auditor_build_info metric every
// service's /metrics starts with name the same version (CMake's project version) and commit.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

#include "worker/common/build_info.h"
#include "worker/common/prometheus.h"

namespace auditor {
namespace {

TEST(BuildInfo, VersionIsTheProjectVersionAndTheCommitIsNamed) {
  EXPECT_EQ(build_info::version(), AUDITOR_EXPECTED_VERSION);
  EXPECT_FALSE(build_info::commit().empty());
}

TEST(BuildInfo, VersionFlagPrintsVersionAndCommit) {
  const std::unique_ptr<FILE, int (*)(FILE*)> out(popen(AUDITOR_BINARY_PATH " --version", "r"),
                                                  pclose);
  ASSERT_NE(out, nullptr);
  std::array<char, 256> line{};
  ASSERT_NE(std::fgets(line.data(), line.size(), out.get()), nullptr);
  const std::string expected = "auditor " + std::string(build_info::version()) + " (commit " +
                               std::string(build_info::commit()) + ")\n";
  EXPECT_EQ(std::string(line.data()), expected);
}

TEST(BuildInfo, MetricNamesVersionAndCommit) {
  prometheus::Writer w;
  w.build_info();
  const std::string expected = "auditor_build_info{version=\"" +
                               std::string(build_info::version()) + "\",commit=\"" +
                               std::string(build_info::commit()) + "\"} 1\n";
  EXPECT_NE(w.text().find("# TYPE auditor_build_info gauge\n"), std::string::npos) << w.text();
  EXPECT_NE(w.text().find(expected), std::string::npos) << w.text();
}

}  // namespace
}  // namespace auditor
