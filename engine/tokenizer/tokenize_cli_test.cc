// The tokenize CLI contract: whole input as one text, ids on one line, --special adds
// BOS/EOS and parses special-token text, a folder with tokenizer.json works.
#include "engine/tokenizer/tokenize_cli.h"

#include <sstream>
#include <string>

#include "engine/tokenizer/test_files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::tokenizer {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;

absl::StatusOr<std::string> RunCli(const std::string& model, bool special,
                                   const std::string& input) {
  std::istringstream in(input);
  std::ostringstream out;
  absl::Status status = RunTokenizeCli({.model = model, .special = special}, in, out);
  if (!status.ok()) return status;
  return out.str();
}

TEST(TokenizeCliTest, MatchesTheSharedVectors) {
  const std::optional<std::string> dir = testing::SharedTokenizerTestData();
  if (!dir) GTEST_SKIP() << "no ${JETSERVE_SOURCE_DIR}/../shared/testdata/tokenizer here";
  const std::string model = *dir + "/ggml-vocab-llama-spm.gguf";
  const std::vector<std::string> inputs =
      testing::SplitVocabTestInputs(*testing::ReadFile(model + ".inp"));
  const std::vector<std::string> outputs = [&] {
    std::vector<std::string> lines;
    std::istringstream in(*testing::ReadFile(model + ".out"));
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
  }();
  ASSERT_EQ(inputs.size(), outputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    absl::StatusOr<std::string> got = RunCli(model, false, inputs[i]);
    ASSERT_TRUE(got.ok()) << got.status();
    std::string want = outputs[i];
    while (!want.empty() && want.front() == ' ') want.erase(0, 1);
    EXPECT_EQ(*got, want + "\n") << "input " << i;
  }
  absl::StatusOr<std::string> special = RunCli(model, true, "Hello</s>");
  ASSERT_TRUE(special.ok());
  EXPECT_EQ(*special, "1 15043 2\n");  // BOS, "▁Hello", "</s>" parsed
}

TEST(TokenizeCliTest, FolderWithTokenizerJson) {
  const std::optional<std::string> data = testing::CommittedTokenizerTestData();
  if (!data) GTEST_SKIP() << "JETSERVE_SOURCE_DIR is not set";
  const std::string folder = *data + "/hf/all-minilm-l6-v2";
  EXPECT_EQ(*RunCli(folder, false, "Hello, world![SEP]"), "7592 1010 2088 999 1031 19802 1033\n");
  EXPECT_EQ(*RunCli(folder, true, "Hello, world![SEP]"), "101 7592 1010 2088 999 102 102\n");
  EXPECT_EQ(*RunCli(folder, false, ""), "\n");
}

TEST(TokenizeCliTest, Errors) {
  EXPECT_THAT(RunCli("/nonexistent/model.gguf", false, "x"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/model.gguf")));
  TokenizeCliOptions options;
  const char* no_model[] = {"--special"};
  EXPECT_THAT(ParseTokenizeCliArgs(1, no_model, &options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("-m MODEL is required")));
  const char* unknown[] = {"-m", "x", "--frobnicate"};
  EXPECT_THAT(ParseTokenizeCliArgs(3, unknown, &options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--frobnicate")));
  const char* good[] = {"-m", "model.gguf", "--special"};
  ASSERT_OK(ParseTokenizeCliArgs(3, good, &options));
  EXPECT_EQ(options.model, "model.gguf");
  EXPECT_TRUE(options.special);
}

}  // namespace
}  // namespace jetserve::tokenizer
