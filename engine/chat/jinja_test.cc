// Hand-derived checks of the Jinja interpreter (expected values follow jinja2's documented
// semantics); the real chat templates are checked against jinja2 in chat_template_test.cc.
#include "engine/chat/jinja.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jetserve::chat {
namespace {

using ::testing::HasSubstr;

std::string Render(const std::string& src, const std::string& ctx_json = "{}") {
  absl::StatusOr<Template> t = Template::Parse(src);
  if (!t.ok()) return "PARSE ERROR: " + std::string(t.status().message());
  absl::StatusOr<std::string> r =
      t->Render(Value::FromJson(nlohmann::ordered_json::parse(ctx_json)));
  if (!r.ok()) return "RENDER ERROR: " + std::string(r.status().message());
  return *r;
}

TEST(JinjaTest, ExpressionsAndPythonStr) {
  EXPECT_EQ(Render("{{ 1 + 2 * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 1 / 2 }}"),
            "7|3|-4|2|0.5");
  EXPECT_EQ(Render("{{ none }}|{{ true }}|{{ [1, 'a'] }}|{{ {'k': none} }}|{{ 2.0 }}"),
            "None|True|[1, 'a']|{'k': None}|2.0");
  EXPECT_EQ(Render("{{ 'a' ~ 1 ~ none }}|{{ 'ab' * 2 }}|{{ x }}|{{ 'b' in 'abc' }}"),
            "a1None|abab||True");
  EXPECT_EQ(Render("{{ 'x' if a else 'y' }}{{ 'z' if not a }}", R"({"a": false})"), "yz");
  EXPECT_EQ(Render("{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}"), "TrueFalse");
}

TEST(JinjaTest, WhitespaceControlTrimAndLstripBlocks) {
  // trim_blocks drops the newline after a block tag; lstrip_blocks the indentation before it.
  EXPECT_EQ(Render("a\n  {% if true %}\nb\n  {% endif %}\nc\n"), "a\nb\nc");
  EXPECT_EQ(Render("a  {%- if true -%}  b  {%- endif %}"), "ab");
  EXPECT_EQ(Render("{{ 'a' }}\n{{ 'b' }}"), "a\nb");
  EXPECT_EQ(Render("x {# c #}\ny"), "x y");
  EXPECT_EQ(Render("a\n  {%+ if true %}b{% endif %}"), "a\n  b");
}

TEST(JinjaTest, LoopsScopesAndNamespace) {
  EXPECT_EQ(Render("{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}"
                   "{% endfor %}",
                   R"({"xs": ["a", "b", "c"]})"),
            "1a,2b,3c");
  EXPECT_EQ(Render("{% set n = 0 %}{% for x in [1, 2] %}{% set n = n + x %}{% endfor %}{{ n }}"),
            "0");
  EXPECT_EQ(Render("{% set ns = namespace(n=0) %}{% for x in [1, 2] %}{% set ns.n = ns.n + x %}"
                   "{% endfor %}{{ ns.n }}"),
            "3");
  EXPECT_EQ(Render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
                   R"({"d": {"b": 1, "a": 2}})"),
            "b=1;a=2;");
  EXPECT_EQ(Render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(Render("{% for x in [1,2,3,4] if x is even %}{{ loop.length }}{{ x }}{% endfor %}"),
            "2224");
  EXPECT_EQ(
      Render("{% for x in [1,2,3] %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
      "1");
}

TEST(JinjaTest, FiltersTestsAndMethods) {
  EXPECT_EQ(
      Render(
          "{{ '  hi '|trim }}|{{ 'ab'|upper }}|{{ [1,2]|length }}|{{ 'a-b'|replace('-', '+') }}"),
      "hi|AB|2|a+b");
  EXPECT_EQ(Render("{{ {'a': 'é', 'b': [1, 2.5, none, true]}|tojson }}"),
            "{\"a\": \"é\", \"b\": [1, 2.5, null, true]}");
  EXPECT_EQ(Render("{{ {'a': [1]}|tojson(indent=2) }}"), "{\n  \"a\": [\n    1\n  ]\n}");
  EXPECT_EQ(Render("{{ xs|selectattr('r', 'equalto', 'u')|map(attribute='c')|join(',') }}",
                   R"({"xs": [{"r": "u", "c": "1"}, {"r": "a", "c": "2"}, {"r": "u", "c": "3"}]})"),
            "1,3");
  EXPECT_EQ(Render("{{ x|default('d') }}{{ ''|default('e', true) }}{{ [3,1]|first }}"), "de3");
  EXPECT_EQ(
      Render(
          "{{ 'a b'.split(' ')[-1] }}|{{ 'xhix'.strip('x') }}|{{ 'abc'[::-1] }}|{{ 'abc'[1:] }}"),
      "b|hi|cba|bc");
  EXPECT_EQ(Render("{{ 'hello world'.title() }}|{{ 'ab'.startswith('a') }}|{{ '5'|int + 1 }}"),
            "Hello World|True|6");
  EXPECT_EQ(Render("{{ x is defined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}"),
            "FalseTrueTrueTrue");
}

TEST(JinjaTest, MacrosAndCallBlocks) {
  EXPECT_EQ(
      Render("{% macro m(a, b='B') %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, b=2) }}"),
      "[1B][12]");
  EXPECT_EQ(Render("{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}in{% endcall %}"),
            "<in>");
  EXPECT_EQ(Render("{% set s %}a{{ 1 }}{% endset %}{{ s }}!"), "a1!");
}

TEST(JinjaTest, ErrorsNotCrashes) {
  EXPECT_THAT(Render("{{ raise_exception('bad role') }}"), HasSubstr("bad role"));
  EXPECT_THAT(Render("{% if %}"), HasSubstr("PARSE ERROR"));
  EXPECT_THAT(Render("{% for x in y %}"), HasSubstr("endfor"));
  EXPECT_THAT(Render("{{ x.y }}"), HasSubstr("'x' is undefined"));
  EXPECT_THAT(Render("{{ 1 + 'a' }}"), HasSubstr("unsupported operand"));
  EXPECT_THAT(Render("{{ foo() }}"), HasSubstr("not callable"));
  EXPECT_THAT(Render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"),
              HasSubstr("nested deeper"));
  EXPECT_THAT(Render("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"),
              HasSubstr("nested too deeply"));
  EXPECT_THAT(Render("{% for i in range(100000000) %}{% endfor %}"), HasSubstr("range() longer"));
  EXPECT_THAT(Render("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(100) %}"
                     "{% endfor %}{% endfor %}{% endfor %}"),
              HasSubstr("steps"));
  EXPECT_THAT(Render("{% set s = 'x' * 1000 %}{% for i in range(100000) %}{{ s }}{% endfor %}"),
              HasSubstr("output exceeds"));
  EXPECT_THAT(Render("{{ 'unterminated }}"), HasSubstr("unterminated"));
}

TEST(JinjaTest, StrftimeNowUsesTheGivenClock) {
  absl::StatusOr<Template> t = Template::Parse("{{ strftime_now('%d %b %Y') }}");
  ASSERT_TRUE(t.ok());
  RenderOptions o;
  o.now = [] { return std::time_t{1721952000}; };  // 2024-07-26 00:00:00 UTC
  EXPECT_EQ(*t->Render(Value::Dict(), o), "26 Jul 2024");
}

}  // namespace
}  // namespace jetserve::chat
