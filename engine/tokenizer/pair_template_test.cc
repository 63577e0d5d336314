// Text-pair templates from tokenizer.json's post_processor (TemplateProcessing,
// BertProcessing, RobertaProcessing, Sequence) against HF `tokenizers`
// (tests/oracles/tokenizer/make_pair_refs.py → tests/data/tokenizer/pair_template_refs.json):
// single texts with special tokens, pairs' ids and type ids.
#include <string>
#include <vector>

#include "engine/tokenizer/hf_json_loader.h"
#include "engine/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/test_files.h"

namespace jetserve::tokenizer {
namespace {

using ::jetserve::testing::ReadFileOrEmpty;
using ::jetserve::testing::ReadJson;
using ::jetserve::testing::SourcePath;
using ::jetserve::testing::StatusIs;
using Json = nlohmann::json;

TEST(PairTemplateTest, MatchesHfTokenizers) {
  const Json refs = ReadJson(SourcePath("tests/data/tokenizer/pair_template_refs.json"));
  ASSERT_FALSE(refs.is_discarded());
  int checked = 0;
  for (const Json& c : refs["cases"]) {
    const std::string name = c["name"];
    const std::string file = name.substr(0, name.find('#'));
    std::string text = ReadFileOrEmpty(SourcePath(file));
    ASSERT_FALSE(text.empty()) << file;
    if (c.contains("post_processor")) {
      Json j = Json::parse(text);
      j["post_processor"] = c["post_processor"];
      text = j.dump();
    }
    auto vocab = ParseHfTokenizerJson(text);
    ASSERT_OK(vocab);
    ASSERT_FALSE(vocab->hf_post.pair.empty()) << name;
    auto tok = Tokenizer::Create(*std::move(vocab));
    ASSERT_OK(tok);
    const HfPostProcessing& post = (*tok)->vocab().hf_post;
    for (const Json& p : c["pairs"]) {
      const std::string a = p["a"], b = p["b"];
      EXPECT_EQ((*tok)->Encode(a, {.add_special = true}), p["single"].get<std::vector<TokenId>>())
          << name << ": " << a;
      std::vector<TokenId> ids;
      std::vector<int32_t> types;
      ASSERT_TRUE(post.ApplyPair((*tok)->Encode(a, {}), (*tok)->Encode(b, {}), &ids, &types));
      EXPECT_EQ(ids, p["pair"].get<std::vector<TokenId>>()) << name << ": " << a << " | " << b;
      EXPECT_EQ(types, p["pair_types"].get<std::vector<int32_t>>()) << name;
      EXPECT_EQ(post.PairSpecials() + (*tok)->Encode(a, {}).size() + (*tok)->Encode(b, {}).size(),
                ids.size());
      ++checked;
    }
  }
  EXPECT_EQ(checked, 32);
}

TEST(PairTemplateTest, MalformedPairTemplatesAreRefused) {
  const Json base = ReadJson(SourcePath("tests/data/encoder/tiny_bert/tokenizer.json"));
  ASSERT_FALSE(base.is_discarded());
  for (const auto& [post, message] : std::vector<std::pair<std::string, std::string>>{
           {R"({"type": "TemplateProcessing", "single": [], "pair": 3})", "\"pair\" is not a list"},
           {R"({"type": "TemplateProcessing", "single": [],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}]})",
            "lacks sequence A or B"},
           {R"({"type": "TemplateProcessing", "single": [],
                "pair": [{"Sequence": {"id": "C", "type_id": 0}}]})",
            "is not A or B"},
           {R"({"type": "TemplateProcessing", "single": [],
                "pair": [{"SpecialToken": {"id": "[T]", "type_id": 0}}]})",
            "'[T]' is not in the vocabulary"},
       }) {
    Json j = base;
    j["post_processor"] = Json::parse(post);
    EXPECT_THAT(ParseHfTokenizerJson(j.dump()),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr(message)))
        << post;
  }
}

}  // namespace
}  // namespace jetserve::tokenizer
