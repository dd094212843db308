#include "worker/tick_api/openapi.h"

#include <nlohmann/json.hpp>

#include "worker/common/build_info.h"

namespace auditor::tick_api {
namespace {

using nlohmann::ordered_json;

constexpr std::string_view kDocsPrefix = "/docs/";

// The versioned URL of an asset: a new binary (new Swagger UI) means new URLs, so the
// assets can be cached for a year.
std::string asset_url(std::string_view name) {
  return std::string(kDocsPrefix) + std::string(name) + "?v=" + std::string(swagger_ui_version());
}

}  // namespace

std::string openapi_document(bool bearer_auth) {
  auto doc = ordered_json::parse(openapi_template());
  doc["info"]["version"] = build_info::version();
  if (bearer_auth) {
    doc["components"]["securitySchemes"]["HTTPBearer"] = {{"type", "http"}, {"scheme", "bearer"}};
    for (auto& [path, item] : doc["paths"].items()) {
      for (auto& [method, operation] : item.items()) {
        // Only what http/server.h's open paths leave out needs the token.
        if (path == "/healthz" || path == "/readyz" || path == "/metrics") continue;
        operation["security"] = ordered_json::array({{{"HTTPBearer", ordered_json::array()}}});
        operation["responses"]["401"] = {
            {"description", "No token, or not the right one (FastAPI's HTTPBearer wording)"},
            {"headers",
             {{"WWW-Authenticate", {{"description", "Bearer"}, {"schema", {{"type", "string"}}}}}}},
            {"content",
             {{"application/json", {{"schema", {{"$ref", "#/components/schemas/HTTPError"}}}}}}}};
      }
    }
  }
  return doc.dump();
}

std::string docs_page() {
  // FastAPI's get_swagger_ui_html, with local assets and no validator badge (which would
  // send the document to validator.swagger.io).
  return R"(<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<link type="text/css" rel="stylesheet" href=")" +
         asset_url("swagger-ui.css") + R"(">
<link rel="shortcut icon" href=")" +
         asset_url("favicon-32x32.png") + R"(">
<title>auditor tick API - Swagger UI</title>
</head>
<body>
<div id="swagger-ui"></div>
<script src=")" +
         asset_url("swagger-ui-bundle.js") +
         R"("></script>
<script>
const ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  layout: 'BaseLayout',
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
})
</script>
</body>
</html>
)";
}

std::vector<std::string> docs_paths() {
  std::vector<std::string> paths{"/openapi.json", "/docs"};
  for (const auto& asset : docs_assets()) {
    paths.push_back(std::string(kDocsPrefix) + std::string(asset.name));
  }
  return paths;
}

}  // namespace auditor::tick_api
