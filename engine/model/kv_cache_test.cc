// Paged KV cache: block accounting (reference counts, free list), chained block hashes
// (equal for equal token prefixes and salt, different otherwise), and attention through a
// block table giving bitwise the same logits as the contiguous single-block layout.
#include "engine/model/kv_cache.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/model/decoder.h"
#include "engine/model/random_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::model {
namespace {

using ::jetserve::testing::StatusIs;

class KvCacheTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::string(::testing::TempDir() + "/kv_cache_test_" + std::to_string(::getpid()) +
                            ".gguf");
    RandomDecoderSpec spec;
    for (const auto& s : RandomDecoderSpecs()) {
      if (s.name == "qwen2-F32.gguf") spec = s;
    }
    ASSERT_OK(WriteRandomDecoder(spec, *path_));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove(*path_);
    delete path_;
  }
  void SetUp() override { ASSERT_OK_AND_ASSIGN(model_, Decoder::Open(*path_)); }

  static std::string* path_;
  std::unique_ptr<Decoder> model_;
};
std::string* KvCacheTest::path_ = nullptr;

TEST_F(KvCacheTest, BlocksAreCountedAndReturned) {
  KvBlockPool pool(model_->config(), {.block_tokens = 4, .num_blocks = 5});
  EXPECT_EQ(pool.num_free(), 5);
  {
    KvCache a(&pool, 64), b(&pool, 64);
    EXPECT_TRUE(a.Reserve(9));  // 3 blocks
    EXPECT_EQ(a.capacity(), 12);
    EXPECT_EQ(pool.num_free(), 2);
    EXPECT_EQ(b.BlocksToReserve(12), 3);
    EXPECT_FALSE(b.Reserve(12));  // only 2 left; they stay reserved
    EXPECT_EQ(pool.num_free(), 0);
    std::set<int32_t> distinct(a.blocks().begin(), a.blocks().end());
    distinct.insert(b.blocks().begin(), b.blocks().end());
    EXPECT_EQ(distinct.size(), 5u);
    pool.Ref(a.blocks()[0]);
    EXPECT_EQ(pool.ref_count(a.blocks()[0]), 2);
    const int32_t shared = a.blocks()[0];
    a.Clear();
    EXPECT_EQ(pool.num_free(), 2);  // the shared block is still held
    pool.Release(shared);
    EXPECT_EQ(pool.num_free(), 3);
    pool.Release(shared);  // a second release of a free block is ignored
    EXPECT_EQ(pool.num_free(), 3);
  }
  EXPECT_EQ(pool.num_free(), 5);
  std::vector<int32_t> free_list = pool.FreeList();
  std::sort(free_list.begin(), free_list.end());
  EXPECT_EQ(free_list, (std::vector<int32_t>{0, 1, 2, 3, 4}));
}

TEST_F(KvCacheTest, PagedAttentionEqualsContiguousAndFullBlocksAreHashed) {
  const std::vector<int32_t> tokens = {1, 7, 9, 33, 2, 8, 100, 4, 5, 6, 11};
  ThreadPool threads(2);
  RunState state(*model_, {.max_rows = 4, .n_ctx = 32, .threads = 2});
  const int64_t vocab = model_->config().n_vocab;
  std::vector<float> want(tokens.size() * static_cast<size_t>(vocab));
  KvCache contiguous(model_->config(), 32);
  ASSERT_OK(model_->Eval(tokens, true, &contiguous, &state, &threads, want.data()));

  for (const int64_t bt : {1, 3, 4, 16}) {
    KvBlockPool pool(model_->config(), {.block_tokens = bt, .num_blocks = 40, .salt = 77});
    KvCache paged(&pool, 32);
    std::vector<float> got(want.size());
    ASSERT_OK(model_->Eval(tokens, true, &paged, &state, &threads, got.data()));
    EXPECT_EQ(got, want) << "block size " << bt;  // bitwise
    // Hash chain recomputed independently from the token ids.
    uint64_t h = 77;
    const auto full = static_cast<size_t>(static_cast<int64_t>(tokens.size()) / bt);
    for (size_t i = 0; i < paged.blocks().size(); ++i) {
      const std::optional<uint64_t> got_hash = pool.hash(paged.blocks()[i]);
      if (i < full) {
        h = KvBlockPool::ChainHash(h, absl::MakeConstSpan(tokens).subspan(
                                          i * static_cast<size_t>(bt), static_cast<size_t>(bt)));
        ASSERT_TRUE(got_hash.has_value()) << "block " << i;
        EXPECT_EQ(*got_hash, h);
      } else {
        EXPECT_FALSE(got_hash.has_value()) << "block " << i << " is not full";
      }
    }
  }
  // Same tokens, same salt: same hashes; another salt or another earlier token: different.
  KvBlockPool p1(model_->config(), {.block_tokens = 2, .num_blocks = 8, .salt = 1});
  KvBlockPool p2(model_->config(), {.block_tokens = 2, .num_blocks = 8, .salt = 2});
  KvCache a(&p1, 32), b(&p1, 32), c(&p2, 32), d(&p1, 32);
  std::vector<int32_t> other = tokens;
  other[0] = 2;
  ASSERT_OK(
      model_->Eval(absl::MakeConstSpan(tokens).first(4), false, &a, &state, &threads, nullptr));
  ASSERT_OK(
      model_->Eval(absl::MakeConstSpan(tokens).first(4), false, &b, &state, &threads, nullptr));
  ASSERT_OK(
      model_->Eval(absl::MakeConstSpan(tokens).first(4), false, &c, &state, &threads, nullptr));
  ASSERT_OK(
      model_->Eval(absl::MakeConstSpan(other).first(4), false, &d, &state, &threads, nullptr));
  EXPECT_EQ(p1.hash(a.blocks()[1]), p1.hash(b.blocks()[1]));
  EXPECT_NE(p1.hash(a.blocks()[1]), p2.hash(c.blocks()[1]));
  EXPECT_NE(p1.hash(a.blocks()[1]), p1.hash(d.blocks()[1]));  // chained: block 0 differs
  EXPECT_EQ(a.tokens(), std::vector<int32_t>(tokens.begin(), tokens.begin() + 4));
}

TEST_F(KvCacheTest, ForwardRefusesPositionsBeyondTheReservedBlocks) {
  KvBlockPool pool(model_->config(), {.block_tokens = 4, .num_blocks = 2});
  KvCache kv(&pool, 32);
  ASSERT_TRUE(kv.Reserve(4));
  ThreadPool threads(1);
  RunState state(*model_, {.max_rows = 8, .n_ctx = 32, .threads = 1});
  std::vector<ForwardRow> rows;
  for (int64_t p = 0; p < 5; ++p) rows.push_back({0, 3, p, false});
  KvCache* caches[1] = {&kv};
  EXPECT_THAT(model_->Forward(rows, caches, &state, &threads, nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(kv.size(), 0);
  // Eval reserves what it needs; the pool holds 8 positions.
  std::vector<int32_t> nine(9, 3);
  EXPECT_THAT(model_->Eval(nine, false, &kv, &state, &threads, nullptr),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

}  // namespace
}  // namespace jetserve::model
