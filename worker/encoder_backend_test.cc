// EncoderBackend through LoadBackend on the tiny random BERT NLI classifier of
// tests/data/encoder (ONNX folder with tokenizer.json and config.json): the requests map onto
// TextEncoder (whose numbers are checked against ONNX Runtime in engine/encoder), labels and
// ordering, truncation modes, cancellation.
#include "worker/encoder_backend.h"

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "worker/backend_loader.h"

namespace jetserve::worker {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;

std::string TinyBert() {
  const char* src = std::getenv("JETSERVE_SOURCE_DIR");
  return std::string(src != nullptr ? src : ".") + "/tests/data/encoder/tiny_bert";
}

std::unique_ptr<Backend> Load(const std::string& path) {
  static NullGenerationMetrics metrics;
  auto b = LoadBackend({.model_path = path, .model_name = "tiny", .metrics = &metrics});
  EXPECT_OK(b);
  return b.ok() ? std::move(*b) : nullptr;
}

TEST(EncoderBackendTest, InfoEmbedClassifyRerankTokenize) {
  std::unique_ptr<Backend> b = Load(TinyBert());
  ASSERT_NE(b, nullptr);
  const jetserve::v1::ModelInfo info = b->Info();
  EXPECT_EQ(info.format(), "onnx");
  EXPECT_EQ(info.embedding_dimensions(), 32);
  EXPECT_EQ(info.context_length(), 40);
  EXPECT_THAT(info.labels(), ::testing::ElementsAre("contradiction", "neutral", "entailment"));
  CallContext ctx("r", absl::InfiniteFuture());

  worker::v1::EmbedRequest embed;
  embed.mutable_request()->add_inputs("the cats play");
  std::string long_text;
  for (int i = 0; i < 50; ++i) long_text += "game ";
  embed.mutable_request()->add_inputs(long_text);
  embed.mutable_request()->set_dimensions(8);
  auto e = b->Embed(ctx, embed);
  ASSERT_OK(e);
  ASSERT_EQ(e->embeddings_size(), 2);
  EXPECT_EQ(e->embeddings(0).values_size(), 8);
  EXPECT_EQ(e->embeddings(0).tokens(), 5);
  EXPECT_FALSE(e->embeddings(0).truncated());
  EXPECT_EQ(e->embeddings(1).tokens(), 40);
  EXPECT_TRUE(e->embeddings(1).truncated());
  embed.mutable_request()->set_truncation(jetserve::v1::TRUNCATION_NONE);
  EXPECT_THAT(b->Embed(ctx, embed).status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                                      HasSubstr("text 1: input has 52 tokens")));

  worker::v1::ClassifyRequest classify;
  auto* in = classify.mutable_request()->add_inputs();
  in->set_text("the team wins the game");
  in->set_text_pair("this example is about sports");
  classify.mutable_request()->set_top_k(2);
  auto c = b->Classify(ctx, classify);
  ASSERT_OK(c);
  ASSERT_EQ(c->results(0).labels_size(), 2);
  EXPECT_GE(c->results(0).labels(0).score(), c->results(0).labels(1).score());
  EXPECT_EQ(info.labels(c->results(0).labels(0).index()), c->results(0).labels(0).label());
  classify.mutable_request()->add_candidate_labels("sports");
  classify.mutable_request()->add_candidate_labels("music");
  auto z = b->Classify(ctx, classify);
  ASSERT_OK(z);
  ASSERT_EQ(z->results(0).labels_size(), 2);
  EXPECT_NEAR(z->results(0).labels(0).score() + z->results(0).labels(1).score(), 1.0, 1e-5);

  worker::v1::RerankRequest rerank;
  rerank.mutable_request()->set_query("the team wins");
  for (const char* d : {"bread", "sports team win", "piano"})
    rerank.mutable_request()->add_documents(d);
  rerank.mutable_request()->set_top_n(2);
  rerank.mutable_request()->set_return_documents(true);
  auto r = b->Rerank(ctx, rerank);
  ASSERT_OK(r);
  ASSERT_EQ(r->results_size(), 2);
  EXPECT_GE(r->results(0).score(), r->results(1).score());
  EXPECT_EQ(r->results(0).document(), rerank.request().documents(r->results(0).index()));

  worker::v1::TokenizeRequest tok;
  tok.mutable_request()->set_text("cats play");
  auto t = b->Tokenize(ctx, tok);
  ASSERT_OK(t);
  EXPECT_THAT(t->token_ids(), ::testing::ElementsAre(2, 15, 17, 3));  // [CLS] cats play [SEP]
  worker::v1::DetokenizeRequest detok;
  for (int id : t->token_ids()) detok.mutable_request()->add_token_ids(id);
  auto d = b->Detokenize(ctx, detok);
  ASSERT_OK(d);
  EXPECT_EQ(d->text(), "cats play");

  ctx.Cancel("test");
  EXPECT_THAT(b->Rerank(ctx, rerank).status(), StatusIs(absl::StatusCode::kCancelled));
}

// Concurrent calls are batched dynamically: each still gets exactly (bitwise) what it gets
// alone, and a call with an input too long for TRUNCATION_NONE fails alone.
TEST(EncoderBackendTest, ConcurrentCallsGetTheirSoloResults) {
  std::unique_ptr<Backend> b = Load(TinyBert());
  ASSERT_NE(b, nullptr);
  CallContext ctx("r", absl::InfiniteFuture());
  constexpr int kCalls = 12;
  std::vector<worker::v1::EmbedRequest> embeds(kCalls);
  std::vector<worker::v1::ClassifyRequest> classifies(kCalls);
  std::vector<worker::v1::RerankRequest> reranks(kCalls);
  std::string too_long;
  for (int i = 0; i < 50; ++i) too_long += "game ";
  for (int i = 0; i < kCalls; ++i) {
    for (int j = 0; j <= i % 3; ++j) {
      embeds[i].mutable_request()->add_inputs("text " + std::to_string(i) + " part " +
                                              std::string(static_cast<size_t>(j), 'z'));
      classifies[i].mutable_request()->add_inputs()->set_text("cats " + std::to_string(i * j));
      reranks[i].mutable_request()->add_documents("doc " + std::to_string(i + j));
    }
    reranks[i].mutable_request()->set_query(i % 2 == 0 ? "query a" : "query b");
  }
  embeds[5].mutable_request()->add_inputs(too_long);
  embeds[5].mutable_request()->set_truncation(jetserve::v1::TRUNCATION_NONE);
  embeds[7].mutable_request()->set_truncation(jetserve::v1::TRUNCATION_NONE);  // same key as 5
  std::vector<absl::StatusOr<jetserve::v1::EmbedResponse>> e_solo, e_conc(kCalls);
  std::vector<absl::StatusOr<jetserve::v1::ClassifyResponse>> c_solo, c_conc(kCalls);
  std::vector<absl::StatusOr<jetserve::v1::RerankResponse>> r_solo, r_conc(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    e_solo.push_back(b->Embed(ctx, embeds[i]));
    c_solo.push_back(b->Classify(ctx, classifies[i]));
    r_solo.push_back(b->Rerank(ctx, reranks[i]));
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      e_conc[i] = b->Embed(ctx, embeds[i]);
      c_conc[i] = b->Classify(ctx, classifies[i]);
      r_conc[i] = b->Rerank(ctx, reranks[i]);
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kCalls; ++i) {
    SCOPED_TRACE(i);
    if (i == 5) {
      EXPECT_THAT(e_conc[i].status(), StatusIs(absl::StatusCode::kInvalidArgument));
      EXPECT_EQ(e_conc[i].status(), e_solo[i].status());
      continue;
    }
    ASSERT_OK(e_conc[i]);
    ASSERT_OK(e_solo[i]);
    ASSERT_EQ(e_conc[i]->embeddings_size(), e_solo[i]->embeddings_size());
    for (int k = 0; k < e_conc[i]->embeddings_size(); ++k) {
      EXPECT_EQ(std::vector<float>(e_conc[i]->embeddings(k).values().begin(),
                                   e_conc[i]->embeddings(k).values().end()),
                std::vector<float>(e_solo[i]->embeddings(k).values().begin(),
                                   e_solo[i]->embeddings(k).values().end()));
      EXPECT_EQ(e_conc[i]->embeddings(k).tokens(), e_solo[i]->embeddings(k).tokens());
    }
    EXPECT_EQ(e_conc[i]->usage().prompt_tokens(), e_solo[i]->usage().prompt_tokens());
    ASSERT_OK(c_conc[i]);
    ASSERT_OK(c_solo[i]);
    ASSERT_EQ(c_conc[i]->results_size(), c_solo[i]->results_size());
    for (int k = 0; k < c_conc[i]->results_size(); ++k) {
      for (int l = 0; l < c_conc[i]->results(k).labels_size(); ++l) {
        EXPECT_EQ(c_conc[i]->results(k).labels(l).label(), c_solo[i]->results(k).labels(l).label());
        EXPECT_EQ(c_conc[i]->results(k).labels(l).score(), c_solo[i]->results(k).labels(l).score());
      }
    }
    ASSERT_OK(r_conc[i]);
    ASSERT_OK(r_solo[i]);
    ASSERT_EQ(r_conc[i]->results_size(), r_solo[i]->results_size());
    for (int k = 0; k < r_conc[i]->results_size(); ++k) {
      EXPECT_EQ(r_conc[i]->results(k).index(), r_solo[i]->results(k).index());
      EXPECT_EQ(r_conc[i]->results(k).score(), r_solo[i]->results(k).score());
    }
    EXPECT_EQ(r_conc[i]->usage().prompt_tokens(), r_solo[i]->usage().prompt_tokens());
  }
}

}  // namespace
}  // namespace jetserve::worker
