// tokenizer.json loading: the supported layouts load, and every malformed or unsupported
// file is a precise error, never a crash.
#include "engine/tokenizer/hf_json_loader.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "engine/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::tokenizer {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kByteLevelBpe[] = R"({
  "added_tokens": [{"id": 5, "content": "<|endoftext|>", "special": true}],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "post_processor": {"type": "ByteLevel"},
  "model": {"type": "BPE", "dropout": null, "unk_token": null, "byte_fallback": false,
            "vocab": {"h": 0, "i": 1, "hi": 2, "\u0120": 3, "\u0120hi": 4, "<|endoftext|>": 5},
            "merges": ["h i", "\u0120 hi"]}
})";

TEST(HfJsonLoaderTest, LoadsByteLevelBpe) {
  absl::StatusOr<Vocab> vocab = ParseHfTokenizerJson(kByteLevelBpe);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  EXPECT_EQ(vocab->model, ModelKind::kBpe);
  EXPECT_EQ(vocab->pre, PreTokenizerKind::kHfByteLevel);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Create(*std::move(vocab));
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_THAT((*tok)->Encode("hi hi<|endoftext|>", {.parse_special = true}), ElementsAre(2, 4, 5));
  EXPECT_EQ((*tok)->Decode((*tok)->Encode("hi hi", {}), {}), "hi hi");
}

TEST(HfJsonLoaderTest, MergesAsPairsAreAccepted) {
  std::string json = kByteLevelBpe;
  json.replace(json.find(R"(["h i", "\u0120 hi"])"), std::string(R"(["h i", "\u0120 hi"])").size(),
               R"([["h", "i"], ["\u0120", "hi"]])");
  absl::StatusOr<Vocab> vocab = ParseHfTokenizerJson(json);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  EXPECT_EQ(vocab->merges.size(), 2u);
}

struct BadCase {
  const char* name;
  const char* json;
  absl::StatusCode code;
  const char* message;
};

TEST(HfJsonLoaderTest, MalformedFilesAreErrorsNamingTheProblem) {
  const BadCase cases[] = {
      {"not json", "{\"model\": ", absl::StatusCode::kInvalidArgument, "not valid JSON"},
      {"not an object", "[1, 2]", absl::StatusCode::kInvalidArgument, "not an object"},
      {"no model", "{}", absl::StatusCode::kInvalidArgument, "missing \"model\""},
      {"model type", R"({"model": {"type": 7}})", absl::StatusCode::kInvalidArgument,
       "\"type\" is not a string"},
      {"unsupported model", R"({"model": {"type": "Mystery"}})", absl::StatusCode::kUnimplemented,
       "\"Mystery\" is not supported"},
      {"vocab not object", R"({"model": {"type": "WordPiece", "vocab": [1]}})",
       absl::StatusCode::kInvalidArgument, "\"vocab\" is not an object"},
      {"negative id", R"({"model": {"type": "WordPiece", "vocab": {"a": -1}}})",
       absl::StatusCode::kInvalidArgument, "token id -1 is out of range"},
      {"string id", R"({"model": {"type": "WordPiece", "vocab": {"a": "0"}}})",
       absl::StatusCode::kInvalidArgument, "not an integer"},
      {"duplicate id", R"({"model": {"type": "WordPiece", "vocab": {"a": 0, "b": 0}}})",
       absl::StatusCode::kInvalidArgument, "used twice"},
      {"gap", R"({"model": {"type": "WordPiece", "unk_token": "a", "vocab": {"a": 0, "b": 2}}})",
       absl::StatusCode::kInvalidArgument, "token id 1 has no text"},
      {"unknown unk",
       R"({"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"a": 0}}})",
       absl::StatusCode::kInvalidArgument, "unk_token '[UNK]' is not in the vocabulary"},
      {"merge names no token",
       R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a c"]}})",
       absl::StatusCode::kInvalidArgument, "names 'c', which is not in the vocabulary"},
      {"merge result missing",
       R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}})",
       absl::StatusCode::kInvalidArgument, "makes 'ab'"},
      {"merge without space", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]}})",
       absl::StatusCode::kInvalidArgument, "has no space"},
      {"merge wrong type", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [3]}})",
       absl::StatusCode::kInvalidArgument, "neither"},
      {"added token clash",
       R"({"model": {"type": "WordPiece", "unk_token": "a", "vocab": {"a": 0}},
           "added_tokens": [{"id": 0, "content": "[X]", "special": true}]})",
       absl::StatusCode::kInvalidArgument, "is 'a' in the model's vocabulary, not '[X]'"},
      {"bool type",
       R"({"model": {"type": "WordPiece", "unk_token": "a", "vocab": {"a": 0}},
           "normalizer": {"type": "BertNormalizer", "lowercase": "yes"}})",
       absl::StatusCode::kInvalidArgument, "\"lowercase\" is not a boolean"},
      {"unsupported normalizer",
       R"({"model": {"type": "WordPiece", "unk_token": "a", "vocab": {"a": 0}},
           "normalizer": {"type": "Precompiled"}})",
       absl::StatusCode::kUnimplemented, "normalizer \"Precompiled\""},
      {"template unknown token",
       R"({"model": {"type": "WordPiece", "unk_token": "a", "vocab": {"a": 0}},
           "post_processor": {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "[CLS]"}}, {"Sequence": {"id": "A"}}]}})",
       absl::StatusCode::kInvalidArgument, "special token '[CLS]' is not in the vocabulary"},
      {"padding id",
       R"({"model": {"type": "WordPiece", "unk_token": "a", "vocab": {"a": 0}},
           "padding": {"strategy": "BatchLongest", "pad_id": 9}})",
       absl::StatusCode::kInvalidArgument, "pad_id 9 is not in the vocabulary"},
      {"truncation length",
       R"({"model": {"type": "WordPiece", "unk_token": "a", "vocab": {"a": 0}},
           "truncation": {"max_length": -3}})",
       absl::StatusCode::kInvalidArgument, "max_length"},
      {"unsupported pre-tokenizer",
       R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
           "pre_tokenizer": {"type": "UnicodeScripts"}})",
       absl::StatusCode::kUnimplemented, "UnicodeScripts"},
      {"unigram entry",
       R"({"model": {"type": "Unigram", "unk_id": 0, "vocab": [["a", -1.0], ["b"]]}})",
       absl::StatusCode::kInvalidArgument, "entry 1 is not [piece, score]"},
      {"unigram unk", R"({"model": {"type": "Unigram", "unk_id": 5, "vocab": [["a", -1.0]]}})",
       absl::StatusCode::kInvalidArgument, "unk_id 5 is not in the vocabulary"},
      {"metaspace scheme",
       R"({"model": {"type": "Unigram", "unk_id": 0, "vocab": [["a", -1.0]]},
           "pre_tokenizer": {"type": "Metaspace", "prepend_scheme": "sometimes"}})",
       absl::StatusCode::kInvalidArgument, "unknown prepend_scheme 'sometimes'"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(ParseHfTokenizerJson(c.json), StatusIs(c.code, HasSubstr(c.message)));
  }
}

TEST(HfJsonLoaderTest, MissingFileIsNotFound) {
  EXPECT_THAT(LoadHfTokenizerJson("/nonexistent/tokenizer.json"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/tokenizer.json")));
}

// Every prefix of a real tokenizer.json, and copies with bytes flipped, load or fail
// cleanly; whatever loads tokenizes.
TEST(HfJsonLoaderTest, DamagedFilesNeverCrash) {
  const char* source = std::getenv("JETSERVE_SOURCE_DIR");
  if (source == nullptr) GTEST_SKIP() << "JETSERVE_SOURCE_DIR is not set";
  std::ifstream in(std::string(source) + "/tests/data/tokenizer/hf/all-minilm-l6-v2/tokenizer.json",
                   std::ios::binary);
  ASSERT_TRUE(in.good());
  const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::mt19937 rng(7);
  int loaded = 0;
  for (int round = 0; round < 60; ++round) {
    std::string damaged = good;
    if (round % 2 == 0) {
      damaged.resize(rng() % good.size());
    } else {
      // Damage text and numbers, mostly keeping the JSON well-formed.
      static constexpr char kReplacements[] = {'a', 'Z', '#', '9', '-', '<', '"', '}'};
      for (int k = 0; k < 3;) {
        const size_t pos = rng() % damaged.size();
        if (!std::isalnum(static_cast<unsigned char>(damaged[pos]))) continue;
        damaged[pos] = kReplacements[rng() % (round % 4 == 1 ? 6 : sizeof(kReplacements))];
        ++k;
      }
    }
    absl::StatusOr<Vocab> vocab = ParseHfTokenizerJson(damaged);
    if (!vocab.ok()) continue;
    absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Create(*std::move(vocab));
    if (!tok.ok()) continue;
    (*tok)->Encode("Hello, world! [CLS] caf\xC3\xA9 \xFF", {.add_special = true});
    ++loaded;
  }
  std::printf("%d of 60 damaged files still loaded\n", loaded);
}

}  // namespace
}  // namespace jetserve::tokenizer
