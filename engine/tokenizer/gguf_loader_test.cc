// GGUF vocabulary loading: llama.cpp's defaults and keys, and a precise error (never a
// crash) for every missing key, wrong type or bad id.
#include "engine/tokenizer/gguf_loader.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "engine/format/gguf_reader.h"
#include "engine/format/gguf_writer.h"
#include "engine/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::tokenizer {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

GgufWriter SmallBpeWriter() {
  GgufWriter w;
  w.SetString("general.architecture", "gpt2");
  w.SetString("tokenizer.ggml.model", "gpt2");
  w.SetString("tokenizer.ggml.pre", "gpt-2");
  const std::vector<std::string> tokens = {"h", "i", "hi", "<|endoftext|>"};
  w.SetStringArray("tokenizer.ggml.tokens", tokens);
  w.SetInt32Array("tokenizer.ggml.token_type", std::vector<int32_t>{1, 1, 1, 3});
  const std::vector<std::string> merges = {"h i"};
  w.SetStringArray("tokenizer.ggml.merges", merges);
  w.SetUint32("tokenizer.ggml.eos_token_id", 3);
  w.SetUint32("tokenizer.ggml.bos_token_id", 3);
  return w;
}

absl::StatusOr<Vocab> Load(const GgufWriter& w, std::vector<uint8_t>* storage) {
  *storage = w.Serialize();
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::FromBuffer(*storage);
  if (!file.ok()) return file.status();
  return VocabFromGguf(**file);
}

TEST(GgufLoaderTest, LoadsBpeVocabulary) {
  std::vector<uint8_t> storage;
  absl::StatusOr<Vocab> vocab = Load(SmallBpeWriter(), &storage);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  EXPECT_EQ(vocab->model, ModelKind::kBpe);
  EXPECT_EQ(vocab->pre, PreTokenizerKind::kGpt2);
  EXPECT_EQ(vocab->special.eos, 3);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Create(*std::move(vocab));
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_THAT((*tok)->Encode("hi<|endoftext|>", {.parse_special = true}), ElementsAre(2, 3));
  EXPECT_TRUE((*tok)->IsEndOfGeneration(3));
}

TEST(GgufLoaderTest, KnowsThePreTokenizerFamilies) {
  for (const char* name :
       {"default",   "llama3",       "llama-bpe",      "qwen2",       "smollm", "starcoder",
        "falcon",    "deepseek-llm", "deepseek-coder", "deepseek-v3", "mpt",    "refact",
        "phi-2",     "gpt-2",        "command-r",      "olmo",        "dbrx",   "stablelm2",
        "poro-chat", "chatglm-bpe",  "viking",         "tekken",      "bloom"}) {
    SCOPED_TRACE(name);
    GgufWriter w = SmallBpeWriter();
    w.SetString("tokenizer.ggml.pre", name);
    std::vector<uint8_t> storage;
    absl::StatusOr<Vocab> vocab = Load(w, &storage);
    ASSERT_TRUE(vocab.ok()) << vocab.status();
    absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Create(*std::move(vocab));
    ASSERT_TRUE(tok.ok()) << tok.status();  // every family's patterns compile
    EXPECT_THAT((*tok)->Encode("hi", {}), ElementsAre(2));
  }
}

TEST(GgufLoaderTest, BadMetadataIsAPreciseError) {
  struct Case {
    const char* name;
    void (*edit)(GgufWriter*);
    absl::StatusCode code;
    const char* message;
  };
  const Case cases[] = {
      {"no model", [](GgufWriter* w) { w->Remove("tokenizer.ggml.model"); },
       absl::StatusCode::kNotFound, "tokenizer.ggml.model"},
      {"model wrong type", [](GgufWriter* w) { w->SetUint32("tokenizer.ggml.model", 1); },
       absl::StatusCode::kInvalidArgument, "tokenizer.ggml.model"},
      {"unsupported model", [](GgufWriter* w) { w->SetString("tokenizer.ggml.model", "t5"); },
       absl::StatusCode::kUnimplemented, "'t5' is not supported"},
      {"no tokens", [](GgufWriter* w) { w->Remove("tokenizer.ggml.tokens"); },
       absl::StatusCode::kNotFound, "tokenizer.ggml.tokens"},
      {"tokens wrong type",
       [](GgufWriter* w) { w->SetInt32Array("tokenizer.ggml.tokens", std::vector<int32_t>{1}); },
       absl::StatusCode::kInvalidArgument, "tokenizer.ggml.tokens"},
      {"type count",
       [](GgufWriter* w) {
         w->SetInt32Array("tokenizer.ggml.token_type", std::vector<int32_t>{1});
       },
       absl::StatusCode::kInvalidArgument, "1 types for 4 tokens"},
      {"type value",
       [](GgufWriter* w) {
         w->SetInt32Array("tokenizer.ggml.token_type", std::vector<int32_t>{1, 1, 9, 1});
       },
       absl::StatusCode::kInvalidArgument, "token 2 has unknown type 9"},
      {"score count",
       [](GgufWriter* w) { w->SetFloat32Array("tokenizer.ggml.scores", std::vector<float>{0}); },
       absl::StatusCode::kInvalidArgument, "1 scores for 4 tokens"},
      {"no merges", [](GgufWriter* w) { w->Remove("tokenizer.ggml.merges"); },
       absl::StatusCode::kNotFound, "tokenizer.ggml.merges"},
      {"bad merge",
       [](GgufWriter* w) {
         const std::vector<std::string> merges = {"hi"};
         w->SetStringArray("tokenizer.ggml.merges", merges);
       },
       absl::StatusCode::kInvalidArgument, "merge 0 'hi' is not two space-separated parts"},
      {"eos out of range", [](GgufWriter* w) { w->SetUint32("tokenizer.ggml.eos_token_id", 4); },
       absl::StatusCode::kInvalidArgument, "eos_token_id: token id 4 is out of range [0, 4)"},
      {"eos wrong type", [](GgufWriter* w) { w->SetString("tokenizer.ggml.eos_token_id", "3"); },
       absl::StatusCode::kInvalidArgument, "eos_token_id"},
      {"unknown pre", [](GgufWriter* w) { w->SetString("tokenizer.ggml.pre", "klingon"); },
       absl::StatusCode::kInvalidArgument, "unknown pre-tokenizer 'klingon'"},
      {"flag wrong type", [](GgufWriter* w) { w->SetUint32("tokenizer.ggml.add_bos_token", 1); },
       absl::StatusCode::kInvalidArgument, "add_bos_token"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    GgufWriter w = SmallBpeWriter();
    c.edit(&w);
    std::vector<uint8_t> storage;
    EXPECT_THAT(Load(w, &storage), StatusIs(c.code, HasSubstr(c.message)));
  }
}

TEST(GgufLoaderTest, MissingFileIsAnError) {
  EXPECT_FALSE(LoadGgufVocab("/nonexistent/model.gguf").ok());
}

// Damaged copies of a real vocabulary (bytes flipped anywhere, truncated) load or fail
// cleanly; whatever loads tokenizes.
TEST(GgufLoaderTest, DamagedFilesNeverCrash) {
  const char* source = std::getenv("JETSERVE_SOURCE_DIR");
  if (source == nullptr) GTEST_SKIP() << "JETSERVE_SOURCE_DIR is not set";
  std::ifstream in(std::string(source) + "/tests/data/tokenizer/vocabs/smollm2-135m.vocab.gguf",
                   std::ios::binary);
  ASSERT_TRUE(in.good());
  const std::vector<uint8_t> good((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  std::mt19937 rng(11);
  int loaded = 0;
  for (int round = 0; round < 40; ++round) {
    std::vector<uint8_t> damaged = good;
    if (round % 4 == 0) {
      damaged.resize(rng() % good.size());
    } else {
      // Damage text (token strings, merges, keys): length fields are the reader's business.
      static constexpr uint8_t kReplacements[] = {' ', 0xFF, 0xC3, 0x80, '<', 'x', 0};
      for (int k = 0; k < 4;) {
        const size_t pos = rng() % damaged.size();
        if (damaged[pos] < 'a' || damaged[pos] > 'z') continue;
        damaged[pos] = kReplacements[rng() % sizeof(kReplacements)];
        ++k;
      }
    }
    absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::FromBuffer(damaged);
    if (!file.ok()) continue;
    absl::StatusOr<Vocab> vocab = VocabFromGguf(**file);
    if (!vocab.ok()) continue;
    absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Create(*std::move(vocab));
    if (!tok.ok()) continue;
    const std::vector<TokenId> ids =
        (*tok)->Encode("Hello <|im_start|> w\xC3\xB6rld \xFF 12345", {.add_special = true});
    (*tok)->Decode(ids, {});
    ++loaded;
  }
  std::printf("%d of 40 damaged files still loaded\n", loaded);
}

}  // namespace
}  // namespace jetserve::tokenizer
