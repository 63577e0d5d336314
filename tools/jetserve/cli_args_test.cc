#include "tools/jetserve/cli_args.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::cli {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<OptionSpec> kSpecs = {
    {"model", 'm', true}, {"stop", '\0', true}, {"json", '\0', false}, {"temperature", 't', true}};

TEST(ParseArgs, MixesOptionsAndPositionals) {
  ASSERT_OK_AND_ASSIGN(ParsedArgs p, ParseArgs({"-m", "llama", "hello", "--stop=\n", "--stop",
                                                "END", "--json", "world", "--", "--x"},
                                               kSpecs));
  EXPECT_EQ(p.Get("model"), "llama");
  EXPECT_THAT(p.GetAll("stop"), ElementsAre("\n", "END"));
  EXPECT_TRUE(p.Has("json"));
  EXPECT_FALSE(p.Has("temperature"));
  EXPECT_THAT(p.positional(), ElementsAre("hello", "world", "--x"));
}

TEST(ParseArgs, NumbersAreChecked) {
  ASSERT_OK_AND_ASSIGN(ParsedArgs p, ParseArgs({"-t", "0.25"}, kSpecs));
  ASSERT_OK_AND_ASSIGN(std::optional<double> t, p.GetDouble("temperature"));
  EXPECT_EQ(t, 0.25);
  ASSERT_OK_AND_ASSIGN(ParsedArgs bad, ParseArgs({"-t", "warm"}, kSpecs));
  EXPECT_THAT(bad.GetDouble("temperature"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--temperature")));
}

TEST(ParseArgs, RejectsUnknownAndMissingValues) {
  EXPECT_THAT(ParseArgs({"--modle", "x"}, kSpecs),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--modle")));
  EXPECT_THAT(ParseArgs({"-q"}, kSpecs), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseArgs({"--model"}, kSpecs),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a value")));
  EXPECT_THAT(ParseArgs({"--json=1"}, kSpecs),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("takes no value")));
}

}  // namespace
}  // namespace jetserve::cli
