// The generation loop on a random-weight llama model (our generator; its byte-level
// vocabulary loads as a tokenizer): greedy equals step-by-step argmax of the decoder,
// streamed text equals the decoded tokens, and every finish reason behaves as documented.
#include "engine/runtime/generator.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/model/random_model.h"
#include "engine/tokenizer/detokenizer.h"
#include "engine/tokenizer/load_tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::runtime {
namespace {

using ::jetserve::testing::StatusIs;

class GeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::string(::testing::TempDir() + "/generator_test_" + std::to_string(::getpid()) +
                            ".gguf");
    model::RandomDecoderSpec spec;
    for (const auto& s : model::RandomDecoderSpecs()) {
      if (s.name == "llama-Q8_0.gguf") spec = s;
    }
    ASSERT_OK(model::WriteRandomDecoder(spec, *path_));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove(*path_);
    delete path_;
  }
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(decoder_, model::Decoder::Open(*path_));
    ASSERT_OK_AND_ASSIGN(tokenizer_, tokenizer::LoadTokenizer(*path_));
    gen_ = std::make_unique<Generator>(*decoder_, *tokenizer_, &pool_,
                                       GeneratorOptions{.n_ctx = 96, .max_rows = 16});
  }

  struct Run {
    std::vector<int32_t> tokens;
    std::string text;
    FinishReason finish = FinishReason::kNone;
    std::string matched_stop;
    std::vector<std::vector<int32_t>> choices;
  };
  Run Generate(const GenerateOptions& o) {
    Run r;
    r.choices.resize(static_cast<size_t>(o.n));
    absl::Status s = gen_->Generate(prompt_, o, [&](const GenerationEvent& e) {
      if (e.choice == 0) {
        r.tokens.push_back(*e.token);
        r.text += e.text;
        if (e.finish != FinishReason::kNone) {
          r.finish = e.finish;
          r.matched_stop = e.matched_stop;
        }
      }
      r.choices[static_cast<size_t>(e.choice)].push_back(*e.token);
      return true;
    });
    EXPECT_OK(s);
    return r;
  }

  static std::string* path_;
  ThreadPool pool_{2};
  std::unique_ptr<model::Decoder> decoder_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<Generator> gen_;
  std::vector<int32_t> prompt_ = {1, 300, 301, 302, 303, 40, 41};
};
std::string* GeneratorTest::path_ = nullptr;

TEST_F(GeneratorTest, GreedyEqualsStepByStepArgmax) {
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.stop.max_tokens = 12;
  o.stop.ignore_eos = true;
  Run r = Generate(o);
  EXPECT_EQ(r.finish, FinishReason::kLength);
  ASSERT_EQ(r.tokens.size(), 12u);
  // Independent loop over the decoder.
  model::KvCache cache(decoder_->config(), 96);
  model::RunState state(*decoder_, {.max_rows = 4, .n_ctx = 96, .threads = 2});
  std::vector<float> logits(static_cast<size_t>(decoder_->config().n_vocab));
  ASSERT_OK(decoder_->Eval(prompt_, false, &cache, &state, &pool_, logits.data()));
  for (size_t i = 0; i < 12; ++i) {
    const auto tok =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    EXPECT_EQ(r.tokens[i], tok) << i;
    ASSERT_OK(decoder_->Eval({&tok, 1}, false, &cache, &state, &pool_, logits.data()));
  }
  // Streamed text equals the decoded tokens.
  EXPECT_EQ(r.text, tokenizer::ToValidUtf8(tokenizer_->Decode(
                        r.tokens, {.special = false, .strip_leading_space = false})));
}

TEST_F(GeneratorTest, StopStringSplitAcrossTokensEndsTheTextBeforeIt) {
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.stop.max_tokens = 20;
  o.stop.ignore_eos = true;
  const Run free = Generate(o);
  ASSERT_GE(free.tokens.size(), 6u);
  // A stop string spanning tokens 3 and 4 (last byte of piece 3 + first of piece 4).
  const tokenizer::DecodeOptions d{.special = false, .strip_leading_space = false};
  const std::string before = tokenizer_->Decode({free.tokens.data(), 3}, d);
  const std::string p3 = tokenizer_->Decode({free.tokens.data() + 3, 1}, d);
  const std::string p4 = tokenizer_->Decode({free.tokens.data() + 4, 1}, d);
  ASSERT_FALSE(p3.empty());
  ASSERT_FALSE(p4.empty());
  const std::string stop = p3.substr(p3.size() - 1) + p4.substr(0, 1);
  o.stop.stop = {stop};
  const Run r = Generate(o);
  EXPECT_EQ(r.finish, FinishReason::kStopString);
  EXPECT_EQ(r.matched_stop, stop);
  const std::string full = free.text;
  EXPECT_EQ(r.text, full.substr(0, full.find(stop)));
}

TEST_F(GeneratorTest, MinTokensHoldsOffEosAndStopTokensEndTheChoice) {
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.sampling.logit_bias = {{2, 100.f}};  // force EOS (id 2) at every step
  o.stop.min_tokens = 3;
  Run r = Generate(o);
  EXPECT_EQ(r.finish, FinishReason::kEos);
  ASSERT_EQ(r.tokens.size(), 4u);
  EXPECT_EQ(r.tokens.back(), 2);
  EXPECT_NE(r.tokens[0], 2);

  GenerateOptions s;
  s.sampling.temperature = 0;
  s.sampling.logit_bias = {{77, 100.f}};
  s.stop.stop_token_ids = {77};
  r = Generate(s);
  EXPECT_EQ(r.finish, FinishReason::kStopToken);
  EXPECT_EQ(r.tokens, std::vector<int32_t>({77}));
  EXPECT_EQ(r.text, "");
}

TEST_F(GeneratorTest, ChoicesUseSeedPlusIndex) {
  GenerateOptions o;
  o.sampling.temperature = 1.f;
  o.sampling.seed = 11;
  o.stop.max_tokens = 8;
  o.stop.ignore_eos = true;
  o.n = 2;
  const Run both = Generate(o);
  GenerateOptions one = o;
  one.n = 1;
  one.sampling.seed = 12;
  const Run second = Generate(one);
  EXPECT_EQ(both.choices[1], second.choices[0]);
  one.sampling.seed = 11;
  EXPECT_EQ(Generate(one).choices[0], both.choices[0]);
}

TEST_F(GeneratorTest, PromptAndTokenLogprobsAreLogSoftmaxOfTheModel) {
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.stop.max_tokens = 2;
  o.logprobs = {.logprobs = true, .top_logprobs = 3, .echo_prompt = true};
  std::vector<GenerationEvent> events;
  ASSERT_OK(gen_->Generate(prompt_, o, [&](const GenerationEvent& e) {
    events.push_back(e);
    return true;
  }));
  ASSERT_EQ(events.size(), 2u);
  ASSERT_EQ(events[0].prompt_logprobs.size(), prompt_.size() - 1);
  EXPECT_TRUE(events[1].prompt_logprobs.empty());
  // Independent: all logits of prompt + first generated token, log-softmax in double.
  std::vector<int32_t> seq = prompt_;
  seq.push_back(*events[0].token);
  const int64_t vocab = decoder_->config().n_vocab;
  model::KvCache cache(decoder_->config(), 96);
  model::RunState state(*decoder_, {.max_rows = 64, .n_ctx = 96, .threads = 2});
  std::vector<float> logits(seq.size() * static_cast<size_t>(vocab));
  ASSERT_OK(decoder_->Eval(seq, true, &cache, &state, &pool_, logits.data()));
  auto log_softmax = [&](size_t row, int32_t token) {
    const float* l = logits.data() + row * vocab;
    double mx = *std::max_element(l, l + vocab), z = 0;
    for (int64_t i = 0; i < vocab; ++i) z += std::exp(l[i] - mx);
    return l[token] - mx - std::log(z);
  };
  for (size_t i = 1; i < prompt_.size(); ++i) {
    EXPECT_EQ(events[0].prompt_logprobs[i - 1].token, prompt_[i]);
    EXPECT_NEAR(events[0].prompt_logprobs[i - 1].logprob, log_softmax(i - 1, prompt_[i]), 1e-4);
  }
  for (size_t k = 0; k < 2; ++k) {
    ASSERT_TRUE(events[k].logprobs.has_value());
    const TokenLogprobs& lp = *events[k].logprobs;
    EXPECT_NEAR(lp.logprob, log_softmax(prompt_.size() - 1 + k, *events[k].token), 1e-4);
    ASSERT_EQ(lp.top.size(), 3u);
    EXPECT_EQ(lp.top[0].token, *events[k].token);  // greedy picks the most likely
    EXPECT_GE(lp.top[0].logprob, lp.top[1].logprob);
    EXPECT_GE(lp.top[1].logprob, lp.top[2].logprob);
  }
}

TEST_F(GeneratorTest, CancelAndBadRequests) {
  GenerateOptions o;
  o.stop.max_tokens = 8;
  int events = 0;
  EXPECT_THAT(gen_->Generate(prompt_, o, [&](const GenerationEvent&) { return ++events < 2; }),
              StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(events, 2);
  o.stop.max_tokens = 1000;
  EXPECT_THAT(gen_->Generate(prompt_, o, [](const GenerationEvent&) { return true; }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<int32_t> long_prompt(96, 5);
  o.stop.max_tokens = 4;
  EXPECT_THAT(gen_->Generate(long_prompt, o, [](const GenerationEvent&) { return true; }),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace jetserve::runtime
