#include "engine/encoder/decoder_text.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/model/kv_cache.h"
#include "engine/model/status_macros.h"

namespace jetserve::encoder {
namespace {

void Normalize(float* v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(v[i]) * v[i];
  if (s <= 0) return;
  const double inv = 1.0 / std::sqrt(s);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(v[i] * inv);
}

// log-softmax(logits)[id] in double.
double LogProb(const float* logits, int64_t n, int32_t id) {
  const float mx = *std::max_element(logits, logits + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  return static_cast<double>(logits[id]) - mx - std::log(sum);
}

// Keeps `keep` tokens of t: the first ones (kEnd) or the last ones (kStart).
void Cut(std::vector<int32_t>* t, size_t keep, Truncation truncation) {
  if (t->size() <= keep) return;
  if (truncation == Truncation::kStart) {
    t->erase(t->begin(), t->end() - static_cast<std::ptrdiff_t>(keep));
  } else {
    t->resize(keep);
  }
}

}  // namespace

DecoderText::DecoderText(const model::Decoder& decoder, const tokenizer::Tokenizer& tokenizer,
                         int64_t max_tokens)
    : decoder_(decoder), tokenizer_(tokenizer), max_tokens_(std::max<int64_t>(1, max_tokens)) {
  const model::ModelConfig& c = decoder_.config();
  // llama.cpp's enum llama_pooling_type: 1 mean, 2 cls, 3 last.
  absl::StatusOr<int64_t> pt = decoder_.file().GetInt(absl::StrCat(c.arch_name, ".pooling_type"));
  if (pt.ok() && *pt == 1) pooling_ = Pooling::kMean;
  if (pt.ok() && *pt == 2) pooling_ = Pooling::kCls;
}

absl::StatusOr<std::vector<int32_t>> DecoderText::EmbedTokens(const std::string& text,
                                                              Truncation truncation,
                                                              bool* was_truncated) const {
  if (was_truncated != nullptr) *was_truncated = false;
  // Special tokens around the text (BOS first, EOS after) are kept when cutting.
  std::vector<int32_t> prefix, suffix;
  const tokenizer::Vocab& v = tokenizer_.vocab();
  for (const int32_t id : tokenizer_.Encode("", {.add_special = true})) {
    (suffix.empty() && id == v.special.bos ? prefix : suffix).push_back(id);
  }
  std::vector<int32_t> body = tokenizer_.Encode(text, {.add_special = false});
  const size_t specials = prefix.size() + suffix.size();
  const size_t total = specials + body.size();
  if (total > static_cast<size_t>(max_tokens_)) {
    if (truncation == Truncation::kNone) {
      return absl::InvalidArgumentError(absl::StrCat("input has ", total,
                                                     " tokens, over the model's limit of ",
                                                     max_tokens_, " (set truncation to cut it)"));
    }
    if (specials >= static_cast<size_t>(max_tokens_)) {
      return absl::InvalidArgumentError("the model's limit leaves no room for text");
    }
    Cut(&body, static_cast<size_t>(max_tokens_) - specials, truncation);
    if (was_truncated != nullptr) *was_truncated = true;
  }
  std::vector<int32_t> ids = std::move(prefix);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.insert(ids.end(), suffix.begin(), suffix.end());
  if (ids.empty()) return absl::InvalidArgumentError("input gives no tokens");
  return ids;
}

absl::StatusOr<std::vector<std::vector<float>>> DecoderText::Embed(
    absl::Span<const std::string> texts, const EmbedOptions& options, ThreadPool* pool,
    std::vector<uint8_t>* truncated, std::vector<int32_t>* tokens) const {
  const int64_t d = decoder_.config().n_embd;
  if (options.dimensions < 0 || options.dimensions > d) {
    return absl::InvalidArgumentError(
        absl::StrCat("dimensions ", options.dimensions, " is outside [1, ", d, "]"));
  }
  if (truncated != nullptr) truncated->assign(texts.size(), 0);
  if (tokens != nullptr) tokens->assign(texts.size(), 0);
  std::vector<std::vector<int32_t>> ids(texts.size());
  size_t longest = 1;
  for (size_t i = 0; i < texts.size(); ++i) {
    bool cut = false;
    absl::StatusOr<std::vector<int32_t>> t = EmbedTokens(texts[i], options.truncation, &cut);
    if (!t.ok()) {
      return absl::Status(t.status().code(), absl::StrCat("text ", i, ": ", t.status().message()));
    }
    ids[i] = *std::move(t);
    longest = std::max(longest, ids[i].size());
    if (truncated != nullptr) (*truncated)[i] = cut;
    if (tokens != nullptr) (*tokens)[i] = static_cast<int32_t>(ids[i].size());
  }
  std::vector<std::vector<float>> out;
  if (texts.empty()) return out;
  const auto n_ctx = static_cast<int64_t>(longest);
  model::RunState state(decoder_, {.max_rows = 64, .n_ctx = n_ctx, .threads = pool->num_threads()});
  model::KvCache cache(decoder_.config(), n_ctx);
  std::vector<float> hidden(longest * static_cast<size_t>(d));
  const Pooling pooling = options.pooling.value_or(pooling_);
  const bool normalize = options.normalize.value_or(true);
  const size_t dims =
      options.dimensions > 0 ? static_cast<size_t>(options.dimensions) : static_cast<size_t>(d);
  std::vector<float> pooled(static_cast<size_t>(d));
  for (size_t i = 0; i < texts.size(); ++i) {
    cache.Clear();
    JS_RETURN_IF_ERROR(decoder_.EvalHidden(ids[i], &cache, &state, pool, hidden.data()));
    const size_t n = ids[i].size();
    if (pooling == Pooling::kMean) {
      for (int64_t k = 0; k < d; ++k) {
        double s = 0;
        for (size_t t = 0; t < n; ++t) s += hidden[t * static_cast<size_t>(d) + k];
        pooled[static_cast<size_t>(k)] = static_cast<float>(s / static_cast<double>(n));
      }
    } else {
      const size_t row = pooling == Pooling::kCls ? 0 : n - 1;
      std::copy_n(hidden.begin() + static_cast<std::ptrdiff_t>(row * d), d, pooled.begin());
    }
    // Matryoshka: normalize the full vector, cut, renormalize (as TextEncoder).
    if (normalize) Normalize(pooled.data(), pooled.size());
    out.emplace_back(pooled.begin(), pooled.begin() + static_cast<std::ptrdiff_t>(dims));
    if (normalize && dims < pooled.size()) Normalize(out.back().data(), dims);
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<double>>> DecoderText::LabelLogProbs(
    const std::string& text, absl::Span<const std::string> labels,
    const std::string& hypothesis_template, Truncation truncation, ThreadPool* pool,
    int32_t* context_tokens) const {
  if (labels.empty()) return absl::InvalidArgumentError("no candidate labels");
  const size_t at = hypothesis_template.find("{}");
  if (at == std::string::npos) {
    return absl::InvalidArgumentError("hypothesis_template has no '{}' for the label");
  }
  // Context: text, newline, the template up to the label, its trailing spaces moved to the
  // continuation (so that " sports" is one word token as the model saw it in training).
  std::string tail = "\n" + hypothesis_template.substr(0, at);
  size_t keep = tail.size();
  while (keep > 0 && tail[keep - 1] == ' ') --keep;
  const std::string spaces = tail.substr(keep);
  tail.resize(keep);
  const tokenizer::EncodeOptions plain{.add_special = false, .parse_special = false};
  std::vector<std::vector<int32_t>> conts;
  size_t longest = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].empty())
      return absl::InvalidArgumentError(absl::StrCat("label ", i, " is empty"));
    conts.push_back(tokenizer_.Encode(spaces + labels[i], plain));
    if (conts.back().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("label ", i, " gives no tokens"));
    }
    longest = std::max(longest, conts.back().size());
  }
  std::vector<int32_t> ctx = tokenizer_.Encode(text + tail, {.add_special = true});
  // The context's EOS (for vocabularies that add one) would end the text before the label.
  if (tokenizer_.vocab().add_eos && !ctx.empty() && ctx.back() == tokenizer_.vocab().special.eos) {
    ctx.pop_back();
  }
  const auto limit = static_cast<size_t>(max_tokens_);
  if (ctx.size() + longest > limit) {
    // Cut the text alone (tokenized apart from the template part), keeping BOS.
    std::vector<int32_t> body = tokenizer_.Encode(text, plain);
    std::vector<int32_t> rest = tokenizer_.Encode(tail, plain);
    const size_t bos =
        ctx.size() > 0 && ctx[0] == tokenizer_.vocab().special.bos && tokenizer_.vocab().add_bos
            ? 1
            : 0;
    const size_t fixed = bos + rest.size() + longest;
    if (truncation == Truncation::kNone) {
      return absl::InvalidArgumentError(absl::StrCat("input and label have ", ctx.size() + longest,
                                                     " tokens, over the model's limit of ", limit,
                                                     " (set truncation to cut it)"));
    }
    if (fixed >= limit) {
      return absl::InvalidArgumentError("the model's limit leaves no room for the text");
    }
    Cut(&body, limit - fixed, truncation);
    std::vector<int32_t> cut(ctx.begin(), ctx.begin() + static_cast<std::ptrdiff_t>(bos));
    cut.insert(cut.end(), body.begin(), body.end());
    cut.insert(cut.end(), rest.begin(), rest.end());
    ctx = std::move(cut);
  }
  if (ctx.empty()) return absl::InvalidArgumentError("the text gives no tokens");
  if (context_tokens != nullptr) *context_tokens = static_cast<int32_t>(ctx.size());

  const int64_t n_vocab = decoder_.config().n_vocab;
  const auto n_ctx = static_cast<int64_t>(ctx.size() + longest);
  model::RunState state(decoder_, {.max_rows = 64, .n_ctx = n_ctx, .threads = pool->num_threads()});
  model::KvCache cache(decoder_.config(), n_ctx);
  std::vector<float> first(static_cast<size_t>(n_vocab));
  JS_RETURN_IF_ERROR(decoder_.Eval(ctx, /*all_logits=*/false, &cache, &state, pool, first.data()));
  std::vector<float> logits((longest - 1) * static_cast<size_t>(n_vocab));
  std::vector<std::vector<double>> out;
  for (const std::vector<int32_t>& cont : conts) {
    std::vector<double> lp{LogProb(first.data(), n_vocab, cont[0])};
    if (cont.size() > 1) {
      // Every label token but the last, after the context: logits for the next ones.
      JS_RETURN_IF_ERROR(decoder_.Eval(absl::MakeConstSpan(cont.data(), cont.size() - 1),
                                       /*all_logits=*/true, &cache, &state, pool, logits.data()));
      for (size_t j = 1; j < cont.size(); ++j) {
        lp.push_back(LogProb(logits.data() + (j - 1) * n_vocab, n_vocab, cont[j]));
      }
      cache.Truncate(static_cast<int64_t>(ctx.size()));
    }
    out.push_back(std::move(lp));
  }
  return out;
}

absl::StatusOr<std::vector<LabelScore>> DecoderText::ZeroShot(const std::string& text,
                                                              absl::Span<const std::string> labels,
                                                              const ZeroShotOptions& options,
                                                              ThreadPool* pool) const {
  JS_ASSIGN_OR_RETURN(
      std::vector<std::vector<double>> lps,
      LabelLogProbs(text, labels, options.hypothesis_template, options.truncation, pool));
  std::vector<double> score(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    double sum = 0;
    for (const double v : lps[i]) sum += v;
    score[i] = options.multi_label ? std::exp(sum / static_cast<double>(lps[i].size())) : sum;
  }
  if (!options.multi_label) {
    const double mx = *std::max_element(score.begin(), score.end());
    double z = 0;
    for (const double s : score) z += std::exp(s - mx);
    for (double& s : score) s = std::exp(s - mx) / z;
  }
  std::vector<LabelScore> out;
  for (size_t i = 0; i < labels.size(); ++i) {
    out.push_back({labels[i], static_cast<float>(score[i])});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const LabelScore& x, const LabelScore& y) { return x.score > y.score; });
  return out;
}

}  // namespace jetserve::encoder
