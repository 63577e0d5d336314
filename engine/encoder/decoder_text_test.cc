// DecoderText (Embed and zero-shot Classify on a decoder model) against llama.cpp
// (tests/oracles/decoder/make_task_refs.py → tests/data/decoder/*.tasks.json): pooled
// embeddings of llama.cpp's embedding mode (LAST and MEAN) and the label tokens'
// log-probabilities under llama.cpp's logits. Skips when the model file is absent.
#include "engine/encoder/decoder_text.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/decoder_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/test_files.h"

namespace jetserve::encoder {
namespace {

using ::jetserve::testing::ModelPath;
using ::jetserve::testing::ReadJson;
using ::jetserve::testing::SourcePath;
using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr char kModel[] = "SmolLM2-135M-Instruct.Q4_1";

std::vector<float> Normalized(std::vector<float> v) {
  double s = 0;
  for (const float x : v) s += static_cast<double>(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(s));
  return v;
}

class DecoderTextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = ModelPath(std::string(kModel) + ".gguf");
    if (!::jetserve::testing::FileExists(path)) GTEST_SKIP() << path << " is absent";
    auto m = runtime::OpenDecoderModel(path);
    ASSERT_OK(m);
    model_ = std::move(*m);
    refs_ = ReadJson(SourcePath("tests/data/decoder/") + kModel + ".tasks.json");
    ASSERT_FALSE(refs_.is_discarded());
    dt_ = std::make_unique<DecoderText>(*model_.decoder, *model_.tokenizer, 512);
  }

  runtime::DecoderModel model_;
  Json refs_;
  std::unique_ptr<DecoderText> dt_;
  ThreadPool pool_{2};
};

TEST_F(DecoderTextTest, EmbeddingsMatchLlamaCpp) {
  const std::vector<std::string> texts = refs_["texts"];
  for (const auto& [name, pooling] :
       {std::pair{"last", Pooling::kLast}, std::pair{"mean", Pooling::kMean}}) {
    std::vector<int32_t> tokens;
    auto raw =
        dt_->Embed(texts, {.pooling = pooling, .normalize = false}, &pool_, nullptr, &tokens);
    ASSERT_OK(raw);
    // Normalized: as Embed's default does it (checked on one text; the rest normalized here).
    auto unit = dt_->Embed({texts[0]}, {.pooling = pooling}, &pool_);
    ASSERT_OK(unit);
    for (size_t k = 0; k < (*unit)[0].size(); ++k) {
      EXPECT_NEAR((*unit)[0][k], Normalized((*raw)[0])[k], 1e-7);
    }
    for (size_t i = 1; i < texts.size(); ++i) unit->push_back(Normalized((*raw)[i]));
    double worst = 0, worst_raw = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      const Json& r = refs_["embed"][name][i];
      auto ids = dt_->EmbedTokens(texts[i], Truncation::kNone);
      ASSERT_OK(ids);
      EXPECT_EQ(*ids, r["tokens"].get<std::vector<int32_t>>()) << texts[i];
      EXPECT_EQ(tokens[i], static_cast<int32_t>(ids->size()));
      const std::vector<float> ref = r["values"];
      const std::vector<float> ref_unit = Normalized(ref);
      ASSERT_EQ((*unit)[i].size(), ref.size());
      double norm = 0;
      for (size_t k = 0; k < ref.size(); ++k) {
        worst = std::max(worst, static_cast<double>(std::fabs((*unit)[i][k] - ref_unit[k])));
        worst_raw = std::max(worst_raw, static_cast<double>(std::fabs((*raw)[i][k] - ref[k])));
        norm += static_cast<double>((*unit)[i][k]) * (*unit)[i][k];
      }
      EXPECT_NEAR(norm, 1.0, 1e-5);
    }
    std::printf("%s pooling vs llama.cpp: normalized max |diff| %.3g, raw %.3g\n", name, worst,
                worst_raw);
    EXPECT_LT(worst, 1e-4) << name;
  }
}

TEST_F(DecoderTextTest, LabelLogLikelihoodsMatchLlamaCpp) {
  double worst = 0, worst_p = 0;
  for (const Json& c : refs_["zero_shot"]) {
    std::vector<std::string> labels;
    std::vector<double> sums, means;
    for (const Json& l : c["labels"]) {
      labels.push_back(l["label"]);
      double s = 0;
      for (const double v : l["logprobs"]) s += v;
      sums.push_back(s);
      means.push_back(std::exp(s / static_cast<double>(l["logprobs"].size())));
    }
    int32_t ctx_tokens = 0;
    auto lps = dt_->LabelLogProbs(c["text"], labels, c["template"], Truncation::kNone, &pool_,
                                  &ctx_tokens);
    ASSERT_OK(lps);
    EXPECT_EQ(ctx_tokens, static_cast<int32_t>(c["context_tokens"].size()));
    for (size_t i = 0; i < labels.size(); ++i) {
      const std::vector<double> ref = c["labels"][i]["logprobs"];
      ASSERT_EQ((*lps)[i].size(), ref.size()) << labels[i];
      for (size_t j = 0; j < ref.size(); ++j) {
        worst = std::max(worst, std::fabs((*lps)[i][j] - ref[j]));
      }
    }
    // Softmax over the labels' summed log-likelihoods, from the reference's sums.
    const double mx = *std::max_element(sums.begin(), sums.end());
    double z = 0;
    for (const double s : sums) z += std::exp(s - mx);
    // multi_label on the last case only (each ZeroShot call reruns the model).
    std::vector<bool> modes{false};
    if (&c == &refs_["zero_shot"].back()) modes.push_back(true);
    for (const bool multi : modes) {
      auto scores = dt_->ZeroShot(
          c["text"], labels, {.hypothesis_template = c["template"], .multi_label = multi}, &pool_);
      ASSERT_OK(scores);
      ASSERT_EQ(scores->size(), labels.size());
      for (size_t k = 1; k < scores->size(); ++k) {
        EXPECT_GE((*scores)[k - 1].score, (*scores)[k].score);  // best first
      }
      for (const LabelScore& s : *scores) {
        const size_t i = std::find(labels.begin(), labels.end(), s.label) - labels.begin();
        ASSERT_LT(i, labels.size());
        const double want = multi ? means[i] : std::exp(sums[i] - mx) / z;
        worst_p = std::max(worst_p, std::fabs(s.score - want));
      }
    }
  }
  std::printf("label token log-probs vs llama.cpp: max |diff| %.3g; scores %.3g\n", worst, worst_p);
  EXPECT_LT(worst, 1e-3);
  EXPECT_LT(worst_p, 1e-3);
}

TEST_F(DecoderTextTest, ZeroShotPicksTheObviousLabel) {
  auto s = dt_->ZeroShot("Preheat the oven and whisk the eggs with sugar until fluffy.",
                         std::vector<std::string>{"sports", "finance", "cooking"},
                         {.hypothesis_template = "This example is about {}."}, &pool_);
  ASSERT_OK(s);
  EXPECT_EQ((*s)[0].label, "cooking");
  double total = 0;
  for (const LabelScore& l : *s) total += l.score;
  EXPECT_NEAR(total, 1.0, 1e-5);
}

// Causal attention: a token's hidden state depends only on the tokens before it, so the
// mean-pooled embedding of a text cut to its first k tokens (kEnd) is the mean of the
// full text's first k hidden states; kStart keeps the last k tokens, evaluated alone.
TEST_F(DecoderTextTest, TruncationKeepsTheRightEnd) {
  const std::string text =
      "Stock markets fell sharply on Monday after the central bank raised interest rates.";
  auto full = dt_->EmbedTokens(text, Truncation::kNone);
  ASSERT_OK(full);
  constexpr size_t k = 6;
  ASSERT_GT(full->size(), k);
  DecoderText small(*model_.decoder, *model_.tokenizer, k);
  EXPECT_THAT(small.Embed({text}, {}, &pool_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("over the model's limit")));
  bool cut = false;
  auto end = small.EmbedTokens(text, Truncation::kEnd, &cut);
  ASSERT_OK(end);
  EXPECT_TRUE(cut);
  EXPECT_EQ(*end, std::vector<int32_t>(full->begin(), full->begin() + k));
  auto start = small.EmbedTokens(text, Truncation::kStart);
  ASSERT_OK(start);
  EXPECT_EQ(*start, std::vector<int32_t>(full->end() - k, full->end()));

  const int64_t d = model_.decoder->config().n_embd;
  model::RunState state(*model_.decoder, {.max_rows = 64, .n_ctx = 64, .threads = 2});
  model::KvCache cache(model_.decoder->config(), 64);
  std::vector<float> hidden(full->size() * d);
  ASSERT_OK(model_.decoder->EvalHidden(*full, &cache, &state, &pool_, hidden.data()));
  std::vector<float> mean(d);
  for (int64_t i = 0; i < d; ++i) {
    double s = 0;
    for (size_t t = 0; t < k; ++t) s += hidden[t * d + i];
    mean[i] = static_cast<float>(s / k);
  }
  std::vector<uint8_t> truncated;
  auto e = small.Embed(
      {text}, {.pooling = Pooling::kMean, .normalize = false, .truncation = Truncation::kEnd},
      &pool_, &truncated);
  ASSERT_OK(e);
  EXPECT_EQ(truncated, std::vector<uint8_t>{1});
  for (int64_t i = 0; i < d; ++i) EXPECT_NEAR((*e)[0][i], mean[i], 1e-4) << i;
  // The last token of the kStart cut is the text's last token, but it sees fewer tokens.
  auto last_start = small.Embed(
      {text}, {.pooling = Pooling::kLast, .normalize = false, .truncation = Truncation::kStart},
      &pool_);
  ASSERT_OK(last_start);
  double diff = 0;
  for (int64_t i = 0; i < d; ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>((*last_start)[0][i]) -
                                    hidden[(full->size() - 1) * d + i]));
  }
  EXPECT_GT(diff, 1e-3);
}

TEST_F(DecoderTextTest, DimensionsCutAndRenormalize) {
  auto full = dt_->Embed({"The cat sat on the mat."}, {}, &pool_);
  auto cut = dt_->Embed({"The cat sat on the mat."}, {.dimensions = 64}, &pool_);
  ASSERT_OK(full);
  ASSERT_OK(cut);
  ASSERT_EQ((*cut)[0].size(), 64u);
  double s = 0;
  for (size_t i = 0; i < 64; ++i) s += static_cast<double>((*full)[0][i]) * (*full)[0][i];
  for (size_t i = 0; i < 64; ++i) {
    EXPECT_NEAR((*cut)[0][i], (*full)[0][i] / std::sqrt(s), 1e-6);
  }
  EXPECT_THAT(dt_->Embed({"x"}, {.dimensions = 100000}, &pool_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dimensions")));
}

TEST_F(DecoderTextTest, BadZeroShotRequests) {
  const std::vector<std::string> labels{"a", "b"};
  EXPECT_THAT(dt_->ZeroShot("text", labels, {.hypothesis_template = "no label"}, &pool_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("{}")));
  EXPECT_THAT(dt_->ZeroShot("text", {}, {}, &pool_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no candidate labels")));
  EXPECT_THAT(dt_->ZeroShot("text", std::vector<std::string>{""}, {}, &pool_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("label 0 is empty")));
  DecoderText tiny(*model_.decoder, *model_.tokenizer, 8);
  const std::string long_text(400, 'x');
  EXPECT_THAT(tiny.ZeroShot(long_text, labels, {}, &pool_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("over the model's limit")));
  auto cut = tiny.ZeroShot(long_text, labels, {.truncation = Truncation::kStart}, &pool_);
  ASSERT_OK(cut);
  EXPECT_EQ(cut->size(), 2u);
}

}  // namespace
}  // namespace jetserve::encoder
