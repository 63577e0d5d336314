// Reader/writer round trips and reads of the real vocab-only files in shared/testdata.
#include "engine/format/gguf_reader.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "engine/format/gguf_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/test_files.h"

namespace jetserve {
namespace {

using ::jetserve::testing::StatusIs;
using ::jetserve::testing::TempPath;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<uint8_t> Iota(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + 1);
  return v;
}

TEST(GgufReaderTest, RoundTripsEveryValueTypeAndTensors) {
  GgufWriter w;
  w.SetUint8("u8", 200);
  w.SetInt8("i8", -5);
  w.SetUint16("u16", 60000);
  w.SetInt16("i16", -30000);
  w.SetUint32("u32", 4000000000u);
  w.SetInt32("i32", -2000000000);
  w.SetUint64("u64", 18000000000000000000ull);
  w.SetInt64("i64", -9000000000000000000ll);
  w.SetFloat32("f32", 1.5f);
  w.SetFloat64("f64", -2.25);
  w.SetBool("b", true);
  w.SetString("s", "h\xc3\xa9llo");
  w.SetStringArray("sa", std::vector<std::string>{"a", "", "ccc"});
  w.SetInt32Array("ia", std::vector<int32_t>{1, -2, 3});
  w.SetFloat32Array("fa", std::vector<float>{0.5f, -1.0f});
  const std::vector<uint8_t> a = Iota(4 * 8 * 3);
  const std::vector<uint8_t> b = Iota(34 * 2);
  ASSERT_OK(w.AddTensor("a", GgmlType::kF32, {8, 3}, a));
  ASSERT_OK(w.AddTensor("b.weight", GgmlType::kQ8_0, {64}, b));
  const std::vector<uint8_t> bytes = w.Serialize();

  ASSERT_OK_AND_ASSIGN(auto f, GgufFile::FromBuffer(bytes));
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata().size(), 15u);
  EXPECT_EQ(*f->GetUint("u8"), 200u);
  EXPECT_EQ(*f->GetInt("i8"), -5);
  EXPECT_EQ(*f->GetInt("u16"), 60000);
  EXPECT_EQ(*f->GetInt("i16"), -30000);
  EXPECT_EQ(*f->GetUint("u32"), 4000000000u);
  EXPECT_EQ(*f->GetInt("i32"), -2000000000);
  EXPECT_EQ(*f->GetUint("u64"), 18000000000000000000ull);
  EXPECT_THAT(f->GetInt("u64"), StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("u64")));
  EXPECT_THAT(f->GetUint("i8"), StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("negative")));
  EXPECT_EQ(*f->GetInt("i64"), -9000000000000000000ll);
  EXPECT_EQ(*f->GetFloat("f32"), 1.5);
  EXPECT_EQ(*f->GetFloat("f64"), -2.25);
  EXPECT_EQ(*f->GetBool("b"), true);
  EXPECT_EQ(*f->GetString("s"), "h\xc3\xa9llo");
  EXPECT_THAT(*f->GetStringArray("sa"), ElementsAre("a", "", "ccc"));
  EXPECT_THAT(*f->GetIntArray("ia"), ElementsAre(1, -2, 3));
  EXPECT_THAT(*f->GetFloatArray("fa"), ElementsAre(0.5f, -1.0f));
  EXPECT_THAT(f->GetString("missing"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing")));
  EXPECT_THAT(f->GetString("u8"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'u8' has type UINT8")));
  EXPECT_THAT(f->GetStringArray("ia"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ARRAY of INT32")));

  ASSERT_EQ(f->tensors().size(), 2u);
  const GgufTensorInfo* ta = f->FindTensor("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->type, GgmlType::kF32);
  EXPECT_THAT(ta->dims, ElementsAre(8, 3));
  EXPECT_EQ(ta->num_elements, 24);
  EXPECT_EQ(ta->num_rows(), 3);
  EXPECT_EQ(std::vector<uint8_t>(ta->data.begin(), ta->data.end()), a);
  const GgufTensorInfo* tb = f->FindTensor("b.weight");
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->offset % 32, 0u);
  EXPECT_EQ(tb->data.data(), bytes.data() + f->data_offset() + tb->offset);  // zero-copy
  EXPECT_EQ(std::vector<uint8_t>(tb->data.begin(), tb->data.end()), b);
  EXPECT_EQ(f->FindTensor("nope"), nullptr);
}

TEST(GgufReaderTest, CustomAlignmentAndFileRoundTrip) {
  GgufWriter w(256);
  const std::vector<uint8_t> a = Iota(2 * 5);
  const std::vector<uint8_t> b = Iota(2 * 7);
  ASSERT_OK(w.AddTensor("x", GgmlType::kF16, {5}, a));
  ASSERT_OK(w.AddTensor("y", GgmlType::kBF16, {7, 1, 1}, b));
  const std::string path = TempPath("gguf_reader_align.gguf");
  ASSERT_OK(w.WriteFile(path));
  ASSERT_OK_AND_ASSIGN(auto f, GgufFile::Open(path));
  EXPECT_EQ(f->alignment(), 256u);
  EXPECT_EQ(f->data_offset() % 256, 0u);
  EXPECT_EQ(f->FindTensor("y")->offset, 256u);
  EXPECT_THAT(f->FindTensor("y")->dims, ElementsAre(7, 1, 1));
  EXPECT_EQ(std::vector<uint8_t>(f->FindTensor("y")->data.begin(), f->FindTensor("y")->data.end()),
            b);
  std::vector<uint8_t> same = w.Serialize();
  EXPECT_EQ(same.size(), f->bytes().size());
  EXPECT_TRUE(std::equal(same.begin(), same.end(), f->bytes().begin()));
}

TEST(GgufReaderTest, WriterRejectsBadTensors) {
  GgufWriter w;
  const std::vector<uint8_t> d = Iota(34);
  EXPECT_THAT(w.AddTensor("q", GgmlType::kQ8_0, {16}, d),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block size 32")));
  EXPECT_THAT(w.AddTensor("q", GgmlType::kQ8_0, {64}, d),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs 68")));
  ASSERT_OK(w.AddTensor("q", GgmlType::kQ8_0, {32}, d));
  EXPECT_THAT(w.AddTensor("q", GgmlType::kQ8_0, {32}, d),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("'q'")));
}

TEST(GgufReaderTest, CopiesValuesFromAnotherFile) {
  GgufWriter w;
  w.SetStringArray("sa", std::vector<std::string>{"x", "yz"});
  w.SetFloat32Array("fa", std::vector<float>{3.0f});
  w.SetFloat32("f", 0.1f);
  w.SetInt16("i", -3);
  const std::vector<uint8_t> first = w.Serialize();
  ASSERT_OK_AND_ASSIGN(auto f, GgufFile::FromBuffer(first));
  GgufWriter copy;
  for (const GgufKeyValue& kv : f->metadata()) copy.SetValue(kv.key, kv.value);
  EXPECT_EQ(copy.Serialize(), first);
}

std::string TokenizerData(const std::string& name) {
  const char* src = std::getenv("JETSERVE_SOURCE_DIR");
  return std::string(src ? src : ".") + "/../shared/testdata/tokenizer/" + name;
}

TEST(GgufReaderTest, ReadsRealVocabFile) {
  auto f = GgufFile::Open(TokenizerData("ggml-vocab-llama-spm.gguf"));
  if (!f.ok() && f.status().code() == absl::StatusCode::kNotFound) {
    GTEST_SKIP() << "shared/testdata not present: " << f.status();
  }
  ASSERT_OK(f.status());
  // Values as the gguf Python package's GGUFReader reports them for this file.
  EXPECT_EQ(*(*f)->GetString("general.architecture"), "llama");
  EXPECT_EQ(*(*f)->GetString("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(*(*f)->GetInt("llama.vocab_size"), 32000);
  ASSERT_OK_AND_ASSIGN(auto tokens, (*f)->GetStringArray("tokenizer.ggml.tokens"));
  EXPECT_EQ(tokens.size(), 32000u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[1], "<s>");
  ASSERT_OK_AND_ASSIGN(auto scores, (*f)->GetFloatArray("tokenizer.ggml.scores"));
  EXPECT_EQ(scores.size(), 32000u);
  ASSERT_OK_AND_ASSIGN(auto types, (*f)->GetIntArray("tokenizer.ggml.token_type"));
  EXPECT_EQ(types[0], 2);  // UNKNOWN
  EXPECT_EQ(*(*f)->GetBool("tokenizer.ggml.add_bos_token"), true);
  EXPECT_TRUE((*f)->tensors().empty());
}

}  // namespace
}  // namespace jetserve
