// JSON Schema keywords as grammar constraints: for each keyword, hand-derived JSON texts the
// grammar must accept and must reject, and the precise refusals of what it cannot express.
#include "engine/grammar/json_schema.h"

#include <string>

#include "engine/grammar/grammar.h"
#include "engine/grammar/json_terminals.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jetserve::grammar {
namespace {

using ::testing::HasSubstr;

// A compiled schema grammar; Accepts() is false for texts it rejects.
class Schema {
 public:
  explicit Schema(const std::string& schema) {
    absl::StatusOr<std::string> gbnf = JsonSchemaToGbnf(schema);
    EXPECT_TRUE(gbnf.ok()) << gbnf.status() << "\n" << schema;
    if (!gbnf.ok()) return;
    gbnf_ = *gbnf;
    absl::StatusOr<std::shared_ptr<const Grammar>> g = Grammar::Parse(*gbnf);
    EXPECT_TRUE(g.ok()) << g.status() << "\n" << *gbnf;
    if (g.ok()) g_ = *g;
  }
  bool Accepts(const std::string& text) const {
    if (g_ == nullptr) return false;
    GrammarState s = GrammarState::Start(g_).AdvanceBytes(text);
    return !s.dead() && s.CanEnd();
  }
  const std::string& gbnf() const { return gbnf_; }

 private:
  std::string gbnf_;
  std::shared_ptr<const Grammar> g_;
};

std::string Error(const std::string& schema) {
  absl::StatusOr<std::string> g = JsonSchemaToGbnf(schema);
  if (g.ok()) return "ok";
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(g.status().message());
}

std::string Pattern(const std::string& p) {
  std::string escaped;
  for (const char c : p) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return R"({"type": "string", "pattern": ")" + escaped + "\"}";
}

TEST(JsonSchemaPatternTest, AnchoredLiteralsClassesAndQuantifiers) {
  const Schema code(Pattern(R"(^[A-Z]{2}-\d{3,5}$)"));
  EXPECT_TRUE(code.Accepts(R"("AB-123")"));
  EXPECT_TRUE(code.Accepts(R"("ZZ-12345")"));
  EXPECT_FALSE(code.Accepts(R"("AB-12")"));
  EXPECT_FALSE(code.Accepts(R"("AB-123456")"));
  EXPECT_FALSE(code.Accepts(R"("Ab-123")"));
  EXPECT_FALSE(code.Accepts(R"("xAB-123")"));  // anchored
  EXPECT_FALSE(code.Accepts(R"(AB-123)"));     // a string needs its quotes

  const Schema alt(Pattern(R"(^(cat|dog)s?(, (cat|dog)s?)*$)"));
  EXPECT_TRUE(alt.Accepts(R"("cats")"));
  EXPECT_TRUE(alt.Accepts(R"("dog, cats, dog")"));
  EXPECT_FALSE(alt.Accepts(R"("dog,cat")"));
  EXPECT_FALSE(alt.Accepts(R"("")"));

  const Schema opt(Pattern(R"(^a+b*c?d{2,}e{0,1}$)"));
  EXPECT_TRUE(opt.Accepts(R"("add")"));
  EXPECT_TRUE(opt.Accepts(R"("aaabbbcdddde")"));
  EXPECT_FALSE(opt.Accepts(R"("bdd")"));
  EXPECT_FALSE(opt.Accepts(R"("acccdd")"));
  EXPECT_FALSE(opt.Accepts(R"("ad")"));
  EXPECT_FALSE(opt.Accepts(R"("addee")"));

  const Schema word(Pattern(R"(^\w+\s\W\S$)"));
  EXPECT_TRUE(word.Accepts(R"("ab_9 !x")"));
  EXPECT_TRUE(word.Accepts(R"("a\t-x")"));  // \s as the JSON escape \t
  EXPECT_TRUE(word.Accepts(R"("a  x")"));   // the second space is \W
  EXPECT_FALSE(word.Accepts(R"("a x!")"));  // x is not \W
  EXPECT_FALSE(word.Accepts(R"("a-!x")"));
}

TEST(JsonSchemaPatternTest, SearchSemanticsWithoutAnchors) {
  // JSON Schema patterns are not anchored: the match may be anywhere.
  const Schema s(Pattern("[0-9]{3}"));
  EXPECT_TRUE(s.Accepts(R"("123")"));
  EXPECT_TRUE(s.Accepts(R"("ab 123 cd")"));
  EXPECT_FALSE(s.Accepts(R"("ab 12 cd")"));
  const Schema start(Pattern("^ab"));
  EXPECT_TRUE(start.Accepts(R"("abc")"));
  EXPECT_FALSE(start.Accepts(R"("cab")"));
  const Schema end(Pattern("ab$"));
  EXPECT_TRUE(end.Accepts(R"("cab")"));
  EXPECT_FALSE(end.Accepts(R"("abc")"));
  const Schema either(Pattern("^x|y$"));
  EXPECT_TRUE(either.Accepts(R"("x1")"));
  EXPECT_TRUE(either.Accepts(R"("1y")"));
  EXPECT_FALSE(either.Accepts(R"("1x")"));
}

TEST(JsonSchemaPatternTest, NegatedClassesDotAndJsonEscapes) {
  const Schema neg(Pattern(R"(^[^a-c"]+$)"));
  EXPECT_TRUE(neg.Accepts(R"("xyz")"));
  EXPECT_TRUE(neg.Accepts(R"("\\")"));  // a backslash, escaped in JSON
  EXPECT_TRUE(neg.Accepts(R"("\n")"));  // [^...] includes the newline
  EXPECT_FALSE(neg.Accepts(R"("xbz")"));
  EXPECT_FALSE(neg.Accepts(R"("\"")"));      // the quote is excluded
  EXPECT_FALSE(neg.Accepts("\"\n\""));       // raw control characters are not JSON
  EXPECT_TRUE(neg.Accepts("\"\xc3\xa9\""));  // é
  const Schema dot(Pattern("^.{2}$"));
  EXPECT_TRUE(dot.Accepts(R"("a\"")"));
  EXPECT_TRUE(dot.Accepts("\"\xe2\x82\xac!\""));  // two characters, four bytes
  EXPECT_FALSE(dot.Accepts(R"("a\n")"));          // '.' excludes line terminators
  EXPECT_FALSE(dot.Accepts(R"("abc")"));
  const Schema quote(Pattern(R"(^say "\\" \u00e9\x41\.$)"));
  EXPECT_TRUE(
      quote.Accepts("\"say \\\"\\\\\\\" \xc3\xa9"
                    "A.\""));
  EXPECT_FALSE(
      quote.Accepts("\"say \\\"\\\\\\\" \xc3\xa9"
                    "Ab\""));
  const Schema nested(Pattern(R"(^((a|b)*c)+$)"));
  EXPECT_TRUE(nested.Accepts(R"("abcc")"));
  EXPECT_FALSE(nested.Accepts(R"("abca")"));
  // Nullable repeated bodies are rewritten (no left recursion) and keep their language.
  const Schema empty_star(Pattern(R"(^(a?b?)*$)"));
  EXPECT_TRUE(empty_star.Accepts(R"("")"));
  EXPECT_TRUE(empty_star.Accepts(R"("abba")"));
  EXPECT_FALSE(empty_star.Accepts(R"("abc")"));
  const Schema groups(Pattern(R"(^(?:x)(?<n>y)+?$)"));
  EXPECT_TRUE(groups.Accepts(R"("xyy")"));
  EXPECT_FALSE(groups.Accepts(R"("x")"));
}

TEST(JsonSchemaPatternTest, UnsupportedConstructsAreRefusedPrecisely) {
  EXPECT_THAT(Error(Pattern(R"((a)\1)")), HasSubstr("backreferences"));
  EXPECT_THAT(Error(Pattern(R"((?<x>a)\k<x>)")), HasSubstr("backreferences"));
  EXPECT_THAT(Error(Pattern("a(?=b)")), HasSubstr("lookahead and lookbehind"));
  EXPECT_THAT(Error(Pattern("(?<!a)b")), HasSubstr("lookahead and lookbehind"));
  EXPECT_THAT(Error(Pattern(R"(\bword)")), HasSubstr("word boundaries"));
  EXPECT_THAT(Error(Pattern(R"(\p{L})")), HasSubstr("Unicode property"));
  EXPECT_THAT(Error(Pattern("a^b")), HasSubstr("anchors ('^')"));
  EXPECT_THAT(Error(Pattern("(a$)")), HasSubstr("anchors ('$')"));
  EXPECT_THAT(Error(Pattern("a{2,1}")), HasSubstr("n < m"));
  EXPECT_THAT(Error(Pattern("a{5000}")), HasSubstr("bound over"));
  EXPECT_THAT(Error(Pattern("a{")), HasSubstr("'{'"));
  EXPECT_THAT(Error(Pattern("*a")), HasSubstr("nothing to repeat"));
  EXPECT_THAT(Error(Pattern("a**")), HasSubstr("nothing to repeat"));
  EXPECT_THAT(Error(Pattern("(a")), HasSubstr("missing ')'"));
  EXPECT_THAT(Error(Pattern("a)")), HasSubstr("unmatched ')'"));
  EXPECT_THAT(Error(Pattern("[a")), HasSubstr("unterminated"));
  EXPECT_THAT(Error(Pattern("[z-a]")), HasSubstr("out of order"));
  EXPECT_THAT(Error(Pattern(R"(\q)")), HasSubstr("unknown escape"));
  EXPECT_THAT(Error(Pattern(R"([^\s\S])")), HasSubstr("matches no character"));
  EXPECT_THAT(Error(R"({"type": "string", "pattern": "a", "maxLength": 3})"),
              HasSubstr("pattern combined with minLength/maxLength"));
}

TEST(JsonSchemaNumberTest, IntegerRangesAreExact) {
  // Every integer in a window around the bounds, against the definition.
  for (const auto& [lo, hi] : std::vector<std::pair<int64_t, int64_t>>{
           {-5, 120}, {0, 0}, {7, 7}, {-1009, -991}, {-3, 3}, {10, 99}, {19, 2001}, {-120, -5}}) {
    const Schema s(
        absl::StrCat(R"({"type": "integer", "minimum": )", lo, R"(, "maximum": )", hi, "}"));
    for (int64_t v = lo - 30; v <= hi + 30; ++v) {
      EXPECT_EQ(s.Accepts(absl::StrCat(v)), v >= lo && v <= hi)
          << v << " in [" << lo << ", " << hi << "]";
    }
    EXPECT_FALSE(s.Accepts("-0"));
    EXPECT_FALSE(s.Accepts(absl::StrCat("0", hi)));  // no leading zeros
  }
  // Wide bounds: the digits around a power of ten.
  const Schema wide(R"({"type": "integer", "minimum": 999, "maximum": 100001})");
  for (const int64_t v : {998, 999, 1000, 9999, 10000, 99999, 100000, 100001, 100002}) {
    EXPECT_EQ(wide.Accepts(absl::StrCat(v)), v >= 999 && v <= 100001) << v;
  }
  const Schema exclusive(R"({"type": "integer", "exclusiveMinimum": 1.5, "exclusiveMaximum": 5})");
  for (int64_t v = -2; v <= 8; ++v) EXPECT_EQ(exclusive.Accepts(absl::StrCat(v)), v >= 2 && v <= 4);
  const Schema draft4(
      R"({"type": "integer", "minimum": 0, "exclusiveMinimum": true, "maximum": 3})");
  EXPECT_FALSE(draft4.Accepts("0"));
  EXPECT_TRUE(draft4.Accepts("1"));
  EXPECT_TRUE(draft4.Accepts("3"));
  const Schema open_top(R"({"type": "integer", "minimum": -2})");
  EXPECT_FALSE(open_top.Accepts("-3"));
  EXPECT_TRUE(open_top.Accepts("-2"));
  EXPECT_TRUE(open_top.Accepts("9999999999999999"));
  EXPECT_FALSE(open_top.Accepts("1.5"));
  EXPECT_THAT(Error(R"({"type": "integer", "minimum": 5, "maximum": 4})"), HasSubstr("empty"));
  EXPECT_THAT(Error(R"({"type": "integer", "minimum": "5"})"), HasSubstr("must be a number"));
  EXPECT_THAT(Error(R"({"type": "integer", "maximum": 1e30})"), HasSubstr("within"));
  EXPECT_THAT(Error(R"({"type": "integer", "multipleOf": 2})"), HasSubstr("'multipleOf'"));
}

TEST(JsonSchemaNumberTest, NumberRangesWithWholeBounds) {
  const Schema s(R"({"type": "number", "minimum": -2, "exclusiveMaximum": 3})");
  for (const char* ok : {"-2", "-2.0", "-1.99", "0", "-0.5", "2.999", "0.0", "1"}) {
    EXPECT_TRUE(s.Accepts(ok)) << ok;
  }
  for (const char* bad : {"-2.01", "-3", "3", "3.0", "3.5", "10", "1e2", "01", "-0", "-0.0"}) {
    EXPECT_FALSE(s.Accepts(bad)) << bad;
  }
  const Schema pos(R"({"type": "number", "exclusiveMinimum": 0, "maximum": 1})");
  for (const char* ok : {"0.001", "1", "1.000", "0.5"}) EXPECT_TRUE(pos.Accepts(ok)) << ok;
  for (const char* bad : {"0", "0.0", "1.01", "-0.5", "2"}) EXPECT_FALSE(pos.Accepts(bad)) << bad;
  const Schema neg(R"({"type": "number", "maximum": -1})");
  EXPECT_TRUE(neg.Accepts("-1"));
  EXPECT_TRUE(neg.Accepts("-123.25"));
  EXPECT_FALSE(neg.Accepts("-0.99"));
  EXPECT_FALSE(neg.Accepts("0"));
  EXPECT_THAT(Error(R"({"type": "number", "maximum": 0.5})"), HasSubstr("whole numbers"));
  EXPECT_THAT(Error(R"({"type": "number", "minimum": 1, "exclusiveMaximum": 1})"),
              HasSubstr("empty"));
}

TEST(JsonSchemaFormatTest, DateTimeAndUuid) {
  const Schema date(R"({"type": "string", "format": "date"})");
  for (const char* ok : {"2024-02-29", "2000-02-29", "2023-12-31", "1999-04-30", "2023-02-28"}) {
    EXPECT_TRUE(date.Accepts(absl::StrCat("\"", ok, "\""))) << ok;
  }
  for (const char* bad : {"1900-02-29", "2023-02-29", "2023-04-31", "2023-13-01", "2023-00-10",
                          "2023-01-00", "2023-1-01", "20231-01-01"}) {
    EXPECT_FALSE(date.Accepts(absl::StrCat("\"", bad, "\""))) << bad;
  }
  const Schema time(R"({"type": "string", "format": "time"})");
  EXPECT_TRUE(time.Accepts(R"("23:59:59Z")"));
  EXPECT_TRUE(time.Accepts(R"("08:30:00.125+05:30")"));
  EXPECT_FALSE(time.Accepts(R"("24:00:00Z")"));
  EXPECT_FALSE(time.Accepts(R"("12:60:00Z")"));
  EXPECT_FALSE(time.Accepts(R"("12:00:00")"));  // RFC 3339 needs the offset
  const Schema dt(R"({"type": "string", "format": "date-time"})");
  EXPECT_TRUE(dt.Accepts(R"("2024-06-01T12:00:00-07:00")"));
  EXPECT_FALSE(dt.Accepts(R"("2024-06-01 12:00:00Z")"));
  const Schema uuid(R"({"format": "uuid"})");
  EXPECT_TRUE(uuid.Accepts(R"("123e4567-e89b-12d3-a456-426614174000")"));
  EXPECT_FALSE(uuid.Accepts(R"("123e4567e89b12d3a456426614174000")"));
  EXPECT_FALSE(uuid.Accepts(R"("123e4567-e89b-12d3-a456-42661417400")"));
  // Unknown formats are annotations (JSON Schema 2020-12's default): any string.
  EXPECT_TRUE(Schema(R"({"type": "string", "format": "email"})").Accepts(R"("x")"));
}

TEST(JsonSchemaArrayTest, PrefixItemsAndUniqueItems) {
  const Schema tuple(R"({"type": "array", "prefixItems": [{"type": "integer"},
      {"type": "string"}], "items": {"type": "boolean"}, "minItems": 1})");
  EXPECT_TRUE(tuple.Accepts("[1]"));
  EXPECT_TRUE(tuple.Accepts(R"([1, "a"])"));
  EXPECT_TRUE(tuple.Accepts(R"([1, "a", true, false])"));
  EXPECT_FALSE(tuple.Accepts("[]"));
  EXPECT_FALSE(tuple.Accepts(R"(["a"])"));
  EXPECT_FALSE(tuple.Accepts(R"([1, 2])"));
  EXPECT_FALSE(tuple.Accepts(R"([1, "a", 3])"));
  const Schema closed(R"({"prefixItems": [{"const": 1}, {"const": 2}], "items": false})");
  EXPECT_TRUE(closed.Accepts("[]"));
  EXPECT_TRUE(closed.Accepts("[1]"));
  EXPECT_TRUE(closed.Accepts("[1, 2]"));
  EXPECT_FALSE(closed.Accepts("[1, 2, 3]"));
  EXPECT_FALSE(closed.Accepts("[2]"));
  const Schema draft7(R"({"type": "array", "items": [{"type": "null"}],
      "additionalItems": {"type": "integer"}, "minItems": 2, "maxItems": 3})");
  EXPECT_TRUE(draft7.Accepts("[null, 1]"));
  EXPECT_TRUE(draft7.Accepts("[null, 1, 2]"));
  EXPECT_FALSE(draft7.Accepts("[null]"));
  EXPECT_FALSE(draft7.Accepts("[null, 1, 2, 3]"));
  EXPECT_FALSE(draft7.Accepts("[1, 1]"));
  const Schema counted(R"({"type": "array", "items": {"type": "integer"}, "minItems": 2,
      "maxItems": 3})");
  EXPECT_FALSE(counted.Accepts("[1]"));
  EXPECT_TRUE(counted.Accepts("[1, 2]"));
  EXPECT_TRUE(counted.Accepts("[1,2,3]"));
  EXPECT_FALSE(counted.Accepts("[1,2,3,4]"));
  EXPECT_TRUE(Schema(R"({"type": "array", "uniqueItems": true, "maxItems": 1})").Accepts("[7]"));
  EXPECT_TRUE(Schema(R"({"type": "array", "uniqueItems": false})").Accepts("[7, 7]"));
  EXPECT_THAT(Error(R"({"type": "array", "uniqueItems": true})"), HasSubstr("'uniqueItems'"));
  EXPECT_THAT(Error(R"({"prefixItems": [{}], "items": false, "minItems": 2})"),
              HasSubstr("minItems exceeds"));
  EXPECT_THAT(Error(R"({"type": "array", "contains": {}})"), HasSubstr("'contains'"));
}

TEST(JsonSchemaObjectTest, PropertyCountsAdditionalPropertiesAndAllOf) {
  const Schema counted(R"({"type": "object", "properties": {"a": {"type": "integer"},
      "b": {"type": "integer"}, "c": {"type": "integer"}}, "required": ["a"],
      "minProperties": 2, "maxProperties": 2})");
  EXPECT_TRUE(counted.Accepts(R"({"a": 1, "b": 2})"));
  EXPECT_TRUE(counted.Accepts(R"({"a": 1, "c": 2})"));
  EXPECT_FALSE(counted.Accepts(R"({"a": 1})"));
  EXPECT_FALSE(counted.Accepts(R"({"a": 1, "b": 2, "c": 3})"));
  EXPECT_FALSE(counted.Accepts(R"({"b": 1, "c": 2})"));
  const Schema map(R"({"type": "object", "additionalProperties": {"type": "integer"},
      "minProperties": 1, "maxProperties": 2})");
  EXPECT_TRUE(map.Accepts(R"({"x": 1})"));
  EXPECT_TRUE(map.Accepts(R"({"x": 1, "y": -2})"));
  EXPECT_FALSE(map.Accepts("{}"));
  EXPECT_FALSE(map.Accepts(R"({"x": "1"})"));
  EXPECT_FALSE(map.Accepts(R"({"x": 1, "y": 2, "z": 3})"));
  EXPECT_TRUE(Schema(R"({"additionalProperties": false})").Accepts("{}"));
  EXPECT_FALSE(Schema(R"({"additionalProperties": false})").Accepts(R"({"a": 1})"));
  const Schema all(R"({"$defs": {"base": {"type": "object", "properties": {"id": {"type":
      "integer"}}, "required": ["id"]}}, "allOf": [{"$ref": "#/$defs/base"}, {"properties":
      {"name": {"type": "string"}}, "required": ["name"]}]})");
  EXPECT_TRUE(all.Accepts(R"({"id": 1, "name": "x"})"));
  EXPECT_FALSE(all.Accepts(R"({"id": 1})"));
  EXPECT_FALSE(all.Accepts(R"({"name": "x"})"));
  EXPECT_THAT(Error(R"({"allOf": [{"type": "string"}, {"maxLength": 3}]})"),
              HasSubstr("does not merge"));
  EXPECT_THAT(Error(R"({"type": "object", "properties": {"a": {}}, "minProperties": 2})"),
              HasSubstr("minProperties 2 exceeds"));
  EXPECT_THAT(Error(R"({"type": "object", "patternProperties": {"^a": {}}})"),
              HasSubstr("'patternProperties'"));
  EXPECT_THAT(Error(R"({"type": "object", "propertyNames": {"maxLength": 3}})"),
              HasSubstr("'propertyNames'"));
  EXPECT_THAT(Error(R"({"not": {"type": "null"}})"), HasSubstr("'not'"));
  // A schema can refer to itself as "#".
  const Schema tree(R"({"type": "object", "properties": {"kids": {"type": "array",
      "items": {"$ref": "#"}}}})");
  EXPECT_TRUE(tree.Accepts(R"({"kids": [{}, {"kids": [{}]}]})"));
  EXPECT_FALSE(tree.Accepts(R"({"kids": [1]})"));
}

TEST(JsonSchemaObjectTest, RequireObjectForToolArguments) {
  JsonSchemaGbnfOptions o;
  o.require_object = true;
  o.root_name = "args";
  o.rule_prefix = "t0";
  o.primitives = false;
  absl::StatusOr<std::string> any = JsonSchemaToGbnf("{}", o);
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(*any, "args ::= object\n");
  EXPECT_THAT(std::string(JsonSchemaToGbnf(R"({"type": "string"})", o).status().message()),
              HasSubstr("must describe an object"));
  absl::StatusOr<std::string> props =
      JsonSchemaToGbnf(R"({"properties": {"q": {"type": "string"}}, "required": ["q"]})", o);
  ASSERT_TRUE(props.ok()) << props.status();
  EXPECT_EQ(props->rfind("args ::= t0-", 0), 0u) << *props;
}

}  // namespace
}  // namespace jetserve::grammar
