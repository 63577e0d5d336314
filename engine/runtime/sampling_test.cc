// Samplers checked against hand-derived values and analytic distributions (chi-square over
// 10,000 seeded draws), seeds reproduce, logprobs follow the documented definition.
#include "engine/runtime/sampling.h"

#include <cmath>
#include <map>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::runtime {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::vector<int32_t> Ids(const Candidates& c) {
  std::vector<int32_t> ids;
  for (const TokenCandidate& t : c.items()) ids.push_back(t.id);
  return ids;
}

std::unique_ptr<Sampler> Make(const SamplingOptions& o, int32_t vocab) {
  auto s = Sampler::Create(o, vocab, 1024);
  EXPECT_OK(s.status());
  return std::move(*s);
}

// Chi-square statistic of observed counts against expected probabilities.
double ChiSquare(const std::map<int32_t, int>& counts, const std::map<int32_t, double>& expect,
                 int draws) {
  double chi = 0;
  for (const auto& [id, p] : expect) {
    const double e = p * draws;
    const auto it = counts.find(id);
    const double o = it == counts.end() ? 0 : it->second;
    chi += (o - e) * (o - e) / e;
  }
  return chi;
}

std::map<int32_t, int> Draw(Sampler& s, const std::vector<float>& logits, int n) {
  std::map<int32_t, int> counts;
  for (int i = 0; i < n; ++i) ++counts[s.Sample(logits)];
  return counts;
}

// Softmax of logits / t over the given ids (the analytic distribution).
std::map<int32_t, double> Expected(const std::vector<float>& logits, std::vector<int32_t> ids,
                                   double t) {
  double z = 0;
  for (int32_t id : ids) z += std::exp(logits[id] / t);
  std::map<int32_t, double> out;
  for (int32_t id : ids) out[id] = std::exp(logits[id] / t) / z;
  return out;
}

const std::vector<float> kLogits = {1.0f, 2.0f, 0.5f, 3.0f, -1.0f};

TEST(SamplingTest, GreedyPicksArgmaxLowestIdOnTies) {
  auto s = Make({.temperature = 0}, 5);
  EXPECT_EQ(s->Sample(kLogits), 3);
  EXPECT_EQ(s->Sample(std::vector<float>{1, 4, 4, 0}), 1);
}

TEST(SamplingTest, PenaltiesFollowTheFormulaOnAHandExample) {
  auto p = MakePenalties(4, 64, /*repeat=*/2.f, /*frequency=*/0.5f, /*presence=*/0.25f);
  for (int32_t t : {0, 0, 1}) p->Accept(t);
  Candidates c;
  c.Reset(std::vector<float>{2.f, -1.f, 0.5f, 3.f});
  p->Apply(c);
  // token 0: 2 / 2 - (2 * 0.5 + 0.25) = -0.25; token 1: -1 * 2 - (0.5 + 0.25) = -2.75.
  EXPECT_FLOAT_EQ(c.items()[0].logit, -0.25f);
  EXPECT_FLOAT_EQ(c.items()[1].logit, -2.75f);
  EXPECT_FLOAT_EQ(c.items()[2].logit, 0.5f);
  EXPECT_FLOAT_EQ(c.items()[3].logit, 3.f);
}

TEST(SamplingTest, PenaltiesLookOnlyAtTheLastNTokens) {
  auto p = MakePenalties(4, 2, 1.f, 0.f, 1.f);
  for (int32_t t : {0, 1, 2}) p->Accept(t);  // 0 has left the window
  Candidates c;
  c.Reset(std::vector<float>{0.f, 0.f, 0.f, 0.f});
  p->Apply(c);
  EXPECT_FLOAT_EQ(c.items()[0].logit, 0.f);
  EXPECT_FLOAT_EQ(c.items()[1].logit, -1.f);
  EXPECT_FLOAT_EQ(c.items()[2].logit, -1.f);
}

TEST(SamplingTest, TopKKeepsTheKLargest) {
  Candidates c;
  c.Reset(kLogits);
  MakeTopK(2)->Apply(c);
  EXPECT_THAT(Ids(c), UnorderedElementsAre(3, 1));
}

TEST(SamplingTest, TopPKeepsTheMinimalSet) {
  // Probabilities 0.5, 0.3, 0.15, 0.05.
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f),
                                     std::log(0.05f)};
  for (const auto& [p, want] :
       std::vector<std::pair<float, size_t>>{{0.4f, 1}, {0.75f, 2}, {0.9f, 3}, {0.99f, 4}}) {
    Candidates c;
    c.Reset(logits);
    MakeTopP(p)->Apply(c);
    EXPECT_EQ(c.items().size(), want) << "top_p " << p;
    // Minimal: the kept mass reaches p, without the last kept token it does not.
    double kept = 0;
    for (const TokenCandidate& t : c.items()) kept += std::exp(logits[t.id]);
    EXPECT_GE(kept, p - 1e-6);
    EXPECT_LT(kept - std::exp(logits[c.items().back().id]), p);
  }
}

TEST(SamplingTest, MinPDropsTokensBelowTheFractionOfTheMax) {
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f),
                                     std::log(0.05f)};
  Candidates c;
  c.Reset(logits);
  MakeMinP(0.25f)->Apply(c);  // threshold 0.125: keeps 0.5, 0.3, 0.15
  EXPECT_THAT(Ids(c), UnorderedElementsAre(0, 1, 2));
}

TEST(SamplingTest, TypicalPKeepsTokensClosestToTheEntropy) {
  // p = 0.4, 0.3, 0.2, 0.1: entropy H = 1.2799; |-log p - H|: 0.364, 0.076, 0.330, 1.023.
  // Ordered 1, 2, 0, 3; cumulative 0.3, 0.5, 0.9 -> typical_p 0.45 keeps {1, 2}.
  const std::vector<float> logits = {std::log(0.4f), std::log(0.3f), std::log(0.2f),
                                     std::log(0.1f)};
  Candidates c;
  c.Reset(logits);
  MakeTypicalP(0.45f)->Apply(c);
  EXPECT_THAT(Ids(c), UnorderedElementsAre(1, 2));
}

TEST(SamplingTest, EmpiricalDistributionsMatchAnalyticOnes) {
  constexpr int kDraws = 10000;
  // Critical chi-square values at p = 0.001: df 2: 13.82, df 4: 18.47.
  {
    auto s = Make({.temperature = 1.f, .seed = 7}, 5);
    EXPECT_LT(ChiSquare(Draw(*s, kLogits, kDraws), Expected(kLogits, {0, 1, 2, 3, 4}, 1.0), kDraws),
              18.47);
  }
  {
    auto s = Make({.temperature = 0.8f, .top_k = 3, .seed = 8}, 5);
    auto counts = Draw(*s, kLogits, kDraws);
    EXPECT_EQ(counts.count(2) + counts.count(4), 0u);
    EXPECT_LT(ChiSquare(counts, Expected(kLogits, {0, 1, 3}, 0.8), kDraws), 13.82);
  }
  {
    // top_p 0.9 sees p = (id 3: 0.624, id 1: 0.229, id 0: 0.084, 0.051, 0.011): keeps 3 tokens
    // (0.624 + 0.229 < 0.9 <= + 0.084); temperature 2 applies after truncation.
    auto s = Make({.temperature = 2.f, .top_p = 0.9f, .seed = 9}, 5);
    EXPECT_LT(ChiSquare(Draw(*s, kLogits, kDraws), Expected(kLogits, {3, 1, 0}, 2.0), kDraws),
              13.82);
  }
  {
    // min_p 0.2: p_max 0.624 -> threshold 0.125 keeps ids 3, 1 (0.229); df 1: 10.83.
    auto s = Make({.temperature = 1.f, .min_p = 0.2f, .seed = 10}, 5);
    EXPECT_LT(ChiSquare(Draw(*s, kLogits, kDraws), Expected(kLogits, {3, 1}, 1.0), kDraws), 10.83);
  }
}

TEST(SamplingTest, SeedsReproduce) {
  auto a = Make({.temperature = 1.f, .seed = 42}, 5);
  auto b = Make({.temperature = 1.f, .seed = 42}, 5);
  auto c = Make({.temperature = 1.f, .seed = 43}, 5);
  std::vector<int32_t> ra, rb, rc;
  for (int i = 0; i < 200; ++i) {
    ra.push_back(a->Sample(kLogits));
    rb.push_back(b->Sample(kLogits));
    rc.push_back(c->Sample(kLogits));
  }
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra, rc);
}

TEST(SamplingTest, LogitBiasBansAndForces) {
  auto ban = Make({.temperature = 0, .logit_bias = {{3, -100.f}}}, 5);
  EXPECT_EQ(ban->Sample(kLogits), 1);
  auto force = Make({.temperature = 1.f, .logit_bias = {{4, 100.f}}, .seed = 1}, 5);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(force->Sample(kLogits), 4);
  auto shift = Make({.temperature = 0, .logit_bias = {{0, 2.5f}}}, 5);
  EXPECT_EQ(shift->Sample(kLogits), 0);  // 1 + 2.5 > 3
}

TEST(SamplingTest, LogprobsAreLogSoftmaxAfterBiasAndTemperature) {
  auto s = Make({.temperature = 2.f, .top_k = 1, .logit_bias = {{0, 1.f}}, .seed = 3}, 5);
  const int32_t tok = s->Sample(kLogits);
  EXPECT_EQ(tok, 3);  // top_k 1 truncates, but logprobs see the full distribution
  std::vector<float> adj = kLogits;
  adj[0] += 1.f;
  double z = 0;
  for (float l : adj) z += std::exp(l / 2.0);
  EXPECT_NEAR(s->LastLogprob(3), 3.0 / 2.0 - std::log(z), 1e-5);
  std::vector<LogprobEntry> top;
  s->LastTopLogprobs(2, &top);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].token, 3);
  EXPECT_EQ(top[1].token, 0);  // 2.0 after bias ties with id 1; lower id first
  EXPECT_NEAR(top[1].logprob, 2.0 / 2.0 - std::log(z), 1e-5);
}

TEST(SamplingTest, InvalidOptionsNameTheField) {
  EXPECT_THAT(Sampler::Create({.top_p = 0.f}, 5, 16),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("top_p")));
  EXPECT_THAT(Sampler::Create({.temperature = -1.f}, 5, 16),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("temperature")));
  EXPECT_THAT(Sampler::Create({.top_k = 6}, 5, 16),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("top_k")));
  EXPECT_THAT(Sampler::Create({.logit_bias = {{7, 1.f}}}, 5, 16),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("token id 7")));
  EXPECT_THAT(Sampler::Create({.repetition_penalty = 0.f}, 5, 16),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("repetition_penalty")));
}

}  // namespace
}  // namespace jetserve::runtime
