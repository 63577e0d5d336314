// A generated corpus of malformed GGUF files: each must be refused with InvalidArgument and a
// message naming the field, never a crash, hang or large allocation (this test also runs
// under AddressSanitizer / UndefinedBehaviorSanitizer, .ci/engine-sanitizers.sh).
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/format/gguf_reader.h"
#include "engine/format/gguf_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();

// Byte-level builder: writes exactly what it is told, valid or not.
class Raw {
 public:
  Raw& U8(uint8_t v) { return Bytes(&v, 1); }
  Raw& U32(uint32_t v) { return Bytes(&v, 4); }
  Raw& U64(uint64_t v) { return Bytes(&v, 8); }
  Raw& Str(std::string_view s) {
    U64(s.size());
    return Bytes(s.data(), s.size());
  }
  Raw& Header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    U32(kGgufMagic).U32(version).U64(tensors).U64(kvs);
    return *this;
  }
  Raw& KvU32(std::string_view key, uint32_t v) {
    return Str(key).U32(static_cast<uint32_t>(GgufValueType::kUint32)).U32(v);
  }
  Raw& TensorInfo(std::string_view name, std::vector<uint64_t> dims, uint32_t type,
                  uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) U64(d);
    return U32(type).U64(offset);
  }
  Raw& PadTo(size_t alignment) {
    while (b_.size() % alignment != 0) b_.push_back(0);
    return *this;
  }
  Raw& Zeros(size_t n) {
    b_.resize(b_.size() + n, 0);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return b_; }

 private:
  Raw& Bytes(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    b_.insert(b_.end(), c, c + n);
    return *this;
  }
  std::vector<uint8_t> b_;
};

absl::Status Parse(const Raw& r) { return GgufFile::FromBuffer(r.bytes()).status(); }

#define EXPECT_BAD(raw, substr) \
  EXPECT_THAT(Parse(raw), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(substr)))

std::vector<uint8_t> ValidFile() {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetUint32("llama.block_count", 1);
  w.SetStringArray("tokenizer.ggml.tokens", std::vector<std::string>{"a", "bb", "ccc"});
  w.SetFloat32Array("tokenizer.ggml.scores", std::vector<float>{0, -1, -2});
  std::vector<uint8_t> a(4 * 32, 1), b(18 * 2, 2);
  EXPECT_OK(w.AddTensor("blk.0.attn_q.weight", GgmlType::kF32, {32}, a));
  EXPECT_OK(w.AddTensor("blk.0.attn_k.weight", GgmlType::kQ4_0, {32, 2}, b));
  return w.Serialize();
}

TEST(GgufMalformedTest, EveryTruncationIsRefused) {
  const std::vector<uint8_t> full = ValidFile();
  ASSERT_OK(GgufFile::FromBuffer(full).status());
  for (size_t len = 0; len < full.size(); ++len) {
    // A private copy of exactly `len` bytes, so ASan sees any read past the end.
    std::vector<uint8_t> cut(full.begin(), full.begin() + len);
    auto f = GgufFile::FromBuffer(cut);
    ASSERT_FALSE(f.ok()) << "accepted a file truncated to " << len << " bytes";
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << len;
    EXPECT_THAT(std::string(f.status().message()),
                AnyOf(HasSubstr("truncated"), HasSubstr("exceeds"), HasSubstr("remaining")))
        << len;
  }
}

TEST(GgufMalformedTest, TruncationMessagesNameTheSection) {
  const std::vector<uint8_t> full = ValidFile();
  auto cut = [&](size_t n) {
    std::vector<uint8_t> c(full.begin(), full.begin() + n);
    return std::string(GgufFile::FromBuffer(c).status().message());
  };
  EXPECT_THAT(cut(2), HasSubstr("magic"));
  EXPECT_THAT(cut(6), HasSubstr("version"));
  EXPECT_THAT(cut(12), HasSubstr("tensor_count"));
  EXPECT_THAT(cut(20), HasSubstr("metadata_kv_count"));
  EXPECT_THAT(cut(90), HasSubstr("kv 1 key: string length 17 at offset 69"));
  EXPECT_THAT(cut(full.size() - 1), HasSubstr("blk.0.attn_k.weight"));
  EXPECT_THAT(cut(full.size() - 1), HasSubstr("exceeds the data section size"));
}

TEST(GgufMalformedTest, HeaderFields) {
  Raw magic;
  magic.U32(0x46554746).U32(3).U64(0).U64(0);
  EXPECT_BAD(magic, "bad magic");
  EXPECT_BAD(Raw().Header(0, 0, 1), "version 1");
  EXPECT_BAD(Raw().Header(0, 0, 4), "unsupported GGUF version 4");
  EXPECT_BAD(Raw().Header(0, 0, 0x03000000), "big-endian");
  EXPECT_OK(Parse(Raw().Header(0, 0, 2)));
  EXPECT_OK(Parse(Raw().Header(0, 0, 3)));
  EXPECT_BAD(Raw().Header(0, kMax64), "metadata_kv_count 18446744073709551615");
  EXPECT_BAD(Raw().Header(uint64_t{1} << 62, 0), "tensor_count 4611686018427387904");
  EXPECT_BAD(Raw().Header(1, 0), "tensor_count 1");
  EXPECT_THAT(GgufFile::FromBuffer({}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("truncated: magic")));
}

TEST(GgufMalformedTest, KeysAndValues) {
  EXPECT_BAD(Raw().Header(0, 1).U64(kMax64).Zeros(16),
             "kv 0 key: string length 18446744073709551615");
  EXPECT_BAD(Raw().Header(0, 1).U64(1000).Zeros(16), "string length 1000");
  EXPECT_BAD(Raw().Header(0, 1).Str("").U32(4).U32(0), "empty key");
  EXPECT_BAD(Raw().Header(0, 1).Str("k").U32(13).U32(0), "kv 0 'k': invalid value type 13");
  EXPECT_BAD(Raw().Header(0, 1).Str("k").U32(kMax64 & 0xffffffff).U32(0), "invalid value type");
  EXPECT_BAD(Raw().Header(0, 2).KvU32("a.b", 1).KvU32("a.b", 2), "'a.b': duplicate key");
  EXPECT_BAD(Raw().Header(0, 1).Str("b").U32(7).U8(2).Zeros(8), "invalid BOOL value 2");
  EXPECT_BAD(Raw().Header(0, 1).Str("s").U32(8).U64(kMax64 - 3).Zeros(8), "'s': string length");
  // Scalar cut short.
  EXPECT_BAD(Raw().Header(0, 1).Str("k").U32(10).U32(0).Zeros(1), "'k'");
}

TEST(GgufMalformedTest, Arrays) {
  auto arr = [](uint32_t elem_type, uint64_t count) {
    Raw r;
    r.Header(0, 1)
        .Str("arr")
        .U32(static_cast<uint32_t>(GgufValueType::kArray))
        .U32(elem_type)
        .U64(count);
    return r;
  };
  EXPECT_BAD(arr(10, uint64_t{1} << 61).Zeros(64), "array of 2305843009213693952 UINT64");
  EXPECT_BAD(arr(10, kMax64).Zeros(64), "array of 18446744073709551615 UINT64");
  EXPECT_BAD(arr(4, 100).Zeros(64), "exceeds the 64 remaining bytes");
  EXPECT_BAD(arr(8, kMax64).Zeros(64), "array of 18446744073709551615 strings");
  EXPECT_BAD(arr(8, 2).Str("ok").U64(kMax64), "'arr'[1]: string length");
  EXPECT_BAD(arr(9, 1).U32(4).U64(1).U32(0), "nested arrays");
  EXPECT_BAD(arr(99, 1).Zeros(8), "array element: invalid value type 99");
  EXPECT_BAD(arr(7, 3).U8(0).U8(1).U8(5), "'arr'[2]: invalid BOOL value 5");
  EXPECT_OK(Parse(arr(8, 0)));
}

TEST(GgufMalformedTest, Alignment) {
  auto with_alignment = [](uint32_t type, uint64_t value) {
    Raw r;
    r.Header(0, 1).Str("general.alignment").U32(type);
    if (type == 4) {
      r.U32(static_cast<uint32_t>(value));
    } else {
      r.U64(value);
    }
    return r;
  };
  EXPECT_BAD(with_alignment(4, 0), "general.alignment 0 is not a power of two");
  EXPECT_BAD(with_alignment(4, 3), "general.alignment 3");
  EXPECT_BAD(with_alignment(4, 1u << 31), "general.alignment 2147483648");
  EXPECT_BAD(with_alignment(10, 32), "general.alignment has type UINT64");
  EXPECT_OK(Parse(with_alignment(4, 64)));
}

// One tensor "t" after a valid header; data section padded to 32.
Raw OneTensor(std::vector<uint64_t> dims, uint32_t type, uint64_t offset, size_t data_bytes) {
  Raw r;
  r.Header(1, 0).TensorInfo("t", std::move(dims), type, offset).PadTo(32).Zeros(data_bytes);
  return r;
}

TEST(GgufMalformedTest, TensorInfos) {
  EXPECT_OK(Parse(OneTensor({8}, 0, 0, 32)));
  EXPECT_BAD(OneTensor({}, 0, 0, 32), "tensor 't': n_dims 0");
  EXPECT_BAD(OneTensor({1, 1, 1, 1, 1}, 0, 0, 32), "n_dims 5");
  EXPECT_BAD(OneTensor({uint64_t{1} << 63}, 0, 0, 32), "ne[0] = 9223372036854775808");
  EXPECT_BAD(OneTensor({uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0, 32), "overflows");
  EXPECT_BAD(OneTensor({uint64_t{1} << 31, uint64_t{1} << 31, 4}, 0, 0, 32), "overflow");
  EXPECT_BAD(OneTensor({8}, 99, 0, 32), "tensor 't': invalid tensor type 99");
  EXPECT_BAD(OneTensor({8}, 4, 0, 32), "invalid tensor type 4");  // Q4_2, removed
  EXPECT_BAD(OneTensor({31}, 2, 0, 64),
             "dimension 0 (31) is not a multiple of the Q4_0 block size 32");
  EXPECT_BAD(OneTensor({8}, 0, 64, 32), "offset 64 + size 32 exceeds the data section size 32");
  EXPECT_BAD(OneTensor({8}, 0, kMax64 - 31, 32), "exceeds the data section");
  EXPECT_BAD(OneTensor({8}, 0, 4, 64), "offset 4 is not a multiple of the alignment 32");
  EXPECT_BAD(OneTensor({1 << 20}, 0, 0, 32), "exceeds the data section");
  Raw empty_name;
  empty_name.Header(1, 0).TensorInfo("", {8}, 0, 0).PadTo(32).Zeros(32);
  EXPECT_BAD(empty_name, "tensor 0: empty name");
  Raw long_name;
  long_name.Header(1, 0).U64(kMax64).Zeros(64);
  EXPECT_BAD(long_name, "tensor 0 name: string length");
}

TEST(GgufMalformedTest, TensorLayout) {
  Raw dup;
  dup.Header(2, 0).TensorInfo("t", {8}, 0, 0).TensorInfo("t", {8}, 0, 32).PadTo(32).Zeros(64);
  EXPECT_BAD(dup, "tensor 't': duplicate name");
  Raw overlap;
  overlap.Header(2, 0).TensorInfo("a", {16}, 0, 0).TensorInfo("b", {8}, 0, 32).PadTo(32).Zeros(64);
  EXPECT_BAD(overlap, "tensor 'b' (offset 32) overlaps tensor 'a' (offset 0, size 64)");
  Raw same_offset;
  same_offset.Header(2, 0)
      .TensorInfo("a", {8}, 0, 0)
      .TensorInfo("b", {8}, 0, 0)
      .PadTo(32)
      .Zeros(32);
  EXPECT_BAD(same_offset, "overlaps");
  Raw ok;
  ok.Header(2, 0).TensorInfo("b", {8}, 0, 32).TensorInfo("a", {8}, 0, 0).PadTo(32).Zeros(64);
  EXPECT_OK(Parse(ok));
  // Header ends past the file when the data section's padding is missing.
  Raw no_data;
  no_data.Header(1, 0).TensorInfo("t", {8}, 0, 0);
  EXPECT_BAD(no_data, "data section at offset");
  // Zero-sized tensors are fine anywhere in range.
  Raw zero;
  zero.Header(1, 0).TensorInfo("z", {0, 4}, 0, 0).PadTo(32);
  EXPECT_OK(Parse(zero));
}

TEST(GgufMalformedTest, RandomMutationsNeverCrash) {
  const std::vector<uint8_t> full = ValidFile();
  std::mt19937 rng(12345);
  int accepted = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> m = full;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % m.size();
      switch (rng() % 3) {
        case 0:
          m[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          m[at] = static_cast<uint8_t>(rng());
          break;
        default:
          m[at] = 0xff;
          break;
      }
    }
    if (rng() % 4 == 0) m.resize(rng() % m.size());
    auto f = GgufFile::FromBuffer(m);
    if (!f.ok()) {
      EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_FALSE(f.status().message().empty());
      continue;
    }
    ++accepted;
    // Whatever was accepted is safe to walk: every view lies inside the buffer.
    uint64_t sum = 0;
    for (const GgufKeyValue& kv : (*f)->metadata()) {
      for (std::string_view s : kv.value.string_array()) sum += s.size();
      for (uint64_t i = 0; i < kv.value.array_size() && kv.value.array_bytes().size(); ++i) {
        sum += kv.value.ArrayUintAt(i);
      }
    }
    for (const GgufTensorInfo& t : (*f)->tensors()) {
      ASSERT_GE(t.data.data(), m.data());
      ASSERT_LE(t.data.data() + t.data.size(), m.data() + m.size());
      if (!t.data.empty()) sum += t.data.front() + t.data.back();
    }
    (void)sum;
  }
  EXPECT_GT(accepted, 0);
}

TEST(GgufMalformedTest, OpenReportsPath) {
  EXPECT_THAT(GgufFile::Open("/nonexistent/model.gguf"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/model.gguf")));
  EXPECT_THAT(GgufFile::Open("/"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a regular file")));
}

}  // namespace
}  // namespace jetserve
