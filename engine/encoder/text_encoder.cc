#include "engine/encoder/text_encoder.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/model/status_macros.h"
#include "engine/tokenizer/load_tokenizer.h"

namespace jetserve::encoder {
namespace {

void Softmax(float* x, size_t n) {
  if (n == 0) return;
  const float mx = *std::max_element(x, x + n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - mx);
  for (size_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(std::exp(static_cast<double>(x[i]) - mx) / sum);
}

float Sigmoid(float x) {
  return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x))));
}

void Normalize(float* v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(v[i]) * v[i];
  if (s <= 0) return;
  const double inv = 1.0 / std::sqrt(s);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(v[i] * inv);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TextEncoder>> TextEncoder::Load(const std::string& path,
                                                               const EncoderLoadOptions& options) {
  JS_ASSIGN_OR_RETURN(std::unique_ptr<EncoderModel> model, LoadEncoder(path, options));
  const std::string tok_path = model->gguf != nullptr ? path : model->dir;
  JS_ASSIGN_OR_RETURN(std::unique_ptr<tokenizer::Tokenizer> tok,
                      tokenizer::LoadTokenizer(tok_path));
  if (tok->size() > model->encoder->config().n_vocab) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the tokenizer has ", tok->size(),
                                                   " tokens, the model's vocabulary ",
                                                   model->encoder->config().n_vocab));
  }
  return std::make_unique<TextEncoder>(std::move(model), std::move(tok));
}

TextEncoder::TextEncoder(std::unique_ptr<EncoderModel> model,
                         std::unique_ptr<tokenizer::Tokenizer> tok)
    : model_(std::move(model)), tokenizer_(std::move(tok)) {
  const tokenizer::Vocab& v = tokenizer_->vocab();
  if (v.hf_post.has_template) {
    prefix_.assign(v.hf_post.prefix.begin(), v.hf_post.prefix.end());
    suffix_.assign(v.hf_post.suffix.begin(), v.hf_post.suffix.end());
  } else {
    // As Tokenizer::EncodeForModel: BOS/[CLS] first, the rest after the text.
    for (tokenizer::TokenId id : tokenizer_->Encode("", {.add_special = true})) {
      (prefix_.empty() && (id == v.special.bos || id == v.special.cls) ? prefix_ : suffix_)
          .push_back(id);
    }
  }
}

absl::Status TextEncoder::Tokenize(const std::string& a, const std::string* b,
                                   Truncation truncation, std::vector<int32_t>* ids,
                                   std::vector<int32_t>* type_ids, bool* was_truncated) const {
  if (was_truncated != nullptr) *was_truncated = false;
  const EncoderConfig& c = encoder().config();
  const tokenizer::EncodeOptions eo{.add_special = false, .parse_special = false};
  std::vector<int32_t> ta = tokenizer_->Encode(a, eo);
  std::vector<int32_t> tb;
  if (b != nullptr) tb = tokenizer_->Encode(*b, eo);
  // Pairs: the tokenizer.json post-processor's pair template when it has one; otherwise
  // (GGUF vocabularies) per family: BERT  [CLS] a [SEP] b:1 [SEP]:1,  RoBERTa  <s> a </s></s>
  // b </s>.
  const tokenizer::HfPostProcessing& post = tokenizer_->vocab().hf_post;
  const bool templated = b != nullptr && !post.pair.empty();
  const bool roberta = c.family == Family::kRoberta;
  size_t specials = prefix_.size() + suffix_.size();
  if (templated) {
    specials = post.PairSpecials();
  } else if (b != nullptr) {
    specials += suffix_.size() * (roberta ? 2 : 1);
  }
  const size_t limit = static_cast<size_t>(c.max_tokens());
  const size_t total = specials + ta.size() + tb.size();
  if (total > limit) {
    if (truncation == Truncation::kNone) {
      return absl::InvalidArgumentError(absl::StrCat("input has ", total,
                                                     " tokens, over the model's limit of ", limit,
                                                     " (set truncation to cut it)"));
    }
    if (specials >= limit) {
      return absl::InvalidArgumentError("the model's limit leaves no room for text");
    }
    const size_t room = limit - specials;
    if (was_truncated != nullptr) *was_truncated = true;
    // HF tokenizers' longest_first: when both sides are over half the room, the shorter
    // keeps room / 2 and the longer the rest (b on a tie); else the shorter stays whole.
    size_t keep_a = room, keep_b = 0;
    if (b != nullptr) {
      size_t n1 = ta.size(), n2 = tb.size();
      const bool swap = n1 > n2;
      if (swap) std::swap(n1, n2);
      n2 = n1 > room ? n1 : std::max(n1, room - n1);
      if (n1 + n2 > room) {
        n1 = room / 2;
        n2 = n1 + room % 2;
      }
      if (swap) std::swap(n1, n2);
      keep_a = n1;
      keep_b = n2;
    }
    // kEnd drops tokens from the back, kStart from the front.
    auto cut = [&](std::vector<int32_t>& t, size_t keep) {
      if (t.size() <= keep) return;
      if (truncation == Truncation::kStart) {
        t.erase(t.begin(), t.end() - static_cast<std::ptrdiff_t>(keep));
      } else {
        t.resize(keep);
      }
    };
    cut(ta, keep_a);
    cut(tb, keep_b);
  }
  if (templated) {
    post.ApplyPair(ta, tb, ids, type_ids);
    if (c.n_type <= 1) type_ids->assign(ids->size(), 0);  // the model has one token type
  } else {
    ids->assign(prefix_.begin(), prefix_.end());
    ids->insert(ids->end(), ta.begin(), ta.end());
    ids->insert(ids->end(), suffix_.begin(), suffix_.end());
    const size_t first_len = ids->size();
    if (b != nullptr) {
      if (roberta) ids->insert(ids->end(), suffix_.begin(), suffix_.end());
      ids->insert(ids->end(), tb.begin(), tb.end());
      ids->insert(ids->end(), suffix_.begin(), suffix_.end());
    }
    type_ids->assign(ids->size(), 0);
    if (b != nullptr && c.n_type > 1 && !roberta) {
      std::fill(type_ids->begin() + static_cast<std::ptrdiff_t>(first_len), type_ids->end(), 1);
    }
  }
  if (ids->empty()) return absl::InvalidArgumentError("input gives no tokens");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::vector<float>>> TextEncoder::Embed(
    absl::Span<const std::string> texts, const EmbedOptions& options, ThreadPool* pool,
    EncoderWorkspace* ws, std::vector<uint8_t>* truncated) const {
  const EncoderConfig& c = encoder().config();
  if (truncated != nullptr) truncated->assign(texts.size(), 0);
  if (options.dimensions < 0 || options.dimensions > c.n_embd) {
    return absl::InvalidArgumentError(
        absl::StrCat("dimensions ", options.dimensions, " is outside [1, ", c.n_embd, "]"));
  }
  std::vector<std::vector<int32_t>> ids(texts.size()), types(texts.size());
  std::vector<EncoderSequence> batch(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    bool cut = false;
    absl::Status s = Tokenize(texts[i], nullptr, options.truncation, &ids[i], &types[i], &cut);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat("text ", i, ": ", s.message()));
    if (truncated != nullptr) (*truncated)[i] = cut;
    batch[i] = {ids[i], types[i]};
  }
  std::vector<std::vector<float>> out;
  if (texts.empty()) return out;
  JS_RETURN_IF_ERROR(encoder().Forward(batch, pool, ws));
  std::vector<float> pooled;
  encoder().Pool(options.pooling.value_or(c.pooling), *ws, &pooled);
  const size_t dims = options.dimensions > 0 ? options.dimensions : c.n_embd;
  const bool normalize = options.normalize.value_or(c.normalize);
  out.resize(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    float* v = pooled.data() + i * c.n_embd;
    // Matryoshka: normalize the full vector (as the model's own output), cut, renormalize.
    if (normalize) Normalize(v, c.n_embd);
    out[i].assign(v, v + dims);
    if (normalize && dims < static_cast<size_t>(c.n_embd)) Normalize(out[i].data(), dims);
  }
  return out;
}

absl::StatusOr<std::vector<float>> TextEncoder::Logits(absl::Span<const TextPair> inputs,
                                                       Truncation truncation, ThreadPool* pool,
                                                       EncoderWorkspace* ws) const {
  std::vector<std::vector<int32_t>> ids(inputs.size()), types(inputs.size());
  std::vector<EncoderSequence> batch(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string* b = inputs[i].text_pair ? &*inputs[i].text_pair : nullptr;
    absl::Status s = Tokenize(inputs[i].text, b, truncation, &ids[i], &types[i]);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat("input ", i, ": ", s.message()));
    batch[i] = {ids[i], types[i]};
  }
  std::vector<float> logits;
  if (inputs.empty()) return logits;
  JS_RETURN_IF_ERROR(encoder().Classify(batch, pool, ws, &logits));
  return logits;
}

absl::StatusOr<std::vector<std::vector<LabelScore>>> TextEncoder::Classify(
    absl::Span<const TextPair> inputs, const ClassifyOptions& options, ThreadPool* pool,
    EncoderWorkspace* ws) const {
  JS_ASSIGN_OR_RETURN(std::vector<float> logits, Logits(inputs, options.truncation, pool, ws));
  const EncoderConfig& c = encoder().config();
  const size_t n = static_cast<size_t>(encoder().num_labels());
  const bool multi = options.multi_label.value_or(c.multi_label || n == 1);
  std::vector<std::vector<LabelScore>> out(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    float* l = logits.data() + i * n;
    if (options.raw) {
      // Raw logits, as the model gives them.
    } else if (multi) {
      for (size_t k = 0; k < n; ++k) l[k] = Sigmoid(l[k]);
    } else {
      Softmax(l, n);
    }
    for (size_t k = 0; k < n; ++k) {
      out[i].push_back({k < c.labels.size() ? c.labels[k] : absl::StrCat("LABEL_", k), l[k]});
    }
    std::stable_sort(out[i].begin(), out[i].end(),
                     [](const LabelScore& x, const LabelScore& y) { return x.score > y.score; });
    if (options.top_k > 0 && out[i].size() > static_cast<size_t>(options.top_k)) {
      out[i].resize(options.top_k);
    }
  }
  return out;
}

absl::StatusOr<std::vector<float>> TextEncoder::Rerank(const std::string& query,
                                                       absl::Span<const std::string> documents,
                                                       const RerankOptions& options,
                                                       ThreadPool* pool,
                                                       EncoderWorkspace* ws) const {
  std::vector<TextPair> pairs;
  pairs.reserve(documents.size());
  for (const std::string& d : documents) pairs.push_back({query, d});
  JS_ASSIGN_OR_RETURN(std::vector<float> logits, Logits(pairs, options.truncation, pool, ws));
  const size_t n = static_cast<size_t>(encoder().num_labels());
  std::vector<float> scores(documents.size());
  for (size_t i = 0; i < documents.size(); ++i) {
    float* l = logits.data() + i * n;
    if (n == 1) {
      scores[i] = options.normalize ? Sigmoid(l[0]) : l[0];
    } else if (!options.normalize) {
      scores[i] = l[n - 1];
    } else {
      Softmax(l, n);
      scores[i] = l[n - 1];
    }
  }
  return scores;
}

absl::StatusOr<std::vector<LabelScore>> TextEncoder::ZeroShot(const std::string& text,
                                                              absl::Span<const std::string> labels,
                                                              const ZeroShotOptions& options,
                                                              ThreadPool* pool,
                                                              EncoderWorkspace* ws) const {
  const EncoderConfig& c = encoder().config();
  int entail = -1, contra = -1;
  for (size_t k = 0; k < c.labels.size(); ++k) {
    const std::string l = absl::AsciiStrToLower(c.labels[k]);
    if (l.rfind("entail", 0) == 0) entail = static_cast<int>(k);
    if (l.rfind("contra", 0) == 0) contra = static_cast<int>(k);
  }
  const bool nli = entail >= 0 && contra >= 0;
  if (!nli && encoder().num_labels() > 0) {
    return absl::FailedPreconditionError(
        "zero-shot classification needs an NLI model (entailment and contradiction labels) or "
        "an embedding model (no classifier head)");
  }
  if (labels.empty()) return absl::InvalidArgumentError("no candidate labels");
  const size_t at = options.hypothesis_template.find("{}");
  if (at == std::string::npos) {
    return absl::InvalidArgumentError("hypothesis_template has no '{}' for the label");
  }
  std::vector<std::string> hypotheses;
  for (const std::string& l : labels) {
    std::string h = options.hypothesis_template;
    h.replace(at, 2, l);
    hypotheses.push_back(std::move(h));
  }
  if (!nli) return ZeroShotBySimilarity(text, labels, hypotheses, options, pool, ws);
  std::vector<TextPair> pairs;
  for (std::string& h : hypotheses) pairs.push_back({text, std::move(h)});
  JS_ASSIGN_OR_RETURN(std::vector<float> logits, Logits(pairs, options.truncation, pool, ws));
  const size_t n = static_cast<size_t>(encoder().num_labels());
  std::vector<LabelScore> out;
  std::vector<float> entail_logits;
  for (size_t i = 0; i < labels.size(); ++i) {
    const float* l = logits.data() + i * n;
    if (options.multi_label) {
      float two[2] = {l[contra], l[entail]};
      Softmax(two, 2);
      out.push_back({labels[i], two[1]});
    } else {
      entail_logits.push_back(l[entail]);
    }
  }
  if (!options.multi_label) {
    Softmax(entail_logits.data(), entail_logits.size());
    for (size_t i = 0; i < labels.size(); ++i) out.push_back({labels[i], entail_logits[i]});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const LabelScore& x, const LabelScore& y) { return x.score > y.score; });
  return out;
}

absl::StatusOr<std::vector<LabelScore>> TextEncoder::ZeroShotBySimilarity(
    const std::string& text, absl::Span<const std::string> labels,
    absl::Span<const std::string> hypotheses, const ZeroShotOptions& options, ThreadPool* pool,
    EncoderWorkspace* ws) const {
  std::vector<std::string> texts;
  texts.reserve(hypotheses.size() + 1);
  texts.push_back(text);
  texts.insert(texts.end(), hypotheses.begin(), hypotheses.end());
  JS_ASSIGN_OR_RETURN(
      std::vector<std::vector<float>> e,
      Embed(texts, {.normalize = true, .truncation = options.truncation}, pool, ws));
  std::vector<float> cos(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    double dot = 0;
    for (size_t k = 0; k < e[0].size(); ++k) dot += static_cast<double>(e[0][k]) * e[i + 1][k];
    cos[i] = static_cast<float>(dot);
  }
  if (!options.multi_label) {
    for (float& c : cos) c *= kSimilarityLogitScale;
    Softmax(cos.data(), cos.size());
  }
  std::vector<LabelScore> out;
  for (size_t i = 0; i < labels.size(); ++i) out.push_back({labels[i], cos[i]});
  std::stable_sort(out.begin(), out.end(),
                   [](const LabelScore& x, const LabelScore& y) { return x.score > y.score; });
  return out;
}

}  // namespace jetserve::encoder
