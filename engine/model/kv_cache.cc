#include "engine/model/kv_cache.h"

#include <algorithm>
#include <cstring>

namespace jetserve::model {
namespace {

uint64_t Mix(uint64_t x) {  // SplitMix64 finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

int64_t KvBlockPool::BlockBytes(const ModelConfig& c, int64_t block_tokens) {
  return c.n_layer * block_tokens * c.n_head_kv * (c.head_dim + c.head_dim_v) *
         static_cast<int64_t>(sizeof(float));
}

KvBlockPool::KvBlockPool(const ModelConfig& c, const KvPoolOptions& o)
    : n_layer_(c.n_layer),
      k_dim_(c.n_head_kv * c.head_dim),
      v_dim_(c.n_head_kv * c.head_dim_v),
      block_tokens_(std::max<int64_t>(1, o.block_tokens)),
      salt_(o.salt),
      index_mask_(o.index_mask) {
  const int64_t n = std::max<int64_t>(1, o.num_blocks);
  k_.reset(new float[static_cast<size_t>(n * n_layer_ * block_tokens_ * k_dim_)]);
  v_.reset(new float[static_cast<size_t>(n * n_layer_ * block_tokens_ * v_dim_)]);
  refs_.assign(static_cast<size_t>(n), 0);
  hashes_.assign(static_cast<size_t>(n), 0);
  hashed_.assign(static_cast<size_t>(n), false);
  cached_.assign(static_cast<size_t>(n), false);
  ids_.assign(static_cast<size_t>(n * block_tokens_), 0);
  parent_.assign(static_cast<size_t>(n), -1);
  parent_epoch_.assign(static_cast<size_t>(n), 0);
  epoch_.assign(static_cast<size_t>(n), 0);
  lru_prev_.assign(static_cast<size_t>(n), -1);
  lru_next_.assign(static_cast<size_t>(n), -1);
  free_.reserve(static_cast<size_t>(n));
  // Lowest ids are handed out first.
  for (int64_t b = n - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

int32_t KvBlockPool::Allocate() {
  if (free_.empty() && lru_head_ >= 0) {  // evict the least recently released
    Uncache(lru_head_);
    ++evictions_;
  }
  if (free_.empty()) return -1;
  const int32_t b = free_.back();
  free_.pop_back();
  const auto i = static_cast<size_t>(b);
  refs_[i] = 1;
  hashed_[i] = false;
  ++epoch_[i];  // new content
  return b;
}

void KvBlockPool::Ref(int32_t b) {
  const auto i = static_cast<size_t>(b);
  if (refs_[i] == 0 && cached_[i]) LruUnlink(b);
  ++refs_[i];
}

void KvBlockPool::Release(int32_t b) {
  const auto i = static_cast<size_t>(b);
  int32_t& r = refs_[i];
  if (r <= 0) return;  // never double-free
  if (--r == 0) {
    if (cached_[i]) {
      LruPushBack(b);
    } else {
      hashed_[i] = false;
      free_.push_back(b);
    }
  }
}

void KvBlockPool::LruUnlink(int32_t b) {
  const auto i = static_cast<size_t>(b);
  const int32_t p = lru_prev_[i], n = lru_next_[i];
  (p >= 0 ? lru_next_[static_cast<size_t>(p)] : lru_head_) = n;
  (n >= 0 ? lru_prev_[static_cast<size_t>(n)] : lru_tail_) = p;
  lru_prev_[i] = lru_next_[i] = -1;
  --num_evictable_;
}

void KvBlockPool::LruPushBack(int32_t b) {
  const auto i = static_cast<size_t>(b);
  lru_prev_[i] = lru_tail_;
  lru_next_[i] = -1;
  (lru_tail_ >= 0 ? lru_next_[static_cast<size_t>(lru_tail_)] : lru_head_) = b;
  lru_tail_ = b;
  ++num_evictable_;
}

std::vector<int32_t> KvBlockPool::EvictableList() const {
  std::vector<int32_t> out;
  for (int32_t b = lru_head_; b >= 0; b = lru_next_[static_cast<size_t>(b)]) out.push_back(b);
  return out;
}

int32_t KvBlockPool::Lookup(uint64_t h, int32_t parent, uint64_t parent_epoch,
                            absl::Span<const int32_t> tokens) const {
  const auto [lo, hi] = index_.equal_range(h & index_mask_);
  for (auto it = lo; it != hi; ++it) {
    const int32_t c = it->second;
    const auto i = static_cast<size_t>(c);
    // The same token ids after the same prefix: the parent block (verified the same way
    // when it was matched) in the incarnation it had when c was registered.
    if (parent_[i] != parent || (parent >= 0 && parent_epoch_[i] != parent_epoch)) continue;
    if (!std::equal(
            tokens.begin(), tokens.end(),
            ids_.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(block_tokens_)))) {
      continue;
    }
    return c;
  }
  return -1;
}

int32_t KvBlockPool::Register(int32_t b, uint64_t h, int32_t parent, uint64_t parent_epoch,
                              absl::Span<const int32_t> tokens) {
  const int32_t existing = Lookup(h, parent, parent_epoch, tokens);
  if (existing >= 0) return existing;
  const auto i = static_cast<size_t>(b);
  if (cached_[i]) return b;  // already indexed (an adopted block)
  hashes_[i] = h;
  hashed_[i] = true;
  cached_[i] = true;
  parent_[i] = parent;
  parent_epoch_[i] = parent_epoch;
  std::copy(tokens.begin(), tokens.end(),
            ids_.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(block_tokens_)));
  index_.emplace(h & index_mask_, b);
  return b;
}

void KvBlockPool::Uncache(int32_t b) {
  const auto i = static_cast<size_t>(b);
  if (!cached_[i]) return;
  const auto [lo, hi] = index_.equal_range(hashes_[i] & index_mask_);
  for (auto it = lo; it != hi; ++it) {
    if (it->second == b) {
      index_.erase(it);
      break;
    }
  }
  cached_[i] = false;
  if (refs_[i] == 0) {
    LruUnlink(b);
    hashed_[i] = false;
    free_.push_back(b);
  }
}

void KvBlockPool::MatchPrefix(absl::Span<const int32_t> tokens, int64_t max_blocks,
                              std::vector<int32_t>* blocks) const {
  blocks->clear();
  const auto bt = static_cast<size_t>(block_tokens_);
  uint64_t h = salt_;
  int32_t parent = -1;
  for (size_t k = 0; static_cast<int64_t>(k) < max_blocks && (k + 1) * bt <= tokens.size(); ++k) {
    const absl::Span<const int32_t> part = tokens.subspan(k * bt, bt);
    h = ChainHash(h, part);
    const int32_t c = Lookup(h, parent, parent >= 0 ? epoch(parent) : 0, part);
    if (c < 0) break;
    blocks->push_back(c);
    parent = c;
  }
}

std::optional<uint64_t> KvBlockPool::hash(int32_t b) const {
  if (!hashed_[static_cast<size_t>(b)]) return std::nullopt;
  return hashes_[static_cast<size_t>(b)];
}

void KvBlockPool::SetHash(int32_t b, uint64_t h) {
  hashes_[static_cast<size_t>(b)] = h;
  hashed_[static_cast<size_t>(b)] = true;
}

uint64_t KvBlockPool::ChainHash(uint64_t previous, absl::Span<const int32_t> tokens) {
  uint64_t h = Mix(previous ^ 0x6a09e667f3bcc908ULL);
  for (const int32_t t : tokens) h = Mix(h ^ static_cast<uint32_t>(t)) + 0x9e3779b97f4a7c15ULL;
  return Mix(h ^ tokens.size());
}

KvCache::KvCache(const ModelConfig& c, int64_t n_ctx)
    : owned_(std::make_unique<KvBlockPool>(
          c, KvPoolOptions{.block_tokens = std::max<int64_t>(1, n_ctx), .num_blocks = 1})),
      pool_(owned_.get()),
      n_layer_(c.n_layer),
      n_ctx_(n_ctx),
      k_dim_(pool_->k_dim()),
      v_dim_(pool_->v_dim()),
      bt_(pool_->block_tokens()) {
  blocks_.push_back(pool_->Allocate());
}

KvCache::KvCache(KvBlockPool* pool, int64_t n_ctx)
    : pool_(pool),
      n_layer_(pool->n_layer()),
      n_ctx_(n_ctx),
      k_dim_(pool->k_dim()),
      v_dim_(pool->v_dim()),
      bt_(pool->block_tokens()) {}

KvCache::~KvCache() {
  for (const int32_t b : blocks_) pool_->Release(b);
}

int64_t KvCache::capacity() const {
  if (TailShared()) return size_;  // nothing may be written before the copy
  return std::min(n_ctx_, static_cast<int64_t>(blocks_.size()) * bt_);
}

bool KvCache::TailShared() const {
  if (owned_ != nullptr || size_ % bt_ == 0) return false;
  const int32_t tail = blocks_[static_cast<size_t>(size_ / bt_)];
  return pool_->ref_count(tail) > 1 || pool_->cached(tail);
}

int64_t KvCache::BlocksToReserve(int64_t n) const {
  const int64_t need = (std::min(n, n_ctx_) + bt_ - 1) / bt_;
  return std::max<int64_t>(0, need - static_cast<int64_t>(blocks_.size())) +
         (n > size_ && TailShared() ? 1 : 0);
}

bool KvCache::Reserve(int64_t n) {
  if (n > n_ctx_) return false;
  if (n > size_ && TailShared()) {  // copy on write
    const auto t = static_cast<size_t>(size_ / bt_);
    const int32_t copy = pool_->Allocate();
    if (copy < 0) return false;
    const int32_t old = blocks_[t];
    const auto filled = static_cast<size_t>(size_ % bt_);
    for (int64_t l = 0; l < n_layer_; ++l) {
      std::memcpy(pool_->K(copy, l, 0), pool_->K(old, l, 0), filled * k_dim_ * sizeof(float));
      std::memcpy(pool_->V(copy, l, 0), pool_->V(old, l, 0), filled * v_dim_ * sizeof(float));
    }
    blocks_[t] = copy;
    pool_->Release(old);
  }
  while (static_cast<int64_t>(blocks_.size()) * bt_ < n) {
    const int32_t b = pool_->Allocate();
    if (b < 0) return false;
    blocks_.push_back(b);
  }
  return true;
}

void KvCache::Clear() {
  if (owned_ != nullptr) {  // the private block stays
    Truncate(0);
    return;
  }
  // Last block first: cached blocks become evictable in that order, so a prefix's first
  // blocks (shared by more prompts) are evicted last.
  for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) pool_->Release(*it);
  blocks_.clear();
  tokens_.clear();
  block_hashes_.clear();
  canonical_.clear();
  canonical_epoch_.clear();
  size_ = 0;
}

void KvCache::Truncate(int64_t n) {
  if (n >= size_) return;
  size_ = std::max<int64_t>(0, n);
  tokens_.resize(static_cast<size_t>(size_));
  const auto full = static_cast<size_t>(size_ / bt_);
  if (canonical_.size() > full) {
    canonical_.resize(full);
    canonical_epoch_.resize(full);
  }
  if (owned_ != nullptr) {
    // A block no longer full loses its hash (it will be written again).
    for (size_t i = full; i < block_hashes_.size(); ++i) pool_->ClearHash(blocks_[i]);
    if (block_hashes_.size() > full) block_hashes_.resize(full);
    return;
  }
  const auto keep = static_cast<size_t>((size_ + bt_ - 1) / bt_);
  while (blocks_.size() > keep) {
    pool_->Release(blocks_.back());
    blocks_.pop_back();
  }
  if (block_hashes_.size() > full && full < blocks_.size()) {
    // The last block is no longer full. Held by this cache alone: it leaves the index and
    // will be written again. Shared: it stays as it is, for the others; Reserve copies it.
    const int32_t tail = blocks_[full];
    if (pool_->ref_count(tail) == 1) {
      pool_->Uncache(tail);
      pool_->ClearHash(tail);
    }
  }
  if (block_hashes_.size() > full) block_hashes_.resize(full);
}

void KvCache::AdoptPrefix(absl::Span<const int32_t> blocks, absl::Span<const int32_t> tokens) {
  Clear();
  for (const int32_t b : blocks) {
    pool_->Ref(b);
    blocks_.push_back(b);
    block_hashes_.push_back(pool_->hash(b).value_or(0));
    canonical_.push_back(b);
    canonical_epoch_.push_back(pool_->epoch(b));
  }
  size_ = static_cast<int64_t>(blocks.size()) * bt_;
  tokens_.assign(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(size_));
}

bool KvCache::CopyPrefixFrom(const KvCache& other, int64_t n) {
  n = std::min({n, other.size_, n_ctx_});
  Truncate(0);
  if (!Reserve(n)) return false;
  for (int64_t l = 0; l < n_layer_; ++l) {
    for (int64_t p = 0; p < n; ++p) {
      std::memcpy(K(l, p), other.K(l, p), static_cast<size_t>(k_dim_) * sizeof(float));
      std::memcpy(V(l, p), other.V(l, p), static_cast<size_t>(v_dim_) * sizeof(float));
    }
  }
  for (int64_t p = 0; p < n; ++p) Commit(p, other.tokens_[static_cast<size_t>(p)]);
  return true;
}

void KvCache::Commit(int64_t pos, int32_t token) {
  if (static_cast<int64_t>(tokens_.size()) <= pos) tokens_.resize(static_cast<size_t>(pos) + 1);
  tokens_[static_cast<size_t>(pos)] = token;
  size_ = std::max(size_, pos + 1);
  // Blocks fill in order; hash each one the moment its last position is written.
  while (static_cast<int64_t>(block_hashes_.size() + 1) * bt_ <= size_) {
    const size_t i = block_hashes_.size();
    const uint64_t prev = i == 0 ? pool_->salt() : block_hashes_.back();
    const uint64_t h =
        KvBlockPool::ChainHash(prev, absl::MakeConstSpan(tokens_).subspan(
                                         i * static_cast<size_t>(bt_), static_cast<size_t>(bt_)));
    block_hashes_.push_back(h);
    pool_->SetHash(blocks_[i], h);
    if (cacheable_ && owned_ == nullptr && canonical_.size() == i) {
      const int32_t parent = i == 0 ? -1 : canonical_[i - 1];
      const uint64_t parent_epoch = i == 0 ? 0 : canonical_epoch_[i - 1];
      const int32_t c =
          pool_->Register(blocks_[i], h, parent, parent_epoch,
                          absl::MakeConstSpan(tokens_).subspan(i * static_cast<size_t>(bt_),
                                                               static_cast<size_t>(bt_)));
      canonical_.push_back(c);
      canonical_epoch_.push_back(pool_->epoch(c));
    }
  }
}

}  // namespace jetserve::model
