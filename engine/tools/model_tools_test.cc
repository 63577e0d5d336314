// gen-model and quantize end to end: shapes, metadata, mix types, values preserved.
#include "engine/tools/model_tools.h"

#include <cmath>
#include <cstring>
#include <sstream>
#include <string>

#include "engine/format/gguf_reader.h"
#include "engine/quant/dequantize.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/test_files.h"

namespace jetserve::tools {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// This process's own folder: another process running this test at the same time (another
// build folder or worktree) must not rewrite a file this one has mapped (SIGBUS).
std::string Tmp(const std::string& name) { return ::jetserve::testing::TempPath(name); }

TEST(GenModelTest, WritesLlamaLayout) {
  GenModelOptions o;
  o.output = Tmp("gen_llama.gguf");
  o.n_layer = 2;
  o.n_embd = 64;
  o.n_ff = 96;
  o.n_head = 4;
  o.n_head_kv = 2;
  o.n_vocab = 50;
  ASSERT_OK(GenerateModel(o));
  ASSERT_OK_AND_ASSIGN(auto f, GgufFile::Open(o.output));
  EXPECT_EQ(*f->GetString("general.architecture"), "llama");
  EXPECT_EQ(*f->GetInt("llama.block_count"), 2);
  EXPECT_EQ(*f->GetInt("llama.attention.head_count_kv"), 2);
  EXPECT_EQ((*f->GetStringArray("tokenizer.ggml.tokens")).size(), 50u);
  EXPECT_EQ(f->tensors().size(), 1u + 2 * 9 + 2);
  EXPECT_THAT(f->FindTensor("blk.1.attn_k.weight")->dims, ElementsAre(64, 32));
  EXPECT_THAT(f->FindTensor("blk.0.ffn_down.weight")->dims, ElementsAre(96, 64));
  EXPECT_THAT(f->FindTensor("token_embd.weight")->dims, ElementsAre(64, 50));
  const GgufTensorInfo* norm = f->FindTensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  float first;
  std::memcpy(&first, norm->data.data(), 4);
  EXPECT_EQ(first, 1.0f);
}

TEST(GenModelTest, RejectsBadShapes) {
  GenModelOptions o;
  o.output = Tmp("bad.gguf");
  o.n_head = 3;
  EXPECT_THAT(GenerateModel(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("n_head 3")));
  o.n_head = 4;
  o.arch = "rwkv";
  EXPECT_THAT(GenerateModel(o), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rwkv")));
  o.arch = "llama";
  o.type = "Q9";
  EXPECT_THAT(GenerateModel(o), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Q9")));
}

TEST(QuantizeModelTest, Q4KMixAndValues) {
  GenModelOptions o;
  o.output = Tmp("q_src.gguf");
  o.n_layer = 8;
  o.n_embd = 256;
  o.n_ff = 256;
  o.n_vocab = 64;
  ASSERT_OK(GenerateModel(o));
  const std::string out = Tmp("q_q4km.gguf");
  ASSERT_OK(QuantizeModel({o.output, out, "Q4_K_M"}));
  ASSERT_OK_AND_ASSIGN(auto src, GgufFile::Open(o.output));
  ASSERT_OK_AND_ASSIGN(auto q, GgufFile::Open(out));
  EXPECT_EQ(*q->GetInt("general.file_type"), 15);
  EXPECT_EQ(*q->GetInt("llama.block_count"), 8);
  EXPECT_EQ(q->FindTensor("blk.3.attn_q.weight")->type, GgmlType::kQ4_K);
  EXPECT_EQ(q->FindTensor("output.weight")->type, GgmlType::kQ6_K);
  EXPECT_EQ(q->FindTensor("blk.3.ffn_norm.weight")->type, GgmlType::kF32);
  // use_more_bits over 8 layers: 0, 7 and (i - 1) % 3 == 2 -> 3, 6.
  for (int i = 0; i < 8; ++i) {
    const bool more = i == 0 || i == 7 || i == 3 || i == 6;
    const GgmlType want = more ? GgmlType::kQ6_K : GgmlType::kQ4_K;
    EXPECT_EQ(q->FindTensor("blk." + std::to_string(i) + ".attn_v.weight")->type, want) << i;
    EXPECT_EQ(q->FindTensor("blk." + std::to_string(i) + ".ffn_down.weight")->type, want) << i;
  }
  const GgufTensorInfo* a = src->FindTensor("blk.2.ffn_up.weight");
  const GgufTensorInfo* b = q->FindTensor("blk.2.ffn_up.weight");
  ASSERT_OK_AND_ASSIGN(auto x, quant::DequantizeBytes(a->type, a->data, a->num_elements));
  ASSERT_OK_AND_ASSIGN(auto y, quant::DequantizeBytes(b->type, b->data, b->num_elements));
  double err = 0, norm = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (x[i] - y[i]) * (x[i] - y[i]);
    norm += x[i] * x[i];
  }
  EXPECT_LT(std::sqrt(err / norm), 0.12);
}

TEST(QuantizeModelTest, ReportsErrors) {
  EXPECT_THAT(QuantizeModel({"/nonexistent.gguf", Tmp("x.gguf"), "Q8_0"}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(QuantizeModel({"/nonexistent.gguf", Tmp("x.gguf"), "Q1"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Q1")));
}

TEST(DumpModelTest, ListsKeysAndTensors) {
  GenModelOptions o;
  o.output = Tmp("dump.gguf");
  o.n_layer = 1;
  o.n_embd = 32;
  o.n_ff = 32;
  o.n_head = 1;
  o.n_head_kv = 1;
  o.n_vocab = 4;
  ASSERT_OK(GenerateModel(o));
  std::ostringstream out;
  ASSERT_OK(DumpModel(o.output, out));
  EXPECT_THAT(out.str(), HasSubstr("kv llama.block_count UINT32 1\n"));
  EXPECT_THAT(out.str(), HasSubstr("kv tokenizer.ggml.tokens ARRAY[STRING] n=4 3c756e6b3e"));
  EXPECT_THAT(out.str(), HasSubstr("tensor blk.0.attn_q.weight F32 32,32 offset="));
}

}  // namespace
}  // namespace jetserve::tools
