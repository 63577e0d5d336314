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
      salt_(o.salt) {
  const int64_t n = std::max<int64_t>(1, o.num_blocks);
  k_.reset(new float[static_cast<size_t>(n * n_layer_ * block_tokens_ * k_dim_)]);
  v_.reset(new float[static_cast<size_t>(n * n_layer_ * block_tokens_ * v_dim_)]);
  refs_.assign(static_cast<size_t>(n), 0);
  hashes_.assign(static_cast<size_t>(n), 0);
  hashed_.assign(static_cast<size_t>(n), false);
  free_.reserve(static_cast<size_t>(n));
  // Lowest ids are handed out first.
  for (int64_t b = n - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

int32_t KvBlockPool::Allocate() {
  if (free_.empty()) return -1;
  const int32_t b = free_.back();
  free_.pop_back();
  refs_[static_cast<size_t>(b)] = 1;
  hashed_[static_cast<size_t>(b)] = false;
  return b;
}

void KvBlockPool::Ref(int32_t b) { ++refs_[static_cast<size_t>(b)]; }

void KvBlockPool::Release(int32_t b) {
  int32_t& r = refs_[static_cast<size_t>(b)];
  if (r <= 0) return;  // never double-free
  if (--r == 0) {
    hashed_[static_cast<size_t>(b)] = false;
    free_.push_back(b);
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
  return std::min(n_ctx_, static_cast<int64_t>(blocks_.size()) * bt_);
}

int64_t KvCache::BlocksToReserve(int64_t n) const {
  const int64_t need = (std::min(n, n_ctx_) + bt_ - 1) / bt_;
  return std::max<int64_t>(0, need - static_cast<int64_t>(blocks_.size()));
}

bool KvCache::Reserve(int64_t n) {
  if (n > n_ctx_) return false;
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
  for (const int32_t b : blocks_) pool_->Release(b);
  blocks_.clear();
  tokens_.clear();
  block_hashes_.clear();
  size_ = 0;
}

void KvCache::Truncate(int64_t n) {
  if (n >= size_) return;
  size_ = std::max<int64_t>(0, n);
  tokens_.resize(static_cast<size_t>(size_));
  const auto full = static_cast<size_t>(size_ / bt_);
  // A block no longer full loses its hash (it will be written again).
  for (size_t i = full; i < block_hashes_.size(); ++i) {
    if (i < blocks_.size()) pool_->ClearHash(blocks_[i]);
  }
  if (block_hashes_.size() > full) block_hashes_.resize(full);
  if (owned_ == nullptr) {
    const auto keep = static_cast<size_t>((size_ + bt_ - 1) / bt_);
    while (blocks_.size() > keep) {
      pool_->Release(blocks_.back());
      blocks_.pop_back();
    }
  }
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
  }
}

}  // namespace jetserve::model
