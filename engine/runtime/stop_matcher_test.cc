#include "engine/runtime/stop_matcher.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace jetserve::runtime {
namespace {

TEST(StopMatcherTest, FindsAStopStringSplitAcrossPiecesAndWithholdsItsStart) {
  StopMatcher m({"User:"});
  StopMatcher::Result r = m.Push("Hello wor");
  EXPECT_EQ(r.text, "Hello wor");
  r = m.Push("ld!\n\nUs");
  EXPECT_EQ(r.text, "ld!\n\n");  // "Us" might begin "User:"
  EXPECT_FALSE(r.stopped);
  r = m.Push("er: hi");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.stop_index, 0);
  EXPECT_EQ(r.text, "");
}

TEST(StopMatcherTest, ReleasesWithheldTextWhenTheMatchFails) {
  StopMatcher m({"abc"});
  EXPECT_EQ(m.Push("xxab").text, "xx");
  EXPECT_EQ(m.Push("d").text, "abd");
  EXPECT_EQ(m.Push("a").text, "");
  EXPECT_EQ(m.Flush(), "a");
}

TEST(StopMatcherTest, OverlappingPrefixes) {
  StopMatcher m({"aab"});
  EXPECT_EQ(m.Push("aa").text, "");
  StopMatcher::Result r = m.Push("ab");  // "aaab" contains "aab" at 1
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "a");
}

TEST(StopMatcherTest, EarliestOfSeveralStopsWins) {
  StopMatcher m({"world", "lo"});
  StopMatcher::Result r = m.Push("hello world");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.stop_index, 1);
  EXPECT_EQ(r.text, "hel");
}

TEST(StopMatcherTest, StreamedTextEqualsTextBeforeTheStopForEverySplit) {
  const std::string text = "one two\n\nthree";
  const std::string stop = "\n\nth";
  const std::string want = text.substr(0, text.find(stop));
  for (size_t a = 0; a <= text.size(); ++a) {
    for (size_t b = a; b <= text.size(); ++b) {
      StopMatcher m({stop});
      std::string got;
      bool stopped = false;
      for (const std::string& piece : {text.substr(0, a), text.substr(a, b - a), text.substr(b)}) {
        if (stopped) break;
        StopMatcher::Result r = m.Push(piece);
        got += r.text;
        stopped = r.stopped;
      }
      EXPECT_TRUE(stopped);
      EXPECT_EQ(got, want) << a << " " << b;
    }
  }
}

TEST(StopMatcherTest, IgnoredWhileStopsAreNotAllowed) {
  StopMatcher m({"x"});
  StopMatcher::Result r = m.Push("axb", /*allow_stop=*/false);
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.text, "axb");
}

}  // namespace
}  // namespace jetserve::runtime
