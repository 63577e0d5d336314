// GBNF parsing and matching: hand-derived accept/reject cases, including recursion,
// unicode ranges, repetition bounds and hostile grammars.
#include "engine/grammar/grammar.h"

#include <string>

#include "engine/grammar/json_schema.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jetserve::grammar {
namespace {

using ::testing::HasSubstr;

bool Accepts(const std::string& gbnf, const std::string& text) {
  absl::StatusOr<std::shared_ptr<const Grammar>> g = Grammar::Parse(gbnf);
  EXPECT_TRUE(g.ok()) << g.status();
  if (!g.ok()) return false;
  GrammarState s = GrammarState::Start(*g).AdvanceBytes(text);
  return !s.dead() && s.CanEnd();
}

// A prefix of some sentence (not necessarily complete).
bool Viable(const std::string& gbnf, const std::string& text) {
  return !GrammarState::Start(*Grammar::Parse(gbnf)).AdvanceBytes(text).dead();
}

std::string ParseError(const std::string& gbnf) {
  absl::StatusOr<std::shared_ptr<const Grammar>> g = Grammar::Parse(gbnf);
  return g.ok() ? "ok" : std::string(g.status().message());
}

TEST(GrammarTest, LiteralsClassesAndAlternatives) {
  const std::string g = R"(root ::= "yes" | "no" | [0-9] [a-fA-F]  # comment
)";
  EXPECT_TRUE(Accepts(g, "yes"));
  EXPECT_TRUE(Accepts(g, "no"));
  EXPECT_TRUE(Accepts(g, "7F"));
  EXPECT_FALSE(Accepts(g, "ye"));
  EXPECT_TRUE(Viable(g, "ye"));
  EXPECT_FALSE(Viable(g, "yo"));
  EXPECT_FALSE(Accepts(g, "7g"));
  EXPECT_TRUE(Accepts(R"(root ::= [^a-c]+)", "xyz"));
  EXPECT_FALSE(Accepts(R"(root ::= [^a-c]+)", "xbz"));
  EXPECT_TRUE(Accepts("root ::= \"a\\n\\\"\\x41\\u00e9\"", "a\n\"A\xc3\xa9"));
  EXPECT_TRUE(Accepts("root ::= . .", "\xe2\x82\xac!"));
}

TEST(GrammarTest, RepetitionBounds) {
  const std::string g = R"(root ::= "a"{2,4} "b"{3} ("c" "d"){0,} "e"{1,})";
  EXPECT_FALSE(Accepts(g, "abbbe"));
  EXPECT_TRUE(Accepts(g, "aabbbe"));
  EXPECT_TRUE(Accepts(g, "aaaabbbcdcdeee"));
  EXPECT_FALSE(Accepts(g, "aaaaabbbe"));
  EXPECT_FALSE(Accepts(g, "aabbe"));
  EXPECT_FALSE(Accepts(g, "aabbbc e"));
  EXPECT_TRUE(Accepts(R"(root ::= "x"? "y"* "z"+)", "z"));
  EXPECT_TRUE(Accepts(R"(root ::= "x"? "y"* "z"+)", "xyyzz"));
  EXPECT_TRUE(Accepts(R"(root ::= "ab"{2})", "abab"));  // a literal repeats as a whole
  EXPECT_FALSE(Accepts(R"(root ::= "ab"{2})", "abb"));
  EXPECT_TRUE(Accepts(R"(root ::= [0-9]{0,2})", ""));
  EXPECT_FALSE(Accepts(R"(root ::= [0-9]{0,2})", "123"));
}

TEST(GrammarTest, RecursionAndMultilineRules) {
  const std::string g = R"g(
root ::= expr
expr ::= term ("+" term)*
term ::= [0-9]+ | "(" expr ")"
)g";
  EXPECT_TRUE(Accepts(g, "1+(2+(3+4))"));
  EXPECT_FALSE(Accepts(g, "1+(2+(3+4)"));
  EXPECT_TRUE(Viable(g, "((((((((((1"));
  EXPECT_FALSE(Viable(g, "1++"));
  const std::string nested = "root ::= (\n  \"a\" |\n  \"b\"\n)\n";
  EXPECT_TRUE(Accepts(nested, "b"));
}

TEST(GrammarTest, UnicodeRangesAcrossPartialBytes) {
  const std::string g = R"(root ::= [α-ω]+ [\u4e00-\u9fff] [\U0001F600-\U0001F64F])";
  EXPECT_TRUE(Accepts(g, "λμ日😀"));
  EXPECT_FALSE(Accepts(g, "λμ日a"));
  // The first byte of 'ω' (0xCF) can still match; of 'Ж' (0xD0) cannot.
  EXPECT_FALSE(GrammarState::Start(*Grammar::Parse(g)).AdvanceByte(0xCF).dead());
  EXPECT_TRUE(GrammarState::Start(*Grammar::Parse(g)).AdvanceByte(0xD0).dead());
  EXPECT_FALSE(Accepts(g, "λ\xff"));  // invalid UTF-8 is rejected
}

TEST(GrammarTest, BadGrammarsAreErrors) {
  EXPECT_THAT(ParseError("root ::= foo"), HasSubstr("undefined rule 'foo'"));
  EXPECT_THAT(ParseError("a ::= \"x\""), HasSubstr("no 'root'"));
  EXPECT_THAT(ParseError("root ::= root \"a\" | \"b\""), HasSubstr("left-recursive"));
  EXPECT_THAT(ParseError("root ::= x root\nx ::= \"\" | \"a\""), HasSubstr("left-recursive"));
  EXPECT_THAT(ParseError("root ::= (\"a\"?)*"), HasSubstr("left-recursive"));
  EXPECT_THAT(ParseError("root ::= \"a"), HasSubstr("unterminated"));
  EXPECT_THAT(ParseError("root ::= [b-a]"), HasSubstr("out of order"));
  EXPECT_THAT(ParseError("root ::= \"a\"{3,2}"), HasSubstr("n < m"));
  EXPECT_THAT(ParseError("root ::= \"a\"{5000}"), HasSubstr("repetition bound"));
  EXPECT_THAT(ParseError("root ::= " + std::string(1000, '(') + "\"a\"" + std::string(1000, ')')),
              HasSubstr("nested too deeply"));
  EXPECT_THAT(ParseError("root ::= *"), HasSubstr("repetition without"));
}

TEST(GrammarTest, AmbiguousGrammarStaysBounded) {
  // Exponentially many parses of "aaaa..." collapse to few distinct stacks.
  const std::string g = R"(root ::= x*
x ::= "a" | "a" "a" | "a" "a" "a")";
  GrammarState s = GrammarState::Start(*Grammar::Parse(g));
  for (int i = 0; i < 200; ++i) s = s.AdvanceByte('a');
  EXPECT_FALSE(s.dead());
  EXPECT_TRUE(s.CanEnd());
  EXPECT_LT(s.num_stacks(), 16u);
}

TEST(JsonSchemaTest, SchemaGrammarsAcceptAndReject) {
  absl::StatusOr<std::string> g = JsonSchemaToGbnf(R"({
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 5}, "age": {"type": "integer"},
                   "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
                   "ok": {"type": ["boolean", "null"]}},
    "required": ["name"]})");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(Accepts(*g, R"({"name": "bob"})"));
  EXPECT_TRUE(Accepts(*g, R"({"name":"bob","age":-12,"tags":["a","b"],"ok":null})"));
  EXPECT_TRUE(Accepts(*g, R"({"name": "bob", "ok": true})"));
  EXPECT_FALSE(Accepts(*g, R"({"age": 1})"));                            // name required
  EXPECT_FALSE(Accepts(*g, R"({"name": "bobbyy"})"));                    // maxLength
  EXPECT_FALSE(Accepts(*g, R"({"name": "b", "tags": ["c"]})"));          // enum
  EXPECT_FALSE(Accepts(*g, R"({"name": "b", "tags": ["a","a","a"]})"));  // maxItems
  EXPECT_FALSE(Accepts(*g, R"({"name": "b",})"));
  absl::StatusOr<std::string> rec = JsonSchemaToGbnf(R"({"$ref": "#/$defs/node", "$defs": {
      "node": {"type": "object", "properties": {"v": {"type": "integer"},
               "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["v"]}}})");
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_TRUE(Accepts(*rec, R"({"v": 1, "kids": [{"v": 2, "kids": []}, {"v": 3}]})"));
  EXPECT_FALSE(Accepts(*rec, R"({"v": 1, "kids": [{"kids": []}]})"));
  EXPECT_TRUE(Accepts(JsonObjectGbnf(), "{\"a\": [1, 2.5e3, \"x\\u00e9\", {}, null, true]}"));
  EXPECT_FALSE(Accepts(JsonObjectGbnf(), "[1]"));
  EXPECT_THAT(
      std::string(JsonSchemaToGbnf(R"({"type": "string", "not": {}})").status().message()),
      HasSubstr("'not' is not supported"));
  EXPECT_THAT(std::string(JsonSchemaToGbnf("{").status().message()), HasSubstr("not valid JSON"));
}

}  // namespace
}  // namespace jetserve::grammar
