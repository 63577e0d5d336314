// Unit tests of the tokenizer core on small hand-made vocabularies: BPE merge order,
// SentencePiece scores and byte fallback, WordPiece, special-token matching, validation
// errors and model-input truncation/padding.
#include "engine/tokenizer/tokenizer.h"

#include <string>
#include <vector>

#include "engine/tokenizer/hf_json_loader.h"
#include "engine/tokenizer/unicode.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::tokenizer {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<Tokenizer> MustCreate(Vocab vocab) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Create(std::move(vocab));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? *std::move(tokenizer) : nullptr;
}

Vocab SmallBpe() {
  Vocab v;
  v.model = ModelKind::kBpe;
  v.pre = PreTokenizerKind::kGpt2;
  std::string space;
  AppendByteLevel(" ", &space);  // "Ġ"
  v.tokens = {"a",   "b",         "c",       "ab",    "abc",      "aa",
              space, space + "a", "<|end|>", "<tag>", space + "b"};
  v.types.assign(v.tokens.size(), TokenType::kNormal);
  v.types[8] = TokenType::kControl;
  v.types[9] = TokenType::kUserDefined;
  v.merges = {{"a", "b"}, {"ab", "c"}, {"a", "a"}, {space, "a"}, {space, "b"}};
  return v;
}

TEST(BpeTest, MergesByRankLeftmostFirst) {
  auto tok = MustCreate(SmallBpe());
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(tok->Encode("abc", {}), ElementsAre(4));
  EXPECT_THAT(tok->Encode("aaa", {}), ElementsAre(5, 0));       // "aa" then "a"
  EXPECT_THAT(tok->Encode("ab ab", {}), ElementsAre(3, 6, 3));  // "a b" outranks "Ġ a"
  EXPECT_THAT(tok->Encode(" a", {}), ElementsAre(7));
  EXPECT_THAT(tok->Encode("", {}), ElementsAre());
}

TEST(BpeTest, UnknownBytesAreDroppedLikeLlamaCpp) {
  auto tok = MustCreate(SmallBpe());
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(tok->Encode("azb", {}), ElementsAre(0, 1));
}

TEST(BpeTest, SpecialTextIsPlainUnlessParsed) {
  auto tok = MustCreate(SmallBpe());
  ASSERT_NE(tok, nullptr);
  // Control: only with parse_special. User-defined: always.
  EXPECT_THAT(tok->Encode("a<|end|>", {.parse_special = true}), ElementsAre(0, 8));
  EXPECT_THAT(tok->Encode("a<tag>b", {}), ElementsAre(0, 9, 1));
  const std::vector<TokenId> plain = tok->Encode("a<|end|>", {});
  EXPECT_EQ(std::find(plain.begin(), plain.end(), 8), plain.end());
  EXPECT_TRUE(tok->IsEndOfGeneration(8));  // "<|end|>" ends generation by its text
  EXPECT_EQ(tok->TokenToPiece(8, false), "");
  EXPECT_EQ(tok->TokenToPiece(8, true), "<|end|>");
}

TEST(BpeTest, DecodesByteLevelPieces) {
  auto tok = MustCreate(SmallBpe());
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Decode(tok->Encode(" ab abc", {}), {}), " ab abc");
}

Vocab SmallSpm() {
  Vocab v;
  v.model = ModelKind::kSpm;
  v.pre = PreTokenizerKind::kNone;
  v.add_space_prefix = true;
  v.add_bos = true;
  v.special.bos = 1;
  v.special.eos = 2;
  v.special.unk = 0;
  v.tokens = {"<unk>",
              "<s>",
              "</s>",
              "\xE2\x96\x81",
              "a",
              "b",
              "\xE2\x96\x81"
              "a",
              "ab",
              "\xE2\x96\x81"
              "ab"};
  v.scores = {0, 0, 0, -1, -2, -2, -1.5f, -0.5f, -0.1f};
  v.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl,
             TokenType::kNormal,  TokenType::kNormal,  TokenType::kNormal,
             TokenType::kNormal,  TokenType::kNormal,  TokenType::kNormal};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    v.tokens.push_back(name);
    v.scores.push_back(0);
    v.types.push_back(TokenType::kByte);
  }
  return v;
}

TEST(SpmTest, HighestScoreFirstWithSpacePrefix) {
  auto tok = MustCreate(SmallSpm());
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(tok->Encode("ab", {}), ElementsAre(8));       // "▁ab"
  EXPECT_THAT(tok->Encode("ab a", {}), ElementsAre(8, 6));  // "▁ab" "▁a"
  EXPECT_THAT(tok->Encode("ab", {.add_special = true}), ElementsAre(1, 8));
  EXPECT_THAT(tok->Encode("", {}), ElementsAre());
}

TEST(SpmTest, ByteFallbackAndRoundTrip) {
  auto tok = MustCreate(SmallSpm());
  ASSERT_NE(tok, nullptr);
  const TokenId byte_c3 = 9 + 0xC3;
  const TokenId byte_a9 = 9 + 0xA9;
  EXPECT_THAT(tok->Encode("\xC3\xA9", {}), ElementsAre(3, byte_c3, byte_a9));  // "▁" é
  EXPECT_EQ(tok->Decode(tok->Encode("ab \xC3\xA9 a", {}), {}), "ab \xC3\xA9 a");
  EXPECT_EQ(tok->Decode(tok->Encode("ab", {}), {.strip_leading_space = false}), " ab");
}

TEST(SpmTest, ControlTokenTextIsMatchedOnlyWithParseSpecial) {
  auto tok = MustCreate(SmallSpm());
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(tok->Encode("a</s>", {.parse_special = true}), ElementsAre(6, 2));
  const std::vector<TokenId> plain = tok->Encode("a</s>", {});
  EXPECT_EQ(std::find(plain.begin(), plain.end(), 2), plain.end());
}

Vocab SmallWordPiece() {
  Vocab v;
  v.model = ModelKind::kWordPiece;
  v.flavor = Flavor::kHuggingFace;
  v.normalize_bert = true;
  v.tokens = {"[PAD]", "[UNK]", "[CLS]",  "[SEP]", "hello", "world", "##s",
              "un",    "##aff", "##able", ",",     "!",     "cafe",  "中"};
  v.types.assign(v.tokens.size(), TokenType::kNormal);
  for (int i = 0; i < 4; ++i) v.types[static_cast<size_t>(i)] = TokenType::kControl;
  v.special.unk = 1;
  v.special.cls = 2;
  v.special.sep = 3;
  v.special.pad = 0;
  v.add_bos = true;  // [CLS] ... [SEP]
  v.add_sep = true;
  return v;
}

TEST(WordPieceTest, GreedyLongestMatchWithBertNormalization) {
  auto tok = MustCreate(SmallWordPiece());
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(tok->Encode("Hello, WORLDS! unaffable", {}), ElementsAre(4, 10, 5, 6, 11, 7, 8, 9));
  EXPECT_THAT(tok->Encode("Café中x", {}), ElementsAre(12, 13, 1));
  EXPECT_THAT(tok->Encode("helloz", {}), ElementsAre(1));  // a word not covered is [UNK]
  EXPECT_THAT(tok->Encode("hello", {.add_special = true}), ElementsAre(2, 4, 3));
  EXPECT_EQ(tok->Decode(tok->Encode("hello worlds", {}), {}), "hello worlds");
}

TEST(TokenizerCreateTest, RejectsInconsistentVocabularies) {
  Vocab empty;
  EXPECT_THAT(Tokenizer::Create(empty),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no tokens")));
  Vocab scores = SmallSpm();
  scores.scores.pop_back();
  EXPECT_THAT(Tokenizer::Create(scores),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("scores")));
  Vocab types = SmallSpm();
  types.types.resize(3);
  EXPECT_THAT(Tokenizer::Create(types),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("token types")));
  Vocab bos = SmallSpm();
  bos.special.bos = 100000;
  EXPECT_THAT(Tokenizer::Create(bos), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("BOS token id 100000 is out of range")));
  Vocab merges = SmallBpe();
  merges.merges.push_back({"", "a"});
  EXPECT_THAT(Tokenizer::Create(merges),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty side")));
  Vocab wordpiece = SmallWordPiece();
  wordpiece.special.unk = kNoToken;
  EXPECT_THAT(Tokenizer::Create(wordpiece),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no unknown token")));
  Vocab pattern = SmallBpe();
  pattern.pre = PreTokenizerKind::kHfCustom;
  pattern.hf_split_patterns = {"(unclosed"};
  EXPECT_THAT(Tokenizer::Create(pattern),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not compile")));
}

TEST(TokenizerTest, OutOfRangeIdsDecodeToNothing) {
  auto tok = MustCreate(SmallBpe());
  ASSERT_NE(tok, nullptr);
  const std::vector<TokenId> ids = {-5, 0, 1 << 30};
  EXPECT_EQ(tok->Decode(ids, {}), "a");
}

TEST(EncodeForModelTest, TruncatesAndPadsAsTheFileSays) {
  const std::string json = R"({
    "truncation": {"max_length": 5, "strategy": "LongestFirst", "stride": 0},
    "padding": {"strategy": {"Fixed": 8}, "direction": "Right", "pad_id": 0, "pad_type_id": 0,
                "pad_token": "[PAD]"},
    "added_tokens": [{"id": 0, "content": "[PAD]", "special": true},
                     {"id": 1, "content": "[UNK]", "special": true},
                     {"id": 2, "content": "[CLS]", "special": true},
                     {"id": 3, "content": "[SEP]", "special": true}],
    "normalizer": {"type": "BertNormalizer", "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                 {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
      "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                         "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100,
              "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 4, "b": 5, "c": 6,
                        "d": 7}}
  })";
  absl::StatusOr<Vocab> vocab = ParseHfTokenizerJson(json);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  auto tok = MustCreate(*std::move(vocab));
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(tok->Encode("a b", {.add_special = true}), ElementsAre(2, 4, 5, 3));
  const ModelInput short_input = tok->EncodeForModel("a b");
  EXPECT_THAT(short_input.ids, ElementsAre(2, 4, 5, 3, 0, 0, 0, 0));
  EXPECT_THAT(short_input.attention_mask, ElementsAre(1, 1, 1, 1, 0, 0, 0, 0));
  const ModelInput long_input = tok->EncodeForModel("a b c d a b");
  EXPECT_THAT(long_input.ids, ElementsAre(2, 4, 5, 6, 3, 0, 0, 0));
}

}  // namespace
}  // namespace jetserve::tokenizer
