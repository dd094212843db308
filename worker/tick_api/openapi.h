// The tick API's contract as FastAPI served it for the seed API: GET /openapi.json (OpenAPI
// 3.1) and a Swagger UI page at GET /docs whose assets the binary embeds (no CDN: the page
// works offline). Pure: the routes are in command.cpp.
//
// The document is worker/tick_api/openapi.json with this build's version and, when a
// bearer token is required, FastAPI's `HTTPBearer` security scheme and the 401 answer on
// the operations that need it. Its limits (minLength, maxLength, minimum, maximum,
// maxItems) are validation.h's: tests/unit/worker_tick_api_openapi_test.cpp feeds the
// document's bounds to the validator.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "worker/tick_api/embedded.h"

namespace auditor::tick_api {

// The JSON text of GET /openapi.json. Throws nlohmann::json::exception only if the
// embedded document is not JSON (a build defect the unit test catches).
[[nodiscard]] std::string openapi_document(bool bearer_auth);

// The HTML of GET /docs: Swagger UI reading /openapi.json, its assets from /docs/<name>.
[[nodiscard]] std::string docs_page();

// The paths GET serves without a token (the contract is no secret, like /healthz):
// /openapi.json, /docs and each asset's path.
[[nodiscard]] std::vector<std::string> docs_paths();

}  // namespace auditor::tick_api
