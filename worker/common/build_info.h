// What this binary is: the release version (CMake's project version) and the git commit it
// was built from ("unknown" outside a git checkout unless AUDITOR_COMMIT was given).
// Shown by `auditor --version`, the start-up log line and the auditor_build_info metric.
#pragma once

#include <string_view>

namespace auditor::build_info {

std::string_view version();
std::string_view commit();

}  // namespace auditor::build_info
