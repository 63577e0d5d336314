// Both ONNX paths against ONNX Runtime on the same files: the native encoder (recognized
// graphs) and the generic executor (any graph), each compared with references written by
// tests/oracles/encoder/make_refs.py and make_torch_refs.py (onnxruntime, HF tokenizers):
//   - torch.onnx.export'ed DistilBERT classifier (opset 14), BERT cross-encoder with pairs
//     (opset 17), RoBERTa classifier (opset 20): logits within 1e-3 over 50 sentences;
//   - the small onnx-built BERT/DistilBERT/RoBERTa/int8 graphs: hidden states within 1e-4;
//   - real MiniLM exports when present (paraphrase-MiniLM-L3, int8 all-MiniLM-L6): normalized
//     mean-pooled embeddings within 1e-4 over 50 sentences;
//   - an unrecognized graph loads through the executor fallback and still matches;
//   - a GGUF bert file against llama.cpp (llama-cpp-python): token ids and embeddings.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/encoder/encoder_loader.h"
#include "engine/encoder/graph_encoder.h"
#include "engine/encoder/text_encoder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/test_files.h"

namespace jetserve::encoder {
namespace {

using Json = nlohmann::json;

using ::jetserve::testing::ReadJson;

std::string DataDir() { return ::jetserve::testing::SourcePath("tests/data/encoder"); }
std::string ModelDir(const std::string& name) { return ::jetserve::testing::ModelPath(name); }

struct Case {
  std::vector<int32_t> ids, type_ids;
  std::vector<float> hidden, logits, embedding;
};

std::vector<Case> ReadCases(const std::string& path) {
  std::vector<Case> out;
  const Json j = ReadJson(path);
  if (j.is_discarded() || !j.contains("cases")) return out;
  for (const Json& c : j["cases"]) {
    Case k;
    k.ids = c["ids"].get<std::vector<int32_t>>();
    if (c.contains("type_ids")) k.type_ids = c["type_ids"].get<std::vector<int32_t>>();
    if (c.contains("hidden")) k.hidden = c["hidden"].get<std::vector<float>>();
    if (c.contains("logits")) k.logits = c["logits"].get<std::vector<float>>();
    if (c.contains("embedding")) k.embedding = c["embedding"].get<std::vector<float>>();
    out.push_back(std::move(k));
  }
  return out;
}

std::vector<EncoderSequence> Batch(const std::vector<Case>& cases) {
  std::vector<EncoderSequence> b;
  for (const Case& c : cases) b.push_back({c.ids, c.type_ids});
  return b;
}

const char* PathName(OnnxPath p) { return p == OnnxPath::kNative ? "native" : "executor"; }

double MaxLogitDiff(const Encoder& e, const std::vector<Case>& cases, ThreadPool* pool) {
  EncoderWorkspace ws;
  std::vector<float> logits;
  const absl::Status s = e.Classify(Batch(cases), pool, &ws, &logits);
  EXPECT_OK(s);
  if (!s.ok()) return 1e9;
  const size_t n = static_cast<size_t>(e.num_labels());
  double worst = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(cases[i].logits.size(), n);
    for (size_t k = 0; k < n && k < cases[i].logits.size(); ++k) {
      worst =
          std::max(worst, std::fabs(static_cast<double>(logits[i * n + k]) - cases[i].logits[k]));
    }
  }
  return worst;
}

// ---- torch.onnx.export'ed classifiers -------------------------------------------------

struct TorchCase {
  const char* name;
  OnnxPath path;
};

class TorchExportTest : public ::testing::TestWithParam<TorchCase> {};

TEST_P(TorchExportTest, LogitsMatchOnnxRuntime) {
  const TorchCase& p = GetParam();
  const std::string dir = DataDir() + "/" + p.name;
  const std::vector<Case> cases = ReadCases(dir + "/refs.json");
  ASSERT_EQ(cases.size(), 50u) << dir;
  // The references must spread well beyond the tolerance, or the comparison proves nothing.
  float lo = 1e30f, hi = -1e30f;
  for (const Case& c : cases) {
    for (float v : c.logits) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  ASSERT_GT(hi - lo, 0.5f) << "reference logits barely vary";
  ASSERT_OK_AND_ASSIGN(auto m, LoadOnnxEncoder(dir, {.onnx_path = p.path}));
  const Encoder& e = *m->encoder;
  EXPECT_EQ(e.graph() != nullptr, p.path == OnnxPath::kExecutor);
  ThreadPool pool(2);
  const double worst = MaxLogitDiff(e, cases, &pool);
  std::printf("%s, %s path: 50 inputs, logits max |diff| vs onnxruntime %.3g\n", p.name,
              PathName(p.path), worst);
  EXPECT_LE(worst, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Torch, TorchExportTest,
                         ::testing::Values(TorchCase{"torch_distilbert", OnnxPath::kNative},
                                           TorchCase{"torch_distilbert", OnnxPath::kExecutor},
                                           TorchCase{"torch_cross_bert", OnnxPath::kNative},
                                           TorchCase{"torch_cross_bert", OnnxPath::kExecutor},
                                           TorchCase{"torch_roberta", OnnxPath::kNative},
                                           TorchCase{"torch_roberta", OnnxPath::kExecutor}),
                         [](const ::testing::TestParamInfo<TorchCase>& param) {
                           return std::string(param.param.name) + "_" + PathName(param.param.path);
                         });

// ---- the small onnx-built graphs through the executor ----------------------------------

class TinyGraphTest : public ::testing::TestWithParam<const char*> {};

TEST_P(TinyGraphTest, ExecutorMatchesOnnxRuntime) {
  const std::string dir = DataDir() + "/" + GetParam();
  const std::vector<Case> cases = ReadCases(dir + "/refs.json");
  ASSERT_FALSE(cases.empty());
  ASSERT_OK_AND_ASSIGN(auto m, LoadOnnxEncoder(dir, {.onnx_path = OnnxPath::kExecutor}));
  const Encoder& e = *m->encoder;
  ASSERT_NE(e.graph(), nullptr);
  ThreadPool pool(2);
  double worst = 0, worst_logit = 0;
  if (e.graph()->has_hidden()) {
    EncoderWorkspace ws;
    ASSERT_OK(e.Forward(Batch(cases), &pool, &ws));
    const int64_t d = e.config().n_embd;
    for (size_t i = 0; i < cases.size(); ++i) {
      ASSERT_EQ(cases[i].hidden.size(), cases[i].ids.size() * d);
      const float* got = ws.hidden.data() + ws.row_start[i] * d;
      for (size_t k = 0; k < cases[i].hidden.size(); ++k) {
        worst = std::max(worst, std::fabs(static_cast<double>(got[k]) - cases[i].hidden[k]));
      }
    }
    EXPECT_LE(worst, 1e-4);
  }
  if (!cases[0].logits.empty()) {
    worst_logit = MaxLogitDiff(e, cases, &pool);
    EXPECT_LE(worst_logit, 1e-4);
  }
  std::printf("%s, executor path: hidden max |diff| %.3g, logits %.3g\n", GetParam(), worst,
              worst_logit);
}

INSTANTIATE_TEST_SUITE_P(Tiny, TinyGraphTest,
                         ::testing::Values("tiny_bert", "tiny_distilbert", "tiny_roberta",
                                           "tiny_bert_q8"));

// ---- real MiniLM exports -------------------------------------------------------------

struct RealCase {
  const char* name;
  OnnxPath path;
};

class RealModelOracleTest : public ::testing::TestWithParam<RealCase> {};

TEST_P(RealModelOracleTest, NormalizedEmbeddingsMatchOnnxRuntime) {
  const RealCase& p = GetParam();
  const std::string dir = ModelDir(p.name);
  if (!std::ifstream(dir + "/model.onnx")) GTEST_SKIP() << dir << "/model.onnx absent";
  const std::vector<Case> cases = ReadCases(DataDir() + "/" + p.name + ".json");
  ASSERT_EQ(cases.size(), 50u);
  ASSERT_OK_AND_ASSIGN(auto m, LoadOnnxEncoder(dir, {.onnx_path = p.path}));
  const Encoder& e = *m->encoder;
  ThreadPool pool(2);
  EncoderWorkspace ws;
  ASSERT_OK(e.Forward(Batch(cases), &pool, &ws));
  std::vector<float> pooled;
  e.Pool(Pooling::kMean, ws, &pooled);
  const int64_t d = e.config().n_embd;
  double worst = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_EQ(cases[i].embedding.size(), static_cast<size_t>(d));
    const float* v = pooled.data() + i * d;
    double norm = 0;
    for (int64_t k = 0; k < d; ++k) norm += static_cast<double>(v[k]) * v[k];
    for (int64_t k = 0; k < d; ++k) {
      worst = std::max(worst, std::fabs(v[k] / std::sqrt(norm) - cases[i].embedding[k]));
    }
  }
  std::printf("%s, %s path: 50 sentences, normalized embedding max |diff| vs onnxruntime %.3g\n",
              p.name, PathName(p.path), worst);
  EXPECT_LE(worst, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(MiniLm, RealModelOracleTest,
                         ::testing::Values(RealCase{"paraphrase-minilm-l3-onnx", OnnxPath::kNative},
                                           RealCase{"paraphrase-minilm-l3-onnx",
                                                    OnnxPath::kExecutor},
                                           RealCase{"minilm-l6-int8-onnx", OnnxPath::kNative},
                                           RealCase{"minilm-l6-int8-onnx", OnnxPath::kExecutor}),
                         [](const ::testing::TestParamInfo<RealCase>& param) {
                           std::string s =
                               std::string(param.param.name) + "_" + PathName(param.param.path);
                           for (char& ch : s) {
                             if (ch == '-') ch = '_';
                           }
                           return s;
                         });

// ---- GGUF bert against llama.cpp ------------------------------------------------------

// tiny_bert's weights as a GGUF `bert` file with its WordPiece vocabulary; llama.cpp's token
// ids and mean-pooled, normalized embeddings (tests/oracles/encoder/make_gguf_llama_refs.py).
TEST(GgufLlamaCppTest, EmbeddingsAndTokensMatchLlamaCpp) {
  const std::string path = DataDir() + "/tiny_bert_vocab.gguf";
  const Json refs = ReadJson(DataDir() + "/tiny_bert_vocab.llama.json");
  ASSERT_FALSE(refs.is_discarded());
  ASSERT_OK_AND_ASSIGN(auto te, TextEncoder::Load(path));
  const Encoder& e = te->encoder();
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<float>> want;
  for (const Json& c : refs["cases"]) {
    ids.push_back(c["ids"].get<std::vector<int32_t>>());
    want.push_back(c["embedding"].get<std::vector<float>>());
    std::vector<int32_t> ours, types;
    ASSERT_OK(
        te->Tokenize(c["text"].get<std::string>(), nullptr, Truncation::kNone, &ours, &types));
    EXPECT_EQ(ours, ids.back()) << "token ids differ from llama.cpp's for " << c["text"];
  }
  ASSERT_EQ(ids.size(), 10u);
  std::vector<EncoderSequence> batch;
  for (const auto& v : ids) batch.push_back({v, {}});
  ThreadPool pool(2);
  EncoderWorkspace ws;
  ASSERT_OK(e.Forward(batch, &pool, &ws));
  std::vector<float> pooled;
  e.Pool(Pooling::kMean, ws, &pooled);
  const int64_t d = e.config().n_embd;
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i].size(), static_cast<size_t>(d));
    const float* v = pooled.data() + i * d;
    double norm = 0;
    for (int64_t k = 0; k < d; ++k) norm += static_cast<double>(v[k]) * v[k];
    for (int64_t k = 0; k < d; ++k) {
      worst = std::max(worst, std::fabs(v[k] / std::sqrt(norm) - want[i][k]));
    }
  }
  std::printf("tiny_bert_vocab.gguf: 10 texts, normalized embedding max |diff| vs llama.cpp %.3g\n",
              worst);
  // Most likely llama.cpp's CPU GELU (tanh approximation, F16 table) against our erf form (not
  // isolated further): 1.7e-4 apart here (against onnxruntime on the same weights the native path
  // is within 1e-4, see TinyModelTest); a wrong weight or layout would be off by 1e-1.
  EXPECT_LE(worst, 1e-3);
}

}  // namespace
}  // namespace jetserve::encoder
