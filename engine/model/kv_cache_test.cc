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

namespace jetserve::model {
namespace {

// The prefix cache as sequences use it: A computes tokens, B with the same first blocks
// adopts A's indexed blocks and computes the rest; B's logits are bitwise those of a
// contiguous evaluation of B's tokens from scratch (the independent reference).
TEST_F(KvCacheTest, AdoptedPrefixGivesTheSameLogitsAsComputingIt) {
  ThreadPool threads(2);
  RunState state(*model_, {.max_rows = 8, .n_ctx = 32, .threads = 2});
  const int64_t vocab = model_->config().n_vocab;
  const std::vector<int32_t> a_tokens = {5, 9, 2, 44, 7, 7, 31, 8, 60, 3, 12};
  std::vector<int32_t> b_tokens = {5, 9, 2, 44, 7, 7, 31, 8, 60, 90, 91, 92, 93};
  KvBlockPool pool(model_->config(), {.block_tokens = 4, .num_blocks = 12, .salt = 5});
  KvCache a(&pool, 32);
  a.set_cacheable(true);
  ASSERT_OK(model_->Eval(a_tokens, false, &a, &state, &threads, nullptr));
  EXPECT_EQ(pool.num_cached(), 2);  // two full blocks; the third has 3 of 4 tokens

  std::vector<int32_t> hit;
  pool.MatchPrefix(b_tokens, 100, &hit);
  ASSERT_EQ(hit.size(), 2u);  // token 9 differs: block 2 is not A's
  EXPECT_EQ(hit[0], a.blocks()[0]);
  EXPECT_EQ(hit[1], a.blocks()[1]);
  pool.MatchPrefix(b_tokens, 1, &hit);
  EXPECT_EQ(hit.size(), 1u);  // max_blocks bounds it

  pool.MatchPrefix(b_tokens, 100, &hit);
  KvCache b(&pool, 32);
  b.set_cacheable(true);
  b.AdoptPrefix(hit, b_tokens);
  EXPECT_EQ(b.size(), 8);
  EXPECT_EQ(pool.ref_count(a.blocks()[0]), 2);
  const auto rest = absl::MakeConstSpan(b_tokens).subspan(8);
  std::vector<float> got(rest.size() * static_cast<size_t>(vocab));
  ASSERT_OK(model_->Eval(rest, true, &b, &state, &threads, got.data()));
  KvCache contiguous(model_->config(), 32);
  std::vector<float> want(b_tokens.size() * static_cast<size_t>(vocab));
  ASSERT_OK(model_->Eval(b_tokens, true, &contiguous, &state, &threads, want.data()));
  EXPECT_EQ(got, std::vector<float>(want.begin() + 8 * vocab, want.end()));  // bitwise
  EXPECT_EQ(b.tokens(), b_tokens);
  EXPECT_EQ(pool.num_cached(), 3);  // B's third block (60, 90, 91, 92) joined the index

  // Released blocks stay cached and count as available; a new sequence finds them.
  a.Clear();
  b.Clear();
  EXPECT_EQ(pool.num_available(), 12);
  EXPECT_EQ(pool.num_evictable(), 3);
  pool.MatchPrefix(b_tokens, 100, &hit);
  EXPECT_EQ(hit.size(), 3u);
}

// Every block collides in the index (mask 0): matches are still exact, decided by the token
// ids and the parent block's identity (its id and incarnation).
TEST_F(KvCacheTest, HashCollisionsNeverShareAWrongBlock) {
  ThreadPool threads(1);
  RunState state(*model_, {.max_rows = 8, .n_ctx = 32, .threads = 1});
  KvBlockPool pool(model_->config(),
                   {.block_tokens = 2, .num_blocks = 16, .salt = 1, .index_mask = 0});
  const std::vector<int32_t> x = {10, 11, 20, 21}, z = {12, 13, 20, 21};
  KvCache a(&pool, 32), b(&pool, 32);
  a.set_cacheable(true);
  b.set_cacheable(true);
  ASSERT_OK(model_->Eval(x, false, &a, &state, &threads, nullptr));
  ASSERT_OK(model_->Eval(z, false, &b, &state, &threads, nullptr));
  EXPECT_EQ(pool.num_cached(), 4);  // [20, 21] twice: after different first blocks
  std::vector<int32_t> hit;
  pool.MatchPrefix(x, 10, &hit);
  EXPECT_EQ(hit, a.blocks());
  pool.MatchPrefix(z, 10, &hit);
  EXPECT_EQ(hit, b.blocks());
  pool.MatchPrefix(std::vector<int32_t>{14, 15, 20, 21}, 10, &hit);
  EXPECT_TRUE(hit.empty());
  pool.MatchPrefix(std::vector<int32_t>{10, 11, 12, 13}, 10, &hit);
  EXPECT_EQ(hit, std::vector<int32_t>{a.blocks()[0]});
  pool.MatchPrefix(std::vector<int32_t>{20, 21}, 10, &hit);
  EXPECT_TRUE(hit.empty());  // a first block never matches a later one

  // A's first block leaves the index and is handed out again (same id, new incarnation)
  // holding the same tokens: A's second block was computed after the old incarnation and
  // must not be found behind the new one.
  const int32_t a0 = a.blocks()[0], a1 = a.blocks()[1];
  a.Clear();
  pool.Uncache(a0);
  KvCache c(&pool, 32);
  c.set_cacheable(true);
  ASSERT_OK(model_->Eval(std::vector<int32_t>{10, 11}, false, &c, &state, &threads, nullptr));
  ASSERT_EQ(c.blocks()[0], a0);  // the free list is a stack: the same block again
  EXPECT_TRUE(pool.cached(a1));
  pool.MatchPrefix(x, 10, &hit);
  EXPECT_EQ(hit, std::vector<int32_t>{a0});
}

// Cached blocks nobody holds are evicted least recently released first, and only when the
// free list is empty; a sequence's last block is released (and so evicted) first.
TEST_F(KvCacheTest, EvictionIsLeastRecentlyReleasedFirst) {
  ThreadPool threads(1);
  RunState state(*model_, {.max_rows = 8, .n_ctx = 32, .threads = 1});
  KvBlockPool pool(model_->config(), {.block_tokens = 2, .num_blocks = 6});
  const std::vector<int32_t> t = {3, 4, 5, 6, 7, 8, 9, 10};
  KvCache a(&pool, 32);
  a.set_cacheable(true);
  ASSERT_OK(model_->Eval(t, false, &a, &state, &threads, nullptr));
  const std::vector<int32_t> ablocks = a.blocks();
  a.Clear();
  EXPECT_EQ(pool.EvictableList(),
            (std::vector<int32_t>{ablocks[3], ablocks[2], ablocks[1], ablocks[0]}));
  EXPECT_EQ(pool.num_free(), 2);
  EXPECT_EQ(pool.num_available(), 6);
  KvCache b(&pool, 32);
  ASSERT_TRUE(b.Reserve(6));  // 2 free + 1 evicted
  EXPECT_EQ(pool.evictions(), 1);
  std::vector<int32_t> hit;
  pool.MatchPrefix(t, 10, &hit);
  EXPECT_EQ(hit, (std::vector<int32_t>{ablocks[0], ablocks[1], ablocks[2]}));
  // A sharer takes the first block out of the evictable set: the next eviction skips it.
  KvCache c(&pool, 32);
  c.AdoptPrefix(absl::MakeConstSpan(hit).first(1), t);
  EXPECT_EQ(pool.num_evictable(), 2);
  ASSERT_TRUE(b.Reserve(10));  // 2 more: ablocks[2], then ablocks[1]
  EXPECT_EQ(pool.evictions(), 3);
  pool.MatchPrefix(t, 10, &hit);
  EXPECT_EQ(hit, std::vector<int32_t>{ablocks[0]});
  EXPECT_FALSE(b.Reserve(12));  // nothing left: the shared block is held
  c.Clear();
  b.Clear();
  EXPECT_EQ(pool.num_available(), 6);
}

// Truncating into a shared block and writing again copies it first: the other holder's keys
// and values stay as they were, and the writer's logits equal a contiguous evaluation.
TEST_F(KvCacheTest, WritingIntoASharedBlockCopiesIt) {
  ThreadPool threads(1);
  RunState state(*model_, {.max_rows = 8, .n_ctx = 32, .threads = 1});
  const int64_t vocab = model_->config().n_vocab;
  KvBlockPool pool(model_->config(), {.block_tokens = 4, .num_blocks = 8});
  const std::vector<int32_t> t = {21, 22, 23, 24, 25, 26, 27, 28};
  KvCache a(&pool, 32);
  a.set_cacheable(true);
  ASSERT_OK(model_->Eval(t, false, &a, &state, &threads, nullptr));
  const int64_t block_floats = pool.n_layer() * 4 * pool.k_dim();
  const std::vector<float> a_keys(pool.K(a.blocks()[1], 0, 0),
                                  pool.K(a.blocks()[1], 0, 0) + block_floats);
  std::vector<int32_t> hit;
  pool.MatchPrefix(t, 10, &hit);
  ASSERT_EQ(hit.size(), 2u);
  KvCache b(&pool, 32);
  b.AdoptPrefix(hit, t);
  b.Truncate(6);
  EXPECT_EQ(b.capacity(), 6);  // nothing may be written into the shared block
  EXPECT_EQ(b.BlocksToReserve(8), 1);
  const std::vector<int32_t> tail = {70, 71, 72};
  std::vector<float> got(tail.size() * static_cast<size_t>(vocab));
  ASSERT_OK(model_->Eval(tail, true, &b, &state, &threads, got.data()));
  EXPECT_EQ(b.blocks()[0], a.blocks()[0]);
  EXPECT_NE(b.blocks()[1], a.blocks()[1]);
  EXPECT_EQ(
      std::vector<float>(pool.K(a.blocks()[1], 0, 0), pool.K(a.blocks()[1], 0, 0) + block_floats),
      a_keys);
  std::vector<int32_t> whole(t.begin(), t.begin() + 6);
  whole.insert(whole.end(), tail.begin(), tail.end());
  KvCache contiguous(model_->config(), 32);
  std::vector<float> want(whole.size() * static_cast<size_t>(vocab));
  ASSERT_OK(model_->Eval(whole, true, &contiguous, &state, &threads, want.data()));
  EXPECT_EQ(got, std::vector<float>(want.begin() + 6 * vocab, want.end()));
  // The only holder of a cached block truncating into it takes it out of the index.
  pool.MatchPrefix(t, 10, &hit);
  ASSERT_EQ(hit.size(), 2u);
  b.Clear();
  a.Truncate(5);
  EXPECT_FALSE(pool.cached(a.blocks()[1]));
  EXPECT_TRUE(pool.cached(a.blocks()[0]));
}

}  // namespace
}  // namespace jetserve::model
