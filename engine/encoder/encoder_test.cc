// The native encoder against ONNX Runtime (tests/oracles/encoder/make_refs.py): small
// BERT/DistilBERT/RoBERTa graphs with random weights (committed), and real MiniLM exports when
// present under $JETSERVE_MODEL_DIR. Also: batch composition never changes a result, and bad
// inputs or unrecognized graphs fail with precise errors.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/encoder/encoder_loader.h"
#include "engine/encoder/text_encoder.h"
#include "engine/format/gguf_writer.h"
#include "engine/tokenizer/load_tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/test_files.h"

namespace jetserve::encoder {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using Json = nlohmann::json;

using ::jetserve::testing::ReadJson;

std::string DataDir() { return ::jetserve::testing::SourcePath("tests/data/encoder"); }
std::string ModelDir(const std::string& name) { return ::jetserve::testing::ModelPath(name); }

struct Case {
  std::vector<int32_t> ids, type_ids;
  std::vector<float> hidden, logits;
};

std::vector<Case> ReadCases(const std::string& path) {
  std::vector<Case> out;
  Json j = ReadJson(path);
  for (const Json& c : j["cases"]) {
    Case k;
    k.ids = c["ids"].get<std::vector<int32_t>>();
    if (c.contains("type_ids")) k.type_ids = c["type_ids"].get<std::vector<int32_t>>();
    k.hidden = c["hidden"].get<std::vector<float>>();
    if (c.contains("logits")) k.logits = c["logits"].get<std::vector<float>>();
    out.push_back(std::move(k));
  }
  return out;
}

double MaxAbs(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

struct TinyModel {
  const char* name;
  Family family;
  int n_head;
  HeadKind head;
  std::vector<std::string> labels;
};

class TinyModelTest : public ::testing::TestWithParam<TinyModel> {};

TEST_P(TinyModelTest, MatchesOnnxRuntimeAndIgnoresBatchComposition) {
  const TinyModel& p = GetParam();
  const std::string dir = DataDir() + "/" + p.name;
  auto m = LoadOnnxEncoder(dir);
  ASSERT_OK(m);
  const Encoder& e = *(*m)->encoder;
  EXPECT_EQ(e.config().family, p.family);
  EXPECT_EQ(e.config().n_head, p.n_head);
  EXPECT_EQ(e.config().head, p.head);
  EXPECT_EQ(e.config().labels, p.labels);
  if (p.family == Family::kRoberta) {
    EXPECT_EQ(e.config().position_offset, 2);
  }
  std::vector<Case> cases = ReadCases(dir + "/refs.json");
  ASSERT_FALSE(cases.empty());
  const int64_t d = e.config().n_embd;

  ThreadPool pool(2);
  std::vector<EncoderSequence> batch;
  for (const Case& c : cases) batch.push_back({c.ids, c.type_ids});
  // All cases in one batch, then each alone, in reverse order (different packing).
  EncoderWorkspace all;
  ASSERT_OK(e.Forward(batch, &pool, &all));
  double worst = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    ASSERT_EQ(c.hidden.size(), c.ids.size() * d);
    const float* got = all.hidden.data() + all.row_start[i] * d;
    worst = std::max(worst, MaxAbs(got, c.hidden.data(), c.hidden.size()));
  }
  EXPECT_LE(worst, 1e-4) << "max |hidden - onnxruntime|";
  std::printf("%s: hidden max abs error vs onnxruntime %.3g\n", p.name, worst);

  EncoderWorkspace one;
  for (size_t i = cases.size(); i-- > 0;) {
    ASSERT_OK(e.Forward(absl::MakeConstSpan(&batch[i], 1), &pool, &one));
    const float* in_batch = all.hidden.data() + all.row_start[i] * d;
    EXPECT_EQ(std::memcmp(one.hidden.data(), in_batch, cases[i].hidden.size() * sizeof(float)), 0)
        << "case " << i << " differs between batch and single runs";
  }

  if (p.head == HeadKind::kNone) return;
  std::vector<float> logits;
  ASSERT_OK(e.Classify(batch, &pool, &all, &logits));
  const size_t n = static_cast<size_t>(e.num_labels());
  double worst_logit = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_EQ(cases[i].logits.size(), n);
    worst_logit = std::max(worst_logit, MaxAbs(logits.data() + i * n, cases[i].logits.data(), n));
  }
  EXPECT_LE(worst_logit, 1e-4) << "max |logits - onnxruntime|";
  std::printf("%s: logits max abs error vs onnxruntime %.3g\n", p.name, worst_logit);
}

INSTANTIATE_TEST_SUITE_P(
    Families, TinyModelTest,
    ::testing::Values(TinyModel{"tiny_bert",
                                Family::kBert,
                                4,
                                HeadKind::kTanhDense,
                                {"contradiction", "neutral", "entailment"}},
                      TinyModel{"tiny_distilbert",
                                Family::kDistilBert,
                                4,
                                HeadKind::kReluDense,
                                {"NEGATIVE", "POSITIVE"}},
                      TinyModel{
                          "tiny_roberta", Family::kRoberta, 4, HeadKind::kTanhDense, {"LABEL_0"}},
                      TinyModel{"tiny_bert_q8", Family::kBert, 4, HeadKind::kNone, {}}),
    [](const ::testing::TestParamInfo<TinyModel>& param) { return std::string(param.param.name); });

// The same weights as tiny_bert written by the `gguf` package as a llama.cpp bert file, run
// through the GGUF loader and compared with ONNX Runtime's outputs for the ONNX file. F16
// matrices (weights and activations rounded to half precision) get a looser bound.
struct GgufCase {
  const char* file;
  double tolerance;
};
class GgufEncoderTest : public ::testing::TestWithParam<GgufCase> {};

TEST_P(GgufEncoderTest, MatchesOnnxRuntimeOnTheOnnxTwin) {
  auto m = LoadEncoder(DataDir() + "/" + GetParam().file);
  ASSERT_OK(m);
  const Encoder& e = *(*m)->encoder;
  EXPECT_EQ(e.config().n_head, 4);
  EXPECT_EQ(e.config().head, HeadKind::kTanhDense);
  EXPECT_EQ(e.config().pooling, Pooling::kMean);
  std::vector<Case> cases = ReadCases(DataDir() + "/tiny_bert/refs.json");
  ThreadPool pool(2);
  std::vector<EncoderSequence> batch;
  for (const Case& c : cases) batch.push_back({c.ids, c.type_ids});
  EncoderWorkspace ws;
  std::vector<float> logits;
  ASSERT_OK(e.Classify(batch, &pool, &ws, &logits));
  const int64_t d = e.config().n_embd;
  const size_t n = static_cast<size_t>(e.num_labels());
  double worst = 0, worst_logit = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    worst = std::max(worst, MaxAbs(ws.hidden.data() + ws.row_start[i] * d, cases[i].hidden.data(),
                                   cases[i].hidden.size()));
    worst_logit = std::max(worst_logit, MaxAbs(logits.data() + i * n, cases[i].logits.data(), n));
  }
  std::printf("%s: hidden max abs error %.3g, logits %.3g vs onnxruntime\n", GetParam().file, worst,
              worst_logit);
  EXPECT_LE(worst, GetParam().tolerance);
  EXPECT_LE(worst_logit, GetParam().tolerance);
}

INSTANTIATE_TEST_SUITE_P(Bert, GgufEncoderTest,
                         ::testing::Values(GgufCase{"tiny_bert.gguf", 1e-4},
                                           GgufCase{"tiny_bert_f16.gguf", 1e-2}),
                         [](const ::testing::TestParamInfo<GgufCase>& param) {
                           return std::string(param.param.tolerance < 1e-3 ? "f32" : "f16");
                         });

// Damaged copies of tiny_bert.gguf: another architecture, a missing tensor, bad heads.
absl::Status LoadEdited(const std::string& arch, const std::string& drop, int64_t heads) {
  auto src = GgufFile::Open(DataDir() + "/tiny_bert.gguf");
  if (!src.ok()) return src.status();
  GgufWriter w;
  for (const GgufKeyValue& kv : (*src)->metadata()) w.SetValue(kv.key, kv.value);
  w.SetString("general.architecture", arch);
  w.SetUint32(arch + ".attention.head_count", static_cast<uint32_t>(heads));
  for (const GgufTensorInfo& t : (*src)->tensors()) {
    if (t.name == drop) continue;
    if (absl::Status s = w.AddTensor(t.name, t.type, t.dims, t.data); !s.ok()) return s;
  }
  char tmpl[] = "/tmp/encoder_gguf_XXXXXX";
  const int fd = mkstemp(tmpl);
  close(fd);
  const std::string path = std::string(tmpl) + ".gguf";
  rename(tmpl, path.c_str());
  absl::Status s = w.WriteFile(path);
  if (s.ok()) s = LoadEncoder(path).status();
  std::remove(path.c_str());
  return s;
}

TEST(EncoderTest, DamagedGgufFilesFailPrecisely) {
  EXPECT_OK(LoadEdited("bert", "", 4));
  EXPECT_THAT(LoadEdited("llama", "", 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'llama' is not an encoder")));
  EXPECT_THAT(LoadEdited("bert", "blk.1.ffn_down.weight", 4),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tensor 'blk.1.ffn_down.weight' is missing")));
  EXPECT_THAT(LoadEdited("bert", "", 5),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("heads 5")));
}

// Damaged copies of every tiny ONNX model (random byte flips, truncations) load with an
// error or load and run; none crashes.
TEST(EncoderTest, DamagedOnnxFilesNeverCrash) {
  std::mt19937 rng(11);
  int loaded = 0, refused = 0;
  for (const char* name : {"tiny_bert", "tiny_distilbert", "tiny_roberta", "tiny_bert_q8"}) {
    std::ifstream f(DataDir() + "/" + name + "/model.onnx", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(bytes.empty());
    for (int iter = 0; iter < 40; ++iter) {
      std::string damaged = bytes;
      if (iter % 4 == 3) {
        damaged.resize(rng() % damaged.size());
      } else {
        for (int k = 0; k < 1 + iter % 8; ++k) damaged[rng() % damaged.size()] ^= 1 << (rng() % 8);
      }
      auto model = OnnxModel::FromBytes(
          {reinterpret_cast<const uint8_t*>(damaged.data()), damaged.size()}, ".");
      if (!model.ok()) {
        ++refused;
        continue;
      }
      char tmpl[] = "/tmp/encoder_flip_XXXXXX";
      const std::string dir = mkdtemp(tmpl);
      std::ofstream(dir + "/model.onnx", std::ios::binary) << damaged;
      auto m = LoadOnnxEncoder(dir);
      std::remove((dir + "/model.onnx").c_str());
      rmdir(dir.c_str());
      if (!m.ok()) {
        ++refused;
        continue;
      }
      ++loaded;
      ThreadPool pool(1);
      EncoderWorkspace ws;
      std::vector<int32_t> ids = {1, 2, 3};
      EncoderSequence s{ids, {}};
      (void)(*m)->encoder->Forward(absl::MakeConstSpan(&s, 1), &pool, &ws);
    }
  }
  std::printf("damaged ONNX files: %d loaded, %d refused\n", loaded, refused);
  EXPECT_GT(refused, 0);
}

TEST(EncoderTest, BadInputsFailPrecisely) {
  auto m = LoadOnnxEncoder(DataDir() + "/tiny_bert");
  ASSERT_OK(m);
  const Encoder& e = *(*m)->encoder;
  ThreadPool pool(1);
  EncoderWorkspace ws;
  std::vector<int32_t> bad_id = {1, 64, 2};
  EncoderSequence s1{bad_id, {}};
  EXPECT_THAT(e.Forward(absl::MakeConstSpan(&s1, 1), &pool, &ws),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside the vocabulary")));
  std::vector<int32_t> long_ids(41, 1);
  EncoderSequence s2{long_ids, {}};
  EXPECT_THAT(
      e.Forward(absl::MakeConstSpan(&s2, 1), &pool, &ws),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("over the model's limit of 40")));
  EncoderSequence s3{{}, {}};
  EXPECT_THAT(e.Forward(absl::MakeConstSpan(&s3, 1), &pool, &ws),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no tokens")));
  std::vector<int32_t> ids = {1, 2}, types = {0, 2};
  EncoderSequence s4{ids, types};
  EXPECT_THAT(e.Forward(absl::MakeConstSpan(&s4, 1), &pool, &ws),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("token type 2")));
}

// Float Constants (an attention mask's -FLT_MAX) beside the integer ones that the recognizer
// reads reshape targets from: ignored there, never converted to int64 (undefined behaviour,
// found by UBSan's float-cast-overflow on paraphrase-MiniLM-L3). The graph still loads
// natively and matches onnxruntime's references.
TEST(EncoderTest, FloatConstantsAreNotReadAsIntegers) {
  auto m = OnnxModel::Load(DataDir() + "/tiny_bert/model.onnx");
  ASSERT_OK(m);
  onnx::ModelProto proto = (*m)->proto();
  onnx::NodeProto* c = proto.mutable_graph()->add_node();
  c->set_op_type("Constant");
  c->add_output("mask_min");
  onnx::AttributeProto* a = c->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  onnx::TensorProto* t = a->mutable_t();
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(4);
  const float mins[4] = {-std::numeric_limits<float>::max(), std::numeric_limits<float>::max(),
                         std::numeric_limits<float>::quiet_NaN(), 4.f};
  t->set_raw_data(std::string(reinterpret_cast<const char*>(mins), sizeof(mins)));
  char tmpl[] = "/tmp/encoder_test_XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::ofstream(dir + "/model.onnx", std::ios::binary) << proto.SerializeAsString();
  auto native = LoadOnnxEncoder(dir, {.onnx_path = OnnxPath::kNative});
  std::remove((dir + "/model.onnx").c_str());
  rmdir(dir.c_str());
  ASSERT_OK(native);
  const Encoder& e = *(*native)->encoder;
  EXPECT_EQ(e.graph(), nullptr);
  std::vector<Case> cases = ReadCases(DataDir() + "/tiny_bert/refs.json");
  ASSERT_FALSE(cases.empty());
  std::vector<EncoderSequence> batch;
  for (const Case& k : cases) batch.push_back({k.ids, k.type_ids});
  ThreadPool pool(1);
  EncoderWorkspace ws;
  ASSERT_OK(e.Forward(batch, &pool, &ws));
  double worst = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const float* h = ws.hidden.data() + ws.row_start[i] * e.config().n_embd;
    for (size_t j = 0; j < cases[i].hidden.size(); ++j) {
      worst = std::max(worst, static_cast<double>(std::fabs(h[j] - cases[i].hidden[j])));
    }
  }
  EXPECT_LT(worst, 1e-4);
}

TEST(EncoderTest, UnrecognizedGraphFallsBackToTheExecutor) {
  // The q8 model's graph without its embedding table name: not a BERT-family graph to the
  // recognizer, so it runs on the generic executor, still matching onnxruntime.
  EXPECT_THAT(LoadOnnxEncoder(DataDir() + "/missing").status(),
              StatusIs(absl::StatusCode::kNotFound));
  auto m = OnnxModel::Load(DataDir() + "/tiny_bert_q8/model.onnx");
  ASSERT_OK(m);
  onnx::ModelProto proto = (*m)->proto();
  for (onnx::TensorProto& t : *proto.mutable_graph()->mutable_initializer()) {
    if (t.name().find("word_embeddings") != std::string::npos) t.set_name("renamed");
  }
  for (onnx::NodeProto& n : *proto.mutable_graph()->mutable_node()) {
    for (std::string& in : *n.mutable_input()) {
      if (in.find("word_embeddings") != std::string::npos) in = "renamed";
    }
  }
  char tmpl[] = "/tmp/encoder_test_XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  auto write = [&](const onnx::ModelProto& p) {
    std::ofstream f(dir + "/model.onnx", std::ios::binary | std::ios::trunc);
    f << p.SerializeAsString();
  };
  write(proto);
  EXPECT_THAT(LoadOnnxEncoder(dir, {.onnx_path = OnnxPath::kNative}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("0 tensors named *embeddings.word_embeddings.weight")));
  auto fallback = LoadOnnxEncoder(dir);
  ASSERT_OK(fallback);
  const Encoder& e = *(*fallback)->encoder;
  ASSERT_NE(e.graph(), nullptr);
  std::vector<Case> cases = ReadCases(DataDir() + "/tiny_bert_q8/refs.json");
  ASSERT_FALSE(cases.empty());
  std::vector<EncoderSequence> batch;
  for (const Case& c : cases) batch.push_back({c.ids, c.type_ids});
  ThreadPool pool(2);
  EncoderWorkspace ws;
  ASSERT_OK(e.Forward(batch, &pool, &ws));
  const int64_t d = e.config().n_embd;
  double worst = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    worst = std::max(worst, MaxAbs(ws.hidden.data() + ws.row_start[i] * d, cases[i].hidden.data(),
                                   cases[i].hidden.size()));
  }
  EXPECT_LE(worst, 1e-4);
  // With an operator the executor lacks as well, the error gives both reasons.
  proto.mutable_graph()->mutable_node(0)->set_op_type("Conv");
  write(proto);
  EXPECT_THAT(LoadOnnxEncoder(dir).status(),
              StatusIs(absl::StatusCode::kUnimplemented,
                       AllOf(HasSubstr("not recognized as a BERT-family encoder"),
                             HasSubstr("operator Conv is not supported"))));
  std::remove((dir + "/model.onnx").c_str());
  rmdir(dir.c_str());
}

// Real MiniLM exports: 50 sentences of varied script and length, our tokenizer and encoder
// against HF tokenizers + ONNX Runtime, mean pooling and L2 normalization.
class RealModelTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RealModelTest, EmbeddingsMatchOnnxRuntime) {
  const std::string name = GetParam();
  const std::string dir = ModelDir(name);
  if (!std::ifstream(dir + "/model.onnx")) GTEST_SKIP() << dir << "/model.onnx absent";
  auto m = LoadOnnxEncoder(dir);
  ASSERT_OK(m);
  const Encoder& e = *(*m)->encoder;
  EXPECT_EQ(e.config().n_head, 12);
  auto tok = tokenizer::LoadTokenizer(dir + "/tokenizer.json");
  ASSERT_OK(tok);
  Json refs = ReadJson(DataDir() + "/" + name + ".json");
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<float>> want;
  int id_mismatches = 0;
  for (const Json& c : refs["cases"]) {
    ids.push_back(c["ids"].get<std::vector<int32_t>>());
    want.push_back(c["embedding"].get<std::vector<float>>());
    tokenizer::ModelInput in = (*tok)->EncodeForModel(c["text"].get<std::string>());
    std::vector<int32_t> ours;
    for (size_t i = 0; i < in.ids.size(); ++i) {
      if (in.attention_mask.empty() || in.attention_mask[i] != 0) ours.push_back(in.ids[i]);
    }
    if (ours != ids.back()) {
      ++id_mismatches;
      ADD_FAILURE() << "token ids differ from HF tokenizers for: " << c["text"];
    }
  }
  EXPECT_EQ(id_mismatches, 0);
  ThreadPool pool(2);
  EncoderWorkspace ws;
  std::vector<EncoderSequence> batch;
  for (const auto& v : ids) batch.push_back({v, {}});
  ASSERT_OK(e.Forward(batch, &pool, &ws));
  std::vector<float> pooled;
  e.Pool(Pooling::kMean, ws, &pooled);
  const int64_t d = e.config().n_embd;
  double worst = 0, worst_cos = 1;
  for (size_t i = 0; i < want.size(); ++i) {
    float* v = pooled.data() + i * d;
    double norm = 0;
    for (int64_t k = 0; k < d; ++k) norm += static_cast<double>(v[k]) * v[k];
    double dot = 0;
    for (int64_t k = 0; k < d; ++k) {
      v[k] = static_cast<float>(v[k] / std::sqrt(norm));
      dot += static_cast<double>(v[k]) * want[i][k];
    }
    worst = std::max(worst, MaxAbs(v, want[i].data(), d));
    worst_cos = std::min(worst_cos, dot);
  }
  std::printf("%s: %zu sentences, normalized embedding max abs error %.3g, min cosine %.7f\n",
              name.c_str(), want.size(), worst, worst_cos);
  EXPECT_LE(worst, 1e-4);
  EXPECT_GE(worst_cos, 0.9999);
}

// Zero-shot on an embedding model: the score of each candidate label is the softmax of 20 x
// the cosine between the text's and the label's normalized embeddings (or the cosine itself
// with multi_label); the cosines here come from ONNX Runtime's embeddings of the same texts.
TEST_P(RealModelTest, ZeroShotBySimilarityFollowsOnnxRuntimeEmbeddings) {
  const std::string name = GetParam();
  const std::string dir = ModelDir(name);
  if (!std::ifstream(dir + "/model.onnx")) GTEST_SKIP() << dir << "/model.onnx absent";
  auto te = TextEncoder::Load(dir);
  ASSERT_OK(te);
  Json refs = ReadJson(DataDir() + "/" + name + ".json");
  ASSERT_GE(refs["cases"].size(), 8u);
  const std::string text = refs["cases"][0]["text"].get<std::string>();
  const std::vector<float> anchor = refs["cases"][0]["embedding"].get<std::vector<float>>();
  std::vector<std::string> labels;
  std::vector<double> cos;
  for (size_t i = 1; i < 8; ++i) {
    labels.push_back(refs["cases"][i]["text"].get<std::string>());
    const std::vector<float> v = refs["cases"][i]["embedding"].get<std::vector<float>>();
    double dot = 0;
    for (size_t k = 0; k < v.size(); ++k) dot += static_cast<double>(anchor[k]) * v[k];
    cos.push_back(dot);
  }
  double z = 0;
  for (double c : cos) z += std::exp(20 * c);
  ThreadPool pool(2);
  EncoderWorkspace ws;
  for (bool multi : {false, true}) {
    auto got = (*te)->ZeroShot(text, labels, {.hypothesis_template = "{}", .multi_label = multi},
                               &pool, &ws);
    ASSERT_OK(got);
    ASSERT_EQ(got->size(), labels.size());
    for (size_t r = 1; r < got->size(); ++r) EXPECT_GE((*got)[r - 1].score, (*got)[r].score);
    for (const LabelScore& ls : *got) {
      const size_t i = std::find(labels.begin(), labels.end(), ls.label) - labels.begin();
      ASSERT_LT(i, labels.size());
      const double want = multi ? cos[i] : std::exp(20 * cos[i]) / z;
      EXPECT_NEAR(ls.score, want, multi ? 1e-5 : 1e-4) << ls.label << (multi ? " multi" : "");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(MiniLm, RealModelTest,
                         ::testing::Values("paraphrase-minilm-l3-onnx", "minilm-l6-int8-onnx"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           std::string s = param.param;
                           for (char& ch : s) {
                             if (ch == '-') ch = '_';
                           }
                           return s;
                         });

}  // namespace
}  // namespace jetserve::encoder
