// TextEncoder against ONNX Runtime + HF tokenizers (tests/oracles/encoder/make_refs.py):
// classification of texts and pairs, reranking and NLI zero-shot on a tiny random BERT with a
// tiny WordPiece vocabulary; embeddings, Matryoshka dimensions and truncation on a real MiniLM
// when present.
#include "engine/encoder/text_encoder.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/test_files.h"

namespace jetserve::encoder {
namespace {

using ::jetserve::testing::ReadJson;
using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;
using Json = nlohmann::json;

std::string DataDir() { return ::jetserve::testing::SourcePath("tests/data/encoder"); }

class TinyTextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto te = TextEncoder::Load(DataDir() + "/tiny_bert");
    ASSERT_OK(te);
    te_ = std::move(*te);
    refs_ = ReadJson(DataDir() + "/tiny_bert/text_refs.json");
    ASSERT_FALSE(refs_.is_discarded());
  }
  std::unique_ptr<TextEncoder> te_;
  Json refs_;
  ThreadPool pool_{2};
  EncoderWorkspace ws_;
};

TEST_F(TinyTextTest, ClassifyTextsAndPairs) {
  std::vector<TextPair> inputs;
  for (const Json& c : refs_["classify"]) {
    TextPair p{c["text"].get<std::string>(), std::nullopt};
    if (!c["text_pair"].is_null()) p.text_pair = c["text_pair"].get<std::string>();
    // Token ids and types as HF tokenizers makes them.
    std::vector<int32_t> ids, types;
    ASSERT_OK(te_->Tokenize(p.text, p.text_pair ? &*p.text_pair : nullptr, Truncation::kNone, &ids,
                            &types));
    EXPECT_EQ(ids, c["ids"].get<std::vector<int32_t>>()) << p.text;
    EXPECT_EQ(types, c["type_ids"].get<std::vector<int32_t>>()) << p.text;
    inputs.push_back(std::move(p));
  }
  auto out = te_->Classify(inputs, {}, &pool_, &ws_);
  ASSERT_OK(out);
  const std::vector<std::string>& labels = te_->encoder().config().labels;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<double> want = refs_["classify"][i]["probs"].get<std::vector<double>>();
    ASSERT_EQ((*out)[i].size(), want.size());
    for (size_t k = 0; k + 1 < (*out)[i].size(); ++k) {
      EXPECT_GE((*out)[i][k].score, (*out)[i][k + 1].score);  // best first
    }
    for (const LabelScore& ls : (*out)[i]) {
      const size_t id = std::find(labels.begin(), labels.end(), ls.label) - labels.begin();
      ASSERT_LT(id, want.size()) << ls.label;
      EXPECT_NEAR(ls.score, want[id], 1e-5) << inputs[i].text << " " << ls.label;
    }
  }
  auto top1 = te_->Classify(inputs, {.top_k = 1}, &pool_, &ws_);
  ASSERT_OK(top1);
  EXPECT_EQ((*top1)[0].size(), 1u);
  EXPECT_EQ((*top1)[0][0].label, (*out)[0][0].label);
}

TEST_F(TinyTextTest, RerankAndZeroShot) {
  const Json& r = refs_["rerank"];
  auto docs = r["documents"].get<std::vector<std::string>>();
  auto scores = te_->Rerank(r["query"].get<std::string>(), docs, {}, &pool_, &ws_);
  ASSERT_OK(scores);
  auto want = r["scores"].get<std::vector<double>>();
  for (size_t i = 0; i < docs.size(); ++i) EXPECT_NEAR((*scores)[i], want[i], 1e-5);

  const Json& z = refs_["zero_shot"];
  auto labels = z["labels"].get<std::vector<std::string>>();
  for (bool multi : {false, true}) {
    auto got = te_->ZeroShot(
        z["text"].get<std::string>(), labels,
        {.hypothesis_template = z["template"].get<std::string>(), .multi_label = multi}, &pool_,
        &ws_);
    ASSERT_OK(got);
    auto expect = z[multi ? "multi" : "single"].get<std::vector<double>>();
    ASSERT_EQ(got->size(), labels.size());
    for (const LabelScore& ls : *got) {
      const size_t id = std::find(labels.begin(), labels.end(), ls.label) - labels.begin();
      ASSERT_LT(id, labels.size());
      EXPECT_NEAR(ls.score, expect[id], 1e-5) << ls.label << (multi ? " multi" : " single");
    }
  }
  EXPECT_THAT(te_->ZeroShot("x", labels, {.hypothesis_template = "no slot"}, &pool_, &ws_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'{}'")));
}

TEST_F(TinyTextTest, TruncationAndLimits) {
  std::string long_text;
  for (int i = 0; i < 50; ++i) long_text += "game ";
  const std::vector<std::string> texts = {long_text};
  EXPECT_THAT(te_->Embed(texts, {}, &pool_, &ws_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("52 tokens, over the model's limit of 40")));
  std::vector<uint8_t> truncated;
  auto cut = te_->Embed(texts, {.truncation = Truncation::kEnd}, &pool_, &ws_, &truncated);
  ASSERT_OK(cut);
  EXPECT_EQ(truncated, std::vector<uint8_t>{1});
  EXPECT_EQ(ws_.row_start[1], 40);
  std::vector<int32_t> ids, types;
  ASSERT_OK(te_->Tokenize(long_text, &long_text, Truncation::kEnd, &ids, &types));
  EXPECT_EQ(ids.size(), 40u);
  // HF's longest_first (checked in TruncationEndAndStartMatchHfTokenizers): 18 words of a,
  // 19 of b, + [SEP].
  EXPECT_EQ(std::count(types.begin(), types.end(), 1), 20);
  EXPECT_THAT(te_->Embed(texts, {.dimensions = 33}, &pool_, &ws_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dimensions 33")));
}

// Pairs and single texts over the limit (40), cut at the end or the start, against HF
// tokenizers' longest_first truncation (direction right / left) with tiny_bert's
// tokenizer.json (tests/oracles/tokenizer/make_pair_refs.py).
TEST_F(TinyTextTest, TruncationEndAndStartMatchHfTokenizers) {
  const Json refs =
      ReadJson(::jetserve::testing::SourcePath("tests/data/tokenizer/pair_template_refs.json"));
  ASSERT_FALSE(refs.is_discarded());
  ASSERT_EQ(refs["truncation_max_length"], te_->encoder().config().max_tokens());
  int cut = 0;
  for (const Json& r : refs["truncation"]) {
    const std::string a = r["a"];
    const std::string b = r["b"].is_null() ? "" : r["b"].get<std::string>();
    const Truncation t = r["direction"] == "left" ? Truncation::kStart : Truncation::kEnd;
    std::vector<int32_t> ids, types;
    bool truncated = false;
    ASSERT_OK(te_->Tokenize(a, r["b"].is_null() ? nullptr : &b, t, &ids, &types, &truncated));
    EXPECT_EQ(ids, r["ids"].get<std::vector<int32_t>>())
        << a << " | " << b << " " << r["direction"];
    EXPECT_EQ(types, r["types"].get<std::vector<int32_t>>()) << a << " | " << b;
    cut += truncated;
  }
  EXPECT_GE(cut, 10);
}

TEST_F(TinyTextTest, EmbedPoolingNormalizeAndMatryoshka) {
  const std::vector<std::string> texts = {"the cats play", "a good song", "rain"};
  auto full = te_->Embed(texts, {.pooling = Pooling::kCls, .normalize = false}, &pool_, &ws_);
  ASSERT_OK(full);
  // CLS pooling without normalization is the first hidden state.
  std::vector<int32_t> ids, types;
  ASSERT_OK(te_->Tokenize(texts[1], nullptr, Truncation::kNone, &ids, &types));
  EncoderSequence seq{ids, types};
  ASSERT_OK(te_->encoder().Forward(absl::MakeConstSpan(&seq, 1), &pool_, &ws_));
  for (int k = 0; k < 32; ++k) EXPECT_EQ((*full)[1][k], ws_.hidden[k]);
  auto cut = te_->Embed(texts, {.dimensions = 8}, &pool_, &ws_);
  auto norm = te_->Embed(texts, {}, &pool_, &ws_);
  ASSERT_OK(cut);
  ASSERT_OK(norm);
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_EQ((*cut)[i].size(), 8u);
    double n = 0, nf = 0;
    for (float v : (*norm)[i]) nf += v * v;
    for (int k = 0; k < 8; ++k) n += (*norm)[i][k] * (*norm)[i][k];
    EXPECT_NEAR(nf, 1.0, 1e-5);
    for (int k = 0; k < 8; ++k) EXPECT_NEAR((*cut)[i][k], (*norm)[i][k] / std::sqrt(n), 1e-6);
  }
}

}  // namespace
}  // namespace jetserve::encoder
