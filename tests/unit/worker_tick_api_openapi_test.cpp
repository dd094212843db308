// The tick API's OpenAPI document against the code that enforces it: the document is
// OpenAPI 3.1 JSON with this build's version, and every limit it states (minLength,
// maxLength, minimum, maximum, default, maxItems, required) is read from the document and
// fed to the validator at the boundary, on both sides. A limit changed on one side only
// fails here. Also the /docs page: every asset it references is embedded and open.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "worker/common/build_info.h"
#include "worker/tick_api/openapi.h"
#include "worker/tick_api/validation.h"

namespace auditor::tick_api {
namespace {

using nlohmann::json;
using Params = std::multimap<std::string, std::string>;

const json& document() {
  static const json doc = json::parse(openapi_document(false));
  return doc;
}

const json& schema(const std::string& name) {
  return document().at("components").at("schemas").at(name);
}

bool required(const std::string& field) {
  const json& names = schema("Tick").at("required");
  return std::find(names.begin(), names.end(), field) != names.end();
}

const json& query_parameter(const std::string& name) {
  for (const auto& p : document().at("paths").at("/tick").at("post").at("parameters")) {
    if (p.at("name") == name) return p;
  }
  throw std::runtime_error("no query parameter " + name);
}

std::string type_of(const Validated<TickInput>& v) {
  const auto* e = std::get_if<Errors>(&v);
  if (e == nullptr) return "ok";
  std::string types;
  for (const auto& error : *e) types += (types.empty() ? "" : ",") + error.type;
  return types;
}

// A JSON body for POST /tick with `field` set to `value`, the other fields valid.
std::string body_with(const std::string& field, const json& value) {
  json tick = {{"process_name", "p"}, {"process_activity", "a"}};
  tick[field] = value;
  return tick.dump();
}

Params query_with(const std::string& field, const std::string& value) {
  Params params{{"process_name", "p"}, {"process_activity", "a"}};
  params.erase(field);
  params.emplace(field, value);
  return params;
}

TEST(TickApiOpenApi, IsOpenApi31WithThisBuildsVersion) {
  EXPECT_EQ(document().at("openapi").get<std::string>().rfind("3.1.", 0), 0U);
  EXPECT_EQ(document().at("info").at("version"), std::string(build_info::version()));
  EXPECT_FALSE(document().at("components").contains("securitySchemes"));
  const json post_tick = document().at("paths").at("/tick").at("post");
  EXPECT_FALSE(post_tick.contains("security"));
  for (const char* status : {"200", "413", "422", "503"}) {
    EXPECT_TRUE(post_tick.at("responses").contains(status)) << status;
  }
  EXPECT_EQ(post_tick.at("responses").at("422").at("content").at("application/json").at("schema"),
            json({{"$ref", "#/components/schemas/HTTPValidationError"}}));
}

TEST(TickApiOpenApi, NamesTheBearerTokenWhereItIsRequired) {
  const json doc = json::parse(openapi_document(true));
  EXPECT_EQ(doc.at("components").at("securitySchemes").at("HTTPBearer"),
            json({{"type", "http"}, {"scheme", "bearer"}}));
  for (const char* path : {"/tick", "/ticks"}) {
    const json& op = doc.at("paths").at(path).at("post");
    EXPECT_EQ(op.at("security"), json::parse(R"([{"HTTPBearer": []}])")) << path;
    EXPECT_TRUE(op.at("responses").contains("401")) << path;
  }
  for (const char* path : {"/healthz", "/metrics"}) {
    EXPECT_FALSE(doc.at("paths").at(path).at("get").contains("security")) << path;
  }
}

TEST(TickApiOpenApi, NameLimitsAreTheValidatorsOnEitherSide) {
  for (const char* field : {"process_name", "process_activity"}) {
    const json& body = schema("Tick").at("properties").at(field);
    const json& query = query_parameter(field).at("schema");
    EXPECT_EQ(body, query) << field;
    EXPECT_TRUE(required(field));
    // ASCII: one character, one byte, so maxLength and the byte limit are the same bound.
    const auto min = body.at("minLength").get<std::size_t>();
    const auto max = body.at("maxLength").get<std::size_t>();
    EXPECT_EQ(type_of(tick_from_json(body_with(field, std::string(min, 'x')))), "ok");
    EXPECT_EQ(type_of(tick_from_json(body_with(field, std::string(max, 'x')))), "ok");
    EXPECT_EQ(type_of(tick_from_json(body_with(field, std::string(min - 1, 'x')))),
              "string_too_short");
    EXPECT_EQ(type_of(tick_from_json(body_with(field, std::string(max + 1, 'x')))),
              "string_too_long");
    EXPECT_EQ(type_of(tick_from_query(query_with(field, std::string(max, 'x')))), "ok");
    EXPECT_EQ(type_of(tick_from_query(query_with(field, std::string(min - 1, 'x')))),
              "string_too_short");
    EXPECT_EQ(type_of(tick_from_query(query_with(field, std::string(max + 1, 'x')))),
              "string_too_long");
    json missing = json::parse(body_with(field, "x"));
    missing.erase(field);
    EXPECT_EQ(type_of(tick_from_json(missing.dump())), "missing");
  }
}

TEST(TickApiOpenApi, CountLimitsAndDefaultAreTheValidators) {
  const json& body = schema("Tick").at("properties").at("count");
  const json& query = query_parameter("count").at("schema");
  for (const json& s : {body, query}) {
    EXPECT_EQ(s.at("type"), "integer");
    const auto min = s.at("minimum").get<std::int64_t>();
    const auto max = s.at("maximum").get<std::int64_t>();
    for (const auto& [value, expected] : {std::pair{min, "ok"},
                                          {max, "ok"},
                                          {min - 1, "greater_than_equal"},
                                          {max + 1, "less_than_equal"}}) {
      EXPECT_EQ(type_of(tick_from_json(body_with("count", value))), expected) << value;
      EXPECT_EQ(type_of(tick_from_query(query_with("count", std::to_string(value)))), expected)
          << value;
    }
    const auto absent = tick_from_json(R"({"process_name":"p","process_activity":"a"})");
    ASSERT_EQ(type_of(absent), "ok");
    EXPECT_EQ(std::get<TickInput>(absent).count, s.at("default").get<std::int64_t>());
  }
  EXPECT_FALSE(required("count"));
}

TEST(TickApiOpenApi, BatchLimitIsTheValidators) {
  const json& batch = document()
                          .at("paths")
                          .at("/ticks")
                          .at("post")
                          .at("requestBody")
                          .at("content")
                          .at("application/json")
                          .at("schema");
  EXPECT_EQ(batch.at("type"), "array");
  const auto max = batch.at("maxItems").get<std::size_t>();
  const json tick = {{"process_name", "p"}, {"process_activity", "a"}};
  const auto ok = ticks_from_json(json(std::vector<json>(max, tick)).dump());
  ASSERT_TRUE(std::holds_alternative<std::vector<TickInput>>(ok));
  EXPECT_EQ(std::get<std::vector<TickInput>>(ok).size(), max);
  const auto over = ticks_from_json(json(std::vector<json>(max + 1, tick)).dump());
  ASSERT_TRUE(std::holds_alternative<Errors>(over));
  EXPECT_EQ(std::get<Errors>(over).at(0).type, "too_long");
}

// The 422 body has every property ValidationError requires, and only ones it names.
TEST(TickApiOpenApi, ErrorBodiesHaveTheDocumentedShape) {
  const json& item = schema("ValidationError");
  const auto errors = std::get<Errors>(ticks_from_json(R"([{"count": 0}, 5])"));
  const json body = json::parse(error_body(errors).dump());
  ASSERT_EQ(body.at("detail").size(), 4U);  // two names missing, a count, a non-object
  for (const json& entry : body.at("detail")) {
    for (const auto& key : item.at("required"))
      EXPECT_TRUE(entry.contains(key.get<std::string>())) << entry;
    for (const auto& [key, value] : entry.items()) {
      EXPECT_TRUE(item.at("properties").contains(key)) << key;
    }
    for (const auto& part : entry.at("loc")) {
      EXPECT_TRUE(part.is_string() || part.is_number_integer()) << entry;
    }
  }
}

TEST(TickApiOpenApi, DocsPageLoadsOnlyEmbeddedOpenAssets) {
  const std::string page = docs_page();
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_NE(page.find("url: '/openapi.json'"), std::string::npos);
  const auto open = docs_paths();
  ASSERT_GE(docs_assets().size(), 3U);
  for (const auto& asset : docs_assets()) {
    const std::string path = "/docs/" + std::string(asset.name);
    EXPECT_NE(page.find(path + "?v=" + std::string(swagger_ui_version())), std::string::npos)
        << path;
    EXPECT_NE(std::find(open.begin(), open.end(), path), open.end()) << path;
    EXPECT_GT(asset.bytes.size(), 500U) << path;
  }
  EXPECT_NE(docs_assets()[0].bytes.find("SwaggerUIBundle"), std::string_view::npos);
}

}  // namespace
}  // namespace auditor::tick_api
