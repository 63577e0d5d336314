// Checks every tokenizer test vector in shared/testdata/tokenizer (GGUF vocabularies with
// .inp/.out files from HF tokenizers, add_special_tokens=False) and the committed corpora
// under tests/data/tokenizer (llama.cpp and HF tokenizers outputs), plus round trips.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "engine/tokenizer/detokenizer.h"
#include "engine/tokenizer/load_tokenizer.h"
#include "engine/tokenizer/test_files.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::tokenizer {
namespace {

using ::jetserve::tokenizer::testing::CommittedTokenizerTestData;
using ::jetserve::tokenizer::testing::CorpusEntry;
using ::jetserve::tokenizer::testing::ListFiles;
using ::jetserve::tokenizer::testing::LoadCorpusTokenizer;
using ::jetserve::tokenizer::testing::ParseIdLines;
using ::jetserve::tokenizer::testing::ReadCorpusManifest;
using ::jetserve::tokenizer::testing::ReadFile;
using ::jetserve::tokenizer::testing::ReadHexLines;
using ::jetserve::tokenizer::testing::SharedTokenizerTestData;
using ::jetserve::tokenizer::testing::SplitVocabTestInputs;

TEST(TokenizerVectorsTest, SharedGgufVectorsPassExactly) {
  const std::optional<std::string> dir = SharedTokenizerTestData();
  if (!dir) GTEST_SKIP() << "no ${JETSERVE_SOURCE_DIR}/../shared/testdata/tokenizer here";
  const std::vector<std::string> models = ListFiles(*dir, ".gguf");
  ASSERT_FALSE(models.empty()) << "no .gguf files in " << *dir;
  for (const std::string& model : models) {
    SCOPED_TRACE(model);
    const std::optional<std::string> inp = ReadFile(model + ".inp");
    const std::optional<std::string> out = ReadFile(model + ".out");
    if (!inp || !out) continue;
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(model);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    const std::vector<std::string> inputs = SplitVocabTestInputs(*inp);
    const std::vector<std::vector<TokenId>> expected = ParseIdLines(*out);
    ASSERT_EQ(inputs.size(), expected.size());
    int failures = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::vector<TokenId> ids = (*tokenizer)->Encode(inputs[i], {});
      EXPECT_EQ(ids, expected[i]) << "input " << i << ": '" << inputs[i] << "'";
      failures += ids != expected[i];
    }
    std::printf("%s: %zu/%zu vectors pass\n", model.c_str(), inputs.size() - failures,
                inputs.size());
  }
}

// Every vocabulary in the manifest against the committed reference ids of the corpus,
// plain (no BOS/EOS, special text as text) and special (BOS/EOS, special text parsed).
TEST(TokenizerVectorsTest, CorpusMatchesReferenceImplementations) {
  const std::optional<std::string> data = CommittedTokenizerTestData();
  if (!data) GTEST_SKIP() << "JETSERVE_SOURCE_DIR is not set";
  const std::optional<std::vector<std::string>> corpus = ReadHexLines(*data + "/corpus.hex");
  ASSERT_TRUE(corpus.has_value()) << "no corpus.hex in " << *data;
  ASSERT_EQ(corpus->size(), 1000u);
  const std::vector<CorpusEntry> entries = ReadCorpusManifest();
  ASSERT_FALSE(entries.empty());
  int checked = 0;
  for (const CorpusEntry& entry : entries) {
    SCOPED_TRACE(entry.name + " vs " + entry.oracle);
    std::error_code ec;
    if (entry.model.empty() || !std::filesystem::exists(entry.model, ec)) {
      std::printf("%s (%s): model %s not present, skipped\n", entry.name.c_str(),
                  entry.oracle.c_str(), entry.model.c_str());
      continue;
    }
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadCorpusTokenizer(entry);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    const bool hf = entry.oracle == "hf";
    for (const bool special : {false, true}) {
      const std::string mode = special ? "special" : "plain";
      const std::string expected_path =
          *data + "/expected/" + entry.name + "." + entry.oracle + "." + mode + ".ids";
      const std::optional<std::string> expected_text = ReadFile(expected_path);
      ASSERT_TRUE(expected_text.has_value()) << "missing " << expected_path;
      const std::vector<std::vector<TokenId>> expected = ParseIdLines(*expected_text);
      ASSERT_EQ(expected.size(), corpus->size()) << expected_path;
      int agree = 0;
      int reported = 0;
      for (size_t i = 0; i < corpus->size(); ++i) {
        // HF takes Python strings: the oracle decoded the bytes with errors="replace".
        const std::string text = hf ? ToValidUtf8((*corpus)[i]) : (*corpus)[i];
        const std::vector<TokenId> ids =
            (*tokenizer)->Encode(text, {.add_special = special, .parse_special = special});
        if (ids == expected[i]) {
          ++agree;
        } else if (reported++ < 5) {
          ADD_FAILURE() << mode << " corpus line " << i + 1 << ": got "
                        << ::testing::PrintToString(ids) << " want "
                        << ::testing::PrintToString(expected[i]);
        }
      }
      std::printf("%s vs %s (%s): %d/%zu agree\n", entry.name.c_str(), entry.oracle.c_str(),
                  mode.c_str(), agree, corpus->size());
      EXPECT_EQ(agree, static_cast<int>(corpus->size()));
    }
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

// Decode(reference plain ids) against the reference's own detokenization: llama.cpp's
// detokenize (bytes) and HF decode(skip_special_tokens=True) (text).
TEST(TokenizerVectorsTest, CorpusDecodesLikeReferenceImplementations) {
  const std::optional<std::string> data = CommittedTokenizerTestData();
  if (!data) GTEST_SKIP() << "JETSERVE_SOURCE_DIR is not set";
  int checked = 0;
  for (const CorpusEntry& entry : ReadCorpusManifest()) {
    std::error_code ec;
    if (entry.model.empty() || !std::filesystem::exists(entry.model, ec)) continue;
    const std::string prefix = *data + "/expected/" + entry.name + "." + entry.oracle;
    const std::optional<std::vector<std::string>> decoded = ReadHexLines(prefix + ".decode.hex");
    if (!decoded) continue;
    const std::optional<std::string> ids_text = ReadFile(prefix + ".plain.ids");
    ASSERT_TRUE(ids_text.has_value());
    const std::vector<std::vector<TokenId>> ids = ParseIdLines(*ids_text);
    ASSERT_EQ(ids.size(), decoded->size());
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadCorpusTokenizer(entry);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    SCOPED_TRACE(entry.name + " " + entry.oracle);
    int agree = 0;
    int reported = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      // llama-cpp-python's detokenize keeps the leading space; HF's decoders say.
      std::string mine =
          (*tokenizer)->Decode(ids[i], {.strip_leading_space = entry.oracle == "hf"});
      if (entry.oracle == "hf") mine = ToValidUtf8(mine);
      if (mine == (*decoded)[i]) {
        ++agree;
      } else if (reported++ < 3) {
        ADD_FAILURE() << "line " << i + 1 << ": got \"" << absl::CHexEscape(mine) << "\" want \""
                      << absl::CHexEscape((*decoded)[i]) << "\"";
      }
    }
    std::printf("%s vs %s (decode): %d/%zu agree\n", entry.name.c_str(), entry.oracle.c_str(),
                agree, ids.size());
    EXPECT_EQ(agree, static_cast<int>(ids.size()));
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

bool AllBytesHaveTokens(const Tokenizer& tokenizer, std::string_view text) {
  for (const char c : text) {
    std::string encoded;
    AppendByteLevel(std::string_view(&c, 1), &encoded);
    if (tokenizer.Find(encoded) == kNoToken) return false;
  }
  return true;
}

// Decode(Encode(text)) gives the text back for every corpus string the model can
// represent: valid UTF-8 (invalid bytes become U+FFFD in byte-level BPE, and llama.cpp's
// SPM symbol split glues a truncated sequence to the next "▁"), without a literal "▁" for
// SPM (it decodes as a space, as in SentencePiece), and with only bytes the vocabulary
// has a token for (Falcon has none for \v). WordPiece normalizes and HF ByteLevel with
// add_prefix_space keeps the added space (as HF decodes), so they are left out.
TEST(TokenizerVectorsTest, CorpusRoundTripsExactly) {
  const std::optional<std::string> data = CommittedTokenizerTestData();
  if (!data) GTEST_SKIP() << "JETSERVE_SOURCE_DIR is not set";
  const std::optional<std::vector<std::string>> corpus = ReadHexLines(*data + "/corpus.hex");
  ASSERT_TRUE(corpus.has_value());
  for (const CorpusEntry& entry : ReadCorpusManifest()) {
    std::error_code ec;
    if (entry.model.empty() || !std::filesystem::exists(entry.model, ec)) continue;
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadCorpusTokenizer(entry);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    const ModelKind model = (*tokenizer)->vocab().model;
    if (model == ModelKind::kWordPiece) continue;
    // HF ByteLevel's prefix space stays in the decoded text (HF decodes it so too).
    if ((*tokenizer)->vocab().hf_add_prefix_space) continue;
    SCOPED_TRACE(entry.name + " " + entry.oracle);
    int exact = 0;
    int tried = 0;
    for (const std::string& text : *corpus) {
      if (!IsValidUtf8(text)) continue;
      const bool metaspace = (*tokenizer)->vocab().hf_metaspace.enabled;
      const bool spm_like = model == ModelKind::kSpm || model == ModelKind::kUnigram || metaspace;
      if (spm_like && text.find("\xE2\x96\x81") != std::string::npos) continue;
      // HF Unigram's lattice (and HF BPE's vocabulary) also holds "<0xFF>" and control pieces
      // such as "</s>", which plain text can reach; and Metaspace adds "▁" only to text not
      // starting with one.
      bool changed_by_normalizer = false;
      for (const HfNormalizerStep& step : (*tokenizer)->vocab().hf_normalizers) {
        if (step.kind == HfNormalizerStep::Kind::kUnicode) {
          changed_by_normalizer |= NormalizeUtf8(text, step.text) != text;
        }
      }
      if (changed_by_normalizer) continue;
      const bool starts_with_space = !text.empty() && text[0] == ' ';
      if ((model == ModelKind::kUnigram || metaspace) &&
          (text.find('<') != std::string::npos || (metaspace && starts_with_space))) {
        continue;
      }
      if (model == ModelKind::kBpe && (*tokenizer)->vocab().byte_level &&
          !AllBytesHaveTokens(**tokenizer, text)) {
        continue;
      }

      ++tried;
      const std::vector<TokenId> ids = (*tokenizer)->Encode(text, {});
      const std::string back = (*tokenizer)->Decode(ids, {});
      if (back == text) {
        ++exact;
      } else {
        ADD_FAILURE() << "round trip of \"" << absl::CHexEscape(text) << "\" gave \""
                      << absl::CHexEscape(back) << "\"";
      }
    }
    std::printf("%s (%s): %d/%d round trips exact\n", entry.name.c_str(), entry.oracle.c_str(),
                exact, tried);
    EXPECT_GT(tried, 200);
  }
}

}  // namespace
}  // namespace jetserve::tokenizer
