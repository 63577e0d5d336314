// URL resolution and cache-folder rules of `jetserve pull` (downloads are covered by
// tests/service/pull_test.sh against a local server).
#include "tools/jetserve/pull_command.h"

#include <stdlib.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::cli {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;

std::string Resolved(const std::string& url) {
  absl::StatusOr<std::string> r = ResolvePullUrl(url);
  return r.ok() ? *r : std::string(r.status().message());
}

TEST(PullCommandTest, HfUrlsMapToTheHubsResolveEndpoint) {
  EXPECT_EQ(Resolved("hf://HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/model-q4_1.gguf"),
            "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/"
            "resolve/main/model-q4_1.gguf");
  EXPECT_EQ(Resolved("hf://org/repo/sub/dir/file.gguf"),
            "https://huggingface.co/org/repo/resolve/main/sub/dir/file.gguf");
  EXPECT_EQ(Resolved("https://example.com/a.gguf"), "https://example.com/a.gguf");
}

TEST(PullCommandTest, BadUrlsAreUsageErrors) {
  for (const char* url :
       {"hf://org", "hf://org/repo", "hf://org/repo/", "hf:///repo/f", "hf://org//f"}) {
    EXPECT_THAT(ResolvePullUrl(url), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("expected hf://ORG/REPO/FILE")))
        << url;
  }
  EXPECT_THAT(ResolvePullUrl("model.gguf"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("http(s)://")));
}

TEST(PullCommandTest, CacheFolderFollowsJetserveModels) {
  setenv("JETSERVE_MODELS", "/srv/models", 1);
  EXPECT_EQ(DefaultModelDir(), "/srv/models");
  unsetenv("JETSERVE_MODELS");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(DefaultModelDir(), "/home/u/.cache/jetserve/models");
}

}  // namespace
}  // namespace jetserve::cli
