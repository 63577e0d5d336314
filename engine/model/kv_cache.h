// Paged KV cache: keys and values of all sequences live in fixed-size blocks of one pool
// (KvBlockPool); each sequence (KvCache) holds a block table mapping its positions to
// blocks. Blocks are reference-counted, and every full block carries a chained hash of the
// token ids it holds (seeded with a model salt), so that a prefix cache can find and share
// blocks holding the same tokens of the same model.
//
//   KvBlockPool pool(model->config(), {.block_tokens = 16, .num_blocks = 1024, .salt = salt});
//   KvCache seq(&pool, /*n_ctx=*/2048);
//   if (!seq.Reserve(seq.size() + rows)) { /* out of blocks: preempt someone, retry */ }
//   model->Forward(rows, caches, ...);   // writes into seq's blocks, hashes full blocks
//   seq.Clear();                          // blocks back to the pool
//
// Prefix cache: a cache marked cacheable registers every block it fills in the pool's
// index (chained hash -> block; the block's token ids and its parent block are kept to
// verify a match, so a hash collision never shares a wrong block). A new sequence finds the
// longest run of indexed blocks holding its first tokens (MatchPrefix), shares them
// (AdoptPrefix: reference counts, nothing copied) and computes only the rest. Shared
// blocks are never written: a sequence writes only past its shared full blocks, and a
// Truncate into a shared block makes a private copy before the next write (copy on write,
// in Reserve). Indexed blocks nobody holds stay cached and are evicted least recently
// released first when Allocate finds the free list empty, so num_available() (free +
// evictable) is what admission may count on.
//
//   std::vector<int32_t> hit;
//   pool.MatchPrefix(prompt, /*max_blocks=*/(prompt.size() - 1) / 16, &hit);
//   seq.set_cacheable(true);
//   seq.AdoptPrefix(hit, prompt);        // size() == hit.size() * 16
//
// A KvCache built from a config alone owns a private pool of one block of n_ctx positions
// (the single-sequence layout used by Generator and the CLI). Attention reads positions
// in increasing order through the block table, so results never depend on the block size.
// Neither class is thread-safe: a pool and its caches belong to one thread at a time.
#ifndef JETSERVE_ENGINE_MODEL_KV_CACHE_H_
#define JETSERVE_ENGINE_MODEL_KV_CACHE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "absl/types/span.h"
#include "engine/model/model_config.h"

namespace jetserve::model {

struct KvPoolOptions {
  int64_t block_tokens = 16;  // positions per block, >= 1
  int64_t num_blocks = 0;     // >= 1
  uint64_t salt = 0;          // model salt of the chained block hashes
  // Bits of the chained hash that key the prefix index. Matches are verified by token ids
  // and parent block whatever the key; tests narrow the mask to force collisions.
  uint64_t index_mask = ~uint64_t{0};
};

class KvBlockPool {
 public:
  KvBlockPool(const ModelConfig& config, const KvPoolOptions& options);
  KvBlockPool(const KvBlockPool&) = delete;
  KvBlockPool& operator=(const KvBlockPool&) = delete;

  // Bytes one block takes (keys + values, all layers).
  static int64_t BlockBytes(const ModelConfig& config, int64_t block_tokens);

  int64_t block_tokens() const { return block_tokens_; }
  int64_t num_blocks() const { return static_cast<int64_t>(refs_.size()); }
  // Blocks on the free list (not cached).
  int64_t num_free() const { return static_cast<int64_t>(free_.size()); }
  // Cached blocks nobody holds: Allocate evicts them (least recently released first).
  int64_t num_evictable() const { return num_evictable_; }
  // What Allocate can hand out: free + evictable.
  int64_t num_available() const { return num_free() + num_evictable_; }
  // Blocks in the prefix index (held or evictable).
  int64_t num_cached() const { return static_cast<int64_t>(index_.size()); }
  // Cached blocks evicted by Allocate since the pool was made.
  int64_t evictions() const { return evictions_; }
  uint64_t salt() const { return salt_; }
  int64_t n_layer() const { return n_layer_; }
  int64_t k_dim() const { return k_dim_; }
  int64_t v_dim() const { return v_dim_; }

  // A block with reference count 1 and no hash (a free one, else the least recently
  // released evictable one, dropped from the index), or -1 when none is available.
  int32_t Allocate();
  // Another holder of block b (reference count + 1; an evictable block is no longer).
  void Ref(int32_t b);
  // Drops one reference; at zero an indexed block becomes evictable (most recent), any
  // other returns to the free list and loses its hash.
  void Release(int32_t b);
  int32_t ref_count(int32_t b) const { return refs_[static_cast<size_t>(b)]; }
  // The chained hash of a full block's tokens, unset while it is not full.
  std::optional<uint64_t> hash(int32_t b) const;
  void SetHash(int32_t b, uint64_t h);
  void ClearHash(int32_t b) { hashed_[static_cast<size_t>(b)] = false; }
  // The free list as it is (for independent consistency checks).
  std::vector<int32_t> FreeList() const { return free_; }
  // Evictable blocks, least recently released first (for checks).
  std::vector<int32_t> EvictableList() const;
  bool cached(int32_t b) const { return cached_[static_cast<size_t>(b)]; }

  // Prefix index. Register: block b (held, full, hash h of its chain) holds `tokens` after
  // the prefix that block `parent` (-1: none) held in its incarnation `parent_epoch`.
  // Returns the indexed block for that content: b, or an equal one indexed before (then b
  // stays out of the index).
  int32_t Register(int32_t b, uint64_t h, int32_t parent, uint64_t parent_epoch,
                   absl::Span<const int32_t> tokens);
  // Removes b from the index (an evictable b goes to the free list).
  void Uncache(int32_t b);
  // Indexed blocks holding tokens[0, k * block_tokens) block by block, k <= max_blocks, as
  // long as they match; *blocks gets them (nothing is referenced).
  void MatchPrefix(absl::Span<const int32_t> tokens, int64_t max_blocks,
                   std::vector<int32_t>* blocks) const;
  // Changes every time b is handed out by Allocate: identifies the content it holds.
  uint64_t epoch(int32_t b) const { return epoch_[static_cast<size_t>(b)]; }

  float* K(int32_t b, int64_t layer, int64_t off) {
    return k_.get() + ((b * n_layer_ + layer) * block_tokens_ + off) * k_dim_;
  }
  float* V(int32_t b, int64_t layer, int64_t off) {
    return v_.get() + ((b * n_layer_ + layer) * block_tokens_ + off) * v_dim_;
  }
  const float* K(int32_t b, int64_t layer, int64_t off) const {
    return k_.get() + ((b * n_layer_ + layer) * block_tokens_ + off) * k_dim_;
  }
  const float* V(int32_t b, int64_t layer, int64_t off) const {
    return v_.get() + ((b * n_layer_ + layer) * block_tokens_ + off) * v_dim_;
  }

  // The hash of a full block holding `tokens`, chained after the previous block's hash
  // (the salt for the first block).
  static uint64_t ChainHash(uint64_t previous, absl::Span<const int32_t> tokens);

 private:
  int64_t n_layer_, k_dim_, v_dim_, block_tokens_;
  uint64_t salt_;
  // Not zero-filled: pages are committed as blocks are first written (a large pool costs
  // address space until used).
  std::unique_ptr<float[]> k_, v_;
  std::vector<int32_t> refs_;
  std::vector<uint64_t> hashes_;
  std::vector<bool> hashed_;
  std::vector<int32_t> free_;  // a stack; Allocate takes the back

  // Prefix index and eviction order.
  int32_t Lookup(uint64_t h, int32_t parent, uint64_t parent_epoch,
                 absl::Span<const int32_t> tokens) const;
  void LruUnlink(int32_t b);
  void LruPushBack(int32_t b);
  uint64_t index_mask_;
  std::unordered_multimap<uint64_t, int32_t> index_;  // masked chain hash -> block
  std::vector<bool> cached_;
  std::vector<int32_t> ids_;  // token ids of indexed blocks, block_tokens_ per block
  std::vector<int32_t> parent_;
  std::vector<uint64_t> parent_epoch_, epoch_;
  std::vector<int32_t> lru_prev_, lru_next_;  // evictable blocks, oldest at lru_head_
  int32_t lru_head_ = -1, lru_tail_ = -1;
  int64_t num_evictable_ = 0;
  int64_t evictions_ = 0;
};

// One sequence's keys and values: a block table into a pool. Positions [0, size()) are
// filled; [size(), capacity()) are reserved.
class KvCache {
 public:
  // Private pool: one block of n_ctx positions, reserved at once.
  KvCache(const ModelConfig& config, int64_t n_ctx);
  // Blocks from a shared pool (not owned, outlives the cache), reserved on demand.
  KvCache(KvBlockPool* pool, int64_t n_ctx);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int64_t n_ctx() const { return n_ctx_; }
  int64_t size() const { return size_; }
  // Positions the reserved blocks hold (<= n_ctx).
  int64_t capacity() const;
  const std::vector<int32_t>& blocks() const { return blocks_; }
  // Token ids at positions [0, size()).
  const std::vector<int32_t>& tokens() const { return tokens_; }
  KvBlockPool& pool() { return *pool_; }
  const KvBlockPool& pool() const { return *pool_; }

  // Makes capacity() >= n (n <= n_ctx) by taking blocks from the pool (and a private copy
  // of a shared partly filled last block); false when the pool ran out (the blocks taken
  // so far stay reserved) or n > n_ctx.
  bool Reserve(int64_t n);
  // Blocks needed beyond those held to reserve n positions.
  int64_t BlocksToReserve(int64_t n) const;
  // Whether full blocks this cache fills go into the pool's prefix index.
  void set_cacheable(bool on) { cacheable_ = on; }
  bool cacheable() const { return cacheable_; }
  // On an empty cache: shares `blocks` (from the pool's MatchPrefix for `tokens`), which
  // hold tokens[0, blocks.size() * block_tokens); size() becomes that.
  void AdoptPrefix(absl::Span<const int32_t> blocks, absl::Span<const int32_t> tokens);
  // Forgets all positions and returns every block to the pool.
  void Clear();
  // Forgets positions >= n (n <= size()); whole blocks past n go back to the pool.
  void Truncate(int64_t n);
  // Copies the first n positions of `other` (same model shape); size() becomes n. False
  // when blocks for n positions could not be reserved.
  bool CopyPrefixFrom(const KvCache& other, int64_t n);

  float* K(int64_t layer, int64_t pos) {
    return pool_->K(blocks_[static_cast<size_t>(pos / bt_)], layer, pos % bt_);
  }
  float* V(int64_t layer, int64_t pos) {
    return pool_->V(blocks_[static_cast<size_t>(pos / bt_)], layer, pos % bt_);
  }
  const float* K(int64_t layer, int64_t pos) const {
    return pool_->K(blocks_[static_cast<size_t>(pos / bt_)], layer, pos % bt_);
  }
  const float* V(int64_t layer, int64_t pos) const {
    return pool_->V(blocks_[static_cast<size_t>(pos / bt_)], layer, pos % bt_);
  }

 private:
  friend class Decoder;
  // Records the token at `pos` (written by Forward) and hashes a block it fills.
  void Commit(int64_t pos, int32_t token);
  // The last block is partly filled and someone else holds it: it must be copied first.
  bool TailShared() const;

  std::unique_ptr<KvBlockPool> owned_;
  KvBlockPool* pool_;
  int64_t n_layer_, n_ctx_, k_dim_, v_dim_, bt_;
  int64_t size_ = 0;
  std::vector<int32_t> blocks_;
  std::vector<int32_t> tokens_;
  std::vector<uint64_t> block_hashes_;  // of the full blocks, in order
  bool cacheable_ = false;
  // Per full block (cacheable): the indexed block with its content and that block's epoch.
  std::vector<int32_t> canonical_;
  std::vector<uint64_t> canonical_epoch_;
};

}  // namespace jetserve::model

#endif  // JETSERVE_ENGINE_MODEL_KV_CACHE_H_
