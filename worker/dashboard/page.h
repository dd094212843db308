// The dashboard's single page (HTML, CSS and JS in one), generated at build time from
// worker/dashboard/index.html.
#pragma once

#include <string_view>

namespace auditor::dashboard {

extern const std::string_view kPage;

}  // namespace auditor::dashboard
