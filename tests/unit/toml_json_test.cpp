// The one TOML -> JSON conversion shared by lab files and sim files (src/config/toml_json.hpp).
#include <gtest/gtest.h>

#include "config/toml_json.hpp"

namespace patchbay::config {
namespace {

using nlohmann::json;

json convert(std::string_view toml_text, const char* key) {
  toml::table t = toml::parse(toml_text);
  return toml_to_json(*t.get(key));
}

TEST(TomlToJson, DatesAndTimesBecomeTheirRfc3339Text) {
  toml::table t = toml::parse(R"(
    date = 1979-05-27
    time = 07:32:00
    frac = 07:32:00.999999
    local = 1979-05-27T07:32:00
    utc = 1979-05-27T07:32:00Z
    offset = 1979-05-27T00:32:00-07:00
  )");
  EXPECT_EQ(toml_to_json(*t.get("date")), json("1979-05-27"));
  EXPECT_EQ(toml_to_json(*t.get("time")), json("07:32:00"));
  EXPECT_EQ(toml_to_json(*t.get("frac")), json("07:32:00.999999"));
  EXPECT_EQ(toml_to_json(*t.get("local")), json("1979-05-27T07:32:00"));
  EXPECT_EQ(toml_to_json(*t.get("utc")), json("1979-05-27T07:32:00Z"));
  EXPECT_EQ(toml_to_json(*t.get("offset")), json("1979-05-27T00:32:00-07:00"));
}

TEST(TomlToJson, ScalarsKeepTheirJsonType) {
  json i = convert("v = 9007199254740993", "v");  // above 2^53: must not go through a double
  ASSERT_TRUE(i.is_number_integer());
  EXPECT_EQ(i.get<std::int64_t>(), 9007199254740993);
  json f = convert("v = 1.5", "v");
  ASSERT_TRUE(f.is_number_float());
  EXPECT_DOUBLE_EQ(f.get<double>(), 1.5);
  EXPECT_EQ(convert("v = true", "v"), json(true));
  EXPECT_EQ(convert("v = 'x y'", "v"), json("x y"));
}

TEST(TomlToJson, ArraysAndNestedTablesKeepTheirShape) {
  json j = convert(R"(
    [outer]
    list = [1, "two", [3.5], { k = false }]
    [outer.inner]
    when = 2024-01-02
    [[outer.rows]]
    n = 1
    [[outer.rows]]
    n = 2
  )",
                   "outer");
  EXPECT_EQ(j, json::parse(R"({
    "list": [1, "two", [3.5], {"k": false}],
    "inner": {"when": "2024-01-02"},
    "rows": [{"n": 1}, {"n": 2}]
  })"));
}

}  // namespace
}  // namespace patchbay::config
