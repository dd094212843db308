// The files the tick API embeds (worker/tick_api/embed.cmake generates their definitions):
// its OpenAPI document as checked in, and the Swagger UI assets of its /docs page. The
// views point into the binary's read-only data: valid for the program's life.
#pragma once

#include <string_view>
#include <vector>

namespace auditor::tick_api {

struct DocsAsset {
  std::string_view name;          // served at /docs/<name>
  std::string_view content_type;  // its Content-Type
  std::string_view bytes;
};

// worker/tick_api/openapi.json, byte for byte (openapi.h completes it).
[[nodiscard]] std::string_view openapi_template();
// The swagger-ui-dist version the assets come from.
[[nodiscard]] std::string_view swagger_ui_version();
[[nodiscard]] const std::vector<DocsAsset>& docs_assets();

}  // namespace auditor::tick_api
