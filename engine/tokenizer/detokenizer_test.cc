// Streaming detokenization property: for any token stream and any way of splitting it,
// the deltas are valid UTF-8 and concatenate to ToValidUtf8(Decode(all ids)).
#include "engine/tokenizer/detokenizer.h"

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "engine/tokenizer/load_tokenizer.h"
#include "engine/tokenizer/test_files.h"
#include "engine/tokenizer/unicode.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jetserve::tokenizer {
namespace {

TEST(ToValidUtf8Test, ReplacesMaximalSubparts) {
  EXPECT_EQ(ToValidUtf8("abc"), "abc");
  EXPECT_EQ(ToValidUtf8("\xC3\xA9"), "\xC3\xA9");
  EXPECT_EQ(ToValidUtf8("\xE2\x82"), "\xEF\xBF\xBD");  // truncated: one U+FFFD
  EXPECT_EQ(ToValidUtf8("\xE2\x82x"), "\xEF\xBF\xBDx");
  EXPECT_EQ(ToValidUtf8("\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // each stray byte
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(ToValidUtf8("\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(ToValidUtf8("\xF4\x90\x80\x80"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // past U+10FFFF
}

// Checks the property for one id stream: per-token deltas, then random regroupings of the
// same bytes through PushBytes.
void CheckStream(const Tokenizer& tokenizer, const std::vector<TokenId>& ids, std::mt19937* rng) {
  const std::string expected = ToValidUtf8(tokenizer.Decode(ids, {}));
  StreamingDetokenizer stream(tokenizer, {});
  std::string joined;
  for (const TokenId id : ids) {
    const std::string delta = stream.Push(id);
    ASSERT_TRUE(IsValidUtf8(delta));
    joined += delta;
  }
  joined += stream.Finish();
  ASSERT_EQ(joined, expected);

  // The same bytes cut at random points (inside characters too).
  // The bytes the per-token stream saw (byte runs resolved as Decode does).
  const std::string raw = tokenizer.Decode(ids, {});
  StreamingDetokenizer bytes_stream(tokenizer, {});
  std::string rejoined;
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t n = std::min(raw.size() - pos, static_cast<size_t>((*rng)() % 5));
    const std::string delta = bytes_stream.PushBytes(std::string_view(raw).substr(pos, n));
    ASSERT_TRUE(IsValidUtf8(delta));
    rejoined += delta;
    pos += n;
  }
  rejoined += bytes_stream.Finish();
  ASSERT_EQ(rejoined, expected);
}

TEST(StreamingDetokenizerTest, AnySplitGivesTheSameValidText) {
  const std::optional<std::string> data = testing::CommittedTokenizerTestData();
  if (!data) GTEST_SKIP() << "JETSERVE_SOURCE_DIR is not set";
  const std::optional<std::vector<std::string>> corpus =
      testing::ReadHexLines(*data + "/corpus.hex");
  ASSERT_TRUE(corpus.has_value());
  std::mt19937 rng(4);
  int checked = 0;
  for (const testing::CorpusEntry& entry : testing::ReadCorpusManifest()) {
    std::error_code ec;
    if (entry.model.empty() || !std::filesystem::exists(entry.model, ec)) continue;
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = testing::LoadCorpusTokenizer(entry);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    SCOPED_TRACE(entry.name + " " + entry.oracle);
    for (const std::string& text : *corpus) {
      CheckStream(**tokenizer, (*tokenizer)->Encode(text, {}), &rng);
      if (::testing::Test::HasFatalFailure()) return;
    }
    // Arbitrary id streams: byte tokens and pieces in any order.
    std::uniform_int_distribution<TokenId> any_id(0, (*tokenizer)->size() - 1);
    for (int round = 0; round < 200; ++round) {
      std::vector<TokenId> ids(rng() % 12);
      for (TokenId& id : ids) id = any_id(rng);
      CheckStream(**tokenizer, ids, &rng);
      if (::testing::Test::HasFatalFailure()) return;
    }
    ++checked;
  }
  std::printf("streaming property checked on %d vocabularies\n", checked);
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace jetserve::tokenizer
