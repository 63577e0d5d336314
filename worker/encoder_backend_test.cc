// EncoderBackend through LoadBackend on the tiny random BERT NLI classifier of
// tests/data/encoder (ONNX folder with tokenizer.json and config.json): the requests map onto
// TextEncoder (whose numbers are checked against ONNX Runtime in engine/encoder), labels and
// ordering, truncation modes, cancellation.
#include "worker/encoder_backend.h"

#include <cstdlib>
#include <string>

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

}  // namespace
}  // namespace jetserve::worker
