#include "engine/runtime/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace jetserve::runtime {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

bool Before(const TokenCandidate& a, const TokenCandidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

absl::Status Range(const char* field, double v, double lo, double hi, bool lo_open) {
  if (!std::isfinite(v) || v > hi || (lo_open ? v <= lo : v < lo)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sampling.", field, " = ", v, " is out of range ", lo_open ? "(" : "[", lo, ", ", hi, "]"));
  }
  return absl::OkStatus();
}

class LogitBias final : public SamplerStage {
 public:
  explicit LogitBias(std::vector<std::pair<int32_t, float>> bias) : bias_(std::move(bias)) {
    for (const auto& [id, b] : bias_) forced_ = forced_ || b >= 100.f;
  }
  std::string_view name() const override { return "logit_bias"; }
  void Apply(Candidates& c) override {
    auto& items = c.items();  // fresh: items[i].id == i
    for (const auto& [id, b] : bias_) {
      if (b <= -100.f) {
        items[static_cast<size_t>(id)].logit = kNegInf;
      } else if (!forced_) {
        items[static_cast<size_t>(id)].logit += b;
      }
    }
    if (forced_) {
      // Only the forced tokens remain, ranked by their own logits plus bias.
      std::vector<float>& keep = scratch_;
      keep.assign(items.size(), kNegInf);
      for (const auto& [id, b] : bias_) {
        if (b >= 100.f) keep[static_cast<size_t>(id)] = items[static_cast<size_t>(id)].logit + b;
      }
      for (size_t i = 0; i < items.size(); ++i) items[i].logit = keep[i];
    }
  }

 private:
  std::vector<std::pair<int32_t, float>> bias_;
  bool forced_ = false;
  std::vector<float> scratch_;
};

class Penalties final : public SamplerStage {
 public:
  Penalties(int32_t vocab, int32_t window, float repeat, float frequency, float presence)
      : window_(window),
        repeat_(repeat),
        frequency_(frequency),
        presence_(presence),
        counts_(static_cast<size_t>(vocab), 0),
        done_(static_cast<size_t>(vocab), 0),
        ring_(static_cast<size_t>(window), 0) {}
  std::string_view name() const override { return "penalties"; }
  void Accept(int32_t token) override {
    if (window_ <= 0 || token < 0 || static_cast<size_t>(token) >= counts_.size()) return;
    if (size_ == window_) {
      --counts_[static_cast<size_t>(ring_[static_cast<size_t>(head_)])];
      ring_[static_cast<size_t>(head_)] = token;
      head_ = (head_ + 1) % window_;
    } else {
      ring_[static_cast<size_t>((head_ + size_) % window_)] = token;
      ++size_;
    }
    ++counts_[static_cast<size_t>(token)];
  }
  void Apply(Candidates& c) override {
    auto& items = c.items();
    for (int32_t i = 0; i < size_; ++i) {
      const auto t = static_cast<size_t>(ring_[static_cast<size_t>((head_ + i) % window_)]);
      if (done_[t]) continue;
      done_[t] = 1;
      float& l = items[t].logit;
      l = l <= 0 ? l * repeat_ : l / repeat_;
      l -= static_cast<float>(counts_[t]) * frequency_ + presence_;
    }
    for (int32_t i = 0; i < size_; ++i)
      done_[static_cast<size_t>(ring_[static_cast<size_t>((head_ + i) % window_)])] = 0;
  }
  void Reset() override {
    std::fill(counts_.begin(), counts_.end(), 0);
    size_ = head_ = 0;
  }

 private:
  int32_t window_;
  float repeat_, frequency_, presence_;
  std::vector<int32_t> counts_;
  std::vector<uint8_t> done_;
  std::vector<int32_t> ring_;
  int32_t head_ = 0, size_ = 0;
};

class TopK final : public SamplerStage {
 public:
  explicit TopK(int32_t k) : k_(k) {}
  std::string_view name() const override { return "top_k"; }
  void Apply(Candidates& c) override {
    auto& items = c.items();
    const auto k = static_cast<size_t>(k_);
    if (k_ <= 0 || k >= items.size()) return;
    std::partial_sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(k), items.end(),
                      Before);
    c.Truncate(k);
    c.set_sorted(true);
  }

 private:
  int32_t k_;
};

class TypicalP final : public SamplerStage {
 public:
  explicit TypicalP(float p) : p_(p) {}
  std::string_view name() const override { return "typical_p"; }
  void Apply(Candidates& c) override {
    if (p_ >= 1.f) return;
    c.Softmax();
    auto& items = c.items();
    double entropy = 0;
    for (const TokenCandidate& t : items) {
      if (t.p > 0) entropy -= static_cast<double>(t.p) * std::log(static_cast<double>(t.p));
    }
    order_.clear();
    for (size_t i = 0; i < items.size(); ++i) {
      const double s = items[i].p > 0
                           ? std::fabs(-std::log(static_cast<double>(items[i].p)) - entropy)
                           : std::numeric_limits<double>::infinity();
      order_.push_back({s, i});
    }
    std::stable_sort(order_.begin(), order_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    double cum = 0;
    size_t last = order_.size();
    for (size_t i = 0; i < order_.size(); ++i) {
      cum += items[order_[i].second].p;
      if (cum > p_) {
        last = i + 1;
        break;
      }
    }
    kept_.clear();
    for (size_t i = 0; i < last; ++i) kept_.push_back(items[order_[i].second]);
    items.assign(kept_.begin(), kept_.end());
    c.set_sorted(false);
  }

 private:
  float p_;
  std::vector<std::pair<double, size_t>> order_;
  std::vector<TokenCandidate> kept_;
};

class TopP final : public SamplerStage {
 public:
  explicit TopP(float p) : p_(p) {}
  std::string_view name() const override { return "top_p"; }
  void Apply(Candidates& c) override {
    if (p_ >= 1.f) return;
    c.Softmax();
    double cum = 0;
    const auto& items = c.items();
    for (size_t i = 0; i < items.size(); ++i) {
      cum += items[i].p;
      if (cum >= p_) {
        c.Truncate(i + 1);
        return;
      }
    }
  }

 private:
  float p_;
};

class MinP final : public SamplerStage {
 public:
  explicit MinP(float p) : p_(p) {}
  std::string_view name() const override { return "min_p"; }
  void Apply(Candidates& c) override {
    if (p_ <= 0.f) return;
    auto& items = c.items();
    float mx = kNegInf;
    for (const TokenCandidate& t : items) mx = std::max(mx, t.logit);
    const float min_logit = mx + std::log(p_);
    size_t out = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].logit >= min_logit) items[out++] = items[i];
    }
    c.Truncate(out);
  }

 private:
  float p_;
};

class Temperature final : public SamplerStage {
 public:
  explicit Temperature(float t) : t_(t) {}
  std::string_view name() const override { return "temperature"; }
  void Apply(Candidates& c) override {
    for (TokenCandidate& t : c.items()) t.logit /= t_;
  }

 private:
  float t_;
};

}  // namespace

std::unique_ptr<SamplerStage> MakeLogitBias(std::vector<std::pair<int32_t, float>> bias) {
  return std::make_unique<LogitBias>(std::move(bias));
}
std::unique_ptr<SamplerStage> MakePenalties(int32_t vocab, int32_t last_n, float repeat,
                                            float frequency, float presence) {
  return std::make_unique<Penalties>(vocab, last_n, repeat, frequency, presence);
}
std::unique_ptr<SamplerStage> MakeTopK(int32_t k) { return std::make_unique<TopK>(k); }
std::unique_ptr<SamplerStage> MakeTypicalP(float p) { return std::make_unique<TypicalP>(p); }
std::unique_ptr<SamplerStage> MakeTopP(float p) { return std::make_unique<TopP>(p); }
std::unique_ptr<SamplerStage> MakeMinP(float p) { return std::make_unique<MinP>(p); }
std::unique_ptr<SamplerStage> MakeTemperature(float t) { return std::make_unique<Temperature>(t); }

void Candidates::Reset(absl::Span<const float> logits) {
  items_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    items_[i] = {static_cast<int32_t>(i), logits[i], 0.f};
  }
  sorted_ = false;
}

void Candidates::Softmax() {
  if (!sorted_) {
    std::sort(items_.begin(), items_.end(), Before);
    sorted_ = true;
  }
  if (items_.empty()) return;
  const float mx = items_[0].logit;
  double sum = 0;
  for (TokenCandidate& t : items_) {
    t.p = mx == kNegInf ? 0.f : std::exp(t.logit - mx);
    sum += t.p;
  }
  for (TokenCandidate& t : items_) t.p = sum > 0 ? static_cast<float>(t.p / sum) : 0.f;
}

absl::Status ValidateSamplingOptions(const SamplingOptions& o, int32_t vocab) {
  absl::Status s;
  if (!(s = Range("temperature", o.temperature, 0, 100, false)).ok()) return s;
  if (!(s = Range("top_k", o.top_k, 0, vocab, false)).ok()) return s;
  if (!(s = Range("top_p", o.top_p, 0, 1, true)).ok()) return s;
  if (!(s = Range("min_p", o.min_p, 0, 1, false)).ok()) return s;
  if (!(s = Range("typical_p", o.typical_p, 0, 1, true)).ok()) return s;
  if (!(s = Range("repetition_penalty", o.repetition_penalty, 0, 10, true)).ok()) return s;
  if (!(s = Range("presence_penalty", o.presence_penalty, -2, 2, false)).ok()) return s;
  if (!(s = Range("frequency_penalty", o.frequency_penalty, -2, 2, false)).ok()) return s;
  if (o.penalty_last_n < -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling.penalty_last_n = ", o.penalty_last_n, " must be >= -1"));
  }
  if (o.logit_bias.size() > 1024) {
    return absl::InvalidArgumentError("sampling.logit_bias has more than 1024 entries");
  }
  for (const auto& [id, b] : o.logit_bias) {
    if (id < 0 || id >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("sampling.logit_bias: token id ", id, " is out of range [0, ", vocab, ")"));
    }
    if (!std::isfinite(b)) {
      return absl::InvalidArgumentError(
          absl::StrCat("sampling.logit_bias: value for token ", id, " is not finite"));
    }
  }
  return absl::OkStatus();
}

Sampler::Sampler(const SamplingOptions& options, int32_t vocab)
    : options_(options), vocab_(vocab), rng_(options.seed) {}

absl::StatusOr<std::unique_ptr<Sampler>> Sampler::Create(const SamplingOptions& o, int32_t vocab,
                                                         int64_t n_ctx) {
  if (vocab < 1) return absl::InvalidArgumentError("vocabulary is empty");
  absl::Status st = ValidateSamplingOptions(o, vocab);
  if (!st.ok()) return st;
  std::unique_ptr<Sampler> s(new Sampler(o, vocab));
  if (o.constraint) s->constraint_ = o.constraint();
  if (!o.logit_bias.empty()) s->pre_.push_back(MakeLogitBias(o.logit_bias));
  const bool penalties =
      o.repetition_penalty != 1.f || o.frequency_penalty != 0.f || o.presence_penalty != 0.f;
  if (penalties && o.penalty_last_n != 0) {
    const int64_t window = o.penalty_last_n < 0 ? std::max<int64_t>(1, n_ctx) : o.penalty_last_n;
    s->pre_.push_back(MakePenalties(vocab, static_cast<int32_t>(std::min<int64_t>(window, 1 << 24)),
                                    o.repetition_penalty, o.frequency_penalty, o.presence_penalty));
  }
  if (o.temperature > 0) {
    if (o.top_k > 0) s->truncate_.push_back(MakeTopK(o.top_k));
    if (o.typical_p < 1.f) s->truncate_.push_back(MakeTypicalP(o.typical_p));
    if (o.top_p < 1.f) s->truncate_.push_back(MakeTopP(o.top_p));
    if (o.min_p > 0.f) s->truncate_.push_back(MakeMinP(o.min_p));
    if (o.temperature != 1.f) s->truncate_.push_back(MakeTemperature(o.temperature));
  }
  s->adjusted_.resize(static_cast<size_t>(vocab));
  return s;
}

void Sampler::Accept(int32_t token) {
  if (constraint_ != nullptr && generating_) constraint_->Accept(token);
  for (auto& st : pre_) st->Accept(token);
  for (auto& st : truncate_) st->Accept(token);
}

int32_t Sampler::Sample(absl::Span<const float> logits, absl::Span<const int32_t> banned) {
  generating_ = true;
  if (constraint_ == nullptr) return SampleOnce(logits, banned, false);
  // llama.cpp's order: sample without the constraint and keep the token when the constraint
  // allows it, else sample again under the full mask. For a single random draw this is the
  // constrained distribution exactly (P(t) + P(rejected) * P(t) / P(allowed) =
  // P(t) / P(allowed)), and greedy picks the same token; the full mask is only computed
  // when the model's choice breaks the format.
  const int32_t t = SampleOnce(logits, banned, false);
  if (constraint_->Allows(t)) return t;
  return SampleOnce(logits, banned, true);
}

int32_t Sampler::SampleOnce(absl::Span<const float> logits, absl::Span<const int32_t> banned,
                            bool constrained) {
  cand_.Reset(logits.subspan(0, std::min<size_t>(logits.size(), static_cast<size_t>(vocab_))));
  auto& items = cand_.items();
  for (const int32_t b : banned) {
    if (b >= 0 && static_cast<size_t>(b) < items.size())
      items[static_cast<size_t>(b)].logit = kNegInf;
  }
  if (constrained) constraint_->Apply(cand_);
  for (auto& st : pre_) st->Apply(cand_);

  // The distribution logprobs report: after bias and penalties, at the temperature.
  const float t = options_.temperature > 0 ? options_.temperature : 1.f;
  float mx = kNegInf;
  for (size_t i = 0; i < items.size(); ++i) {
    adjusted_[i] = items[i].logit / t;
    mx = std::max(mx, adjusted_[i]);
  }
  adjusted_n_ = items.size();
  adjusted_max_ = mx;
  log_z_ready_ = false;

  if (options_.temperature <= 0) {  // greedy: the highest logit, lowest id on ties
    const TokenCandidate* best = &items[0];
    for (const TokenCandidate& c : items) {
      if (Before(c, *best)) best = &c;
    }
    return best->id;
  }
  for (auto& st : truncate_) st->Apply(cand_);
  if (items.empty()) return 0;
  float top = kNegInf;
  for (const TokenCandidate& c : items) top = std::max(top, c.logit);
  if (top == kNegInf) return items[0].id;
  double total = 0;
  for (TokenCandidate& c : items) {
    c.p = std::exp(c.logit - top);
    total += c.p;
  }
  const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0) * total;
  double cum = 0;
  for (const TokenCandidate& c : items) {
    cum += c.p;
    if (u < cum) return c.id;
  }
  for (auto it = items.rbegin(); it != items.rend(); ++it) {
    if (it->p > 0) return it->id;
  }
  return items[0].id;
}

float Sampler::LogZ() const {
  if (!log_z_ready_) {
    const float mx = adjusted_max_;
    double sum = 0;
    if (mx != kNegInf) {
      for (size_t i = 0; i < adjusted_n_; ++i)
        sum += std::exp(static_cast<double>(adjusted_[i] - mx));
    }
    log_z_ = mx == kNegInf ? 0.f : mx + static_cast<float>(std::log(sum));
    log_z_ready_ = true;
  }
  return log_z_;
}

float Sampler::LastLogprob(int32_t token) const {
  if (token < 0 || token >= vocab_) return kNegInf;
  return adjusted_[static_cast<size_t>(token)] - LogZ();
}

void Sampler::LastTopLogprobs(int top_n, std::vector<LogprobEntry>* out) const {
  out->clear();
  if (top_n <= 0) return;
  // Selection of the top_n by a bounded insertion (top_n <= 20).
  const float log_z = LogZ();
  for (int32_t id = 0; id < vocab_; ++id) {
    const float lp = adjusted_[static_cast<size_t>(id)] - log_z;
    if (static_cast<int>(out->size()) == top_n && lp <= out->back().logprob) continue;
    auto pos = std::find_if(out->begin(), out->end(),
                            [&](const LogprobEntry& e) { return lp > e.logprob; });
    out->insert(pos, {id, lp});
    if (static_cast<int>(out->size()) > top_n) out->pop_back();
  }
}

}  // namespace jetserve::runtime
