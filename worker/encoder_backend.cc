#include "worker/encoder_backend.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/encoder/text_encoder.h"
#include "engine/format/gguf_reader.h"
#include "engine/model/thread_pool.h"
#include "engine/tokenizer/detokenizer.h"

namespace jetserve::worker {
namespace {

namespace v1 = ::jetserve::v1;
namespace wv1 = ::jetserve::worker::v1;
using encoder::TextEncoder;

// TRUNCATION_UNSPECIFIED/END cut the end; NONE refuses; START is not supported yet.
absl::StatusOr<bool> Truncate(v1::Truncation t) {
  switch (t) {
    case v1::TRUNCATION_NONE:
      return false;
    case v1::TRUNCATION_START:
      return absl::UnimplementedError("TRUNCATION_START is not supported by encoder models yet");
    default:
      return true;
  }
}

class EncoderBackend final : public Backend {
 public:
  EncoderBackend(const BackendOptions& options, std::unique_ptr<TextEncoder> te)
      : options_(options),
        te_(std::move(te)),
        pool_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))) {}

  v1::ModelInfo Info() const override {
    const encoder::EncoderConfig& c = te_->encoder().config();
    v1::ModelInfo info;
    info.set_name(options_.model_name);
    info.add_tasks(v1::MODEL_TASK_EMBED);
    if (c.head != encoder::HeadKind::kNone) {
      info.add_tasks(v1::MODEL_TASK_CLASSIFY);
      if (te_->encoder().num_labels() == 1) info.add_tasks(v1::MODEL_TASK_RERANK);
    }
    info.set_architecture(c.family == encoder::Family::kDistilBert ? "distilbert"
                          : c.family == encoder::Family::kRoberta  ? "roberta"
                                                                   : "bert");
    info.set_format(te_->model().gguf != nullptr ? "gguf" : "onnx");
    info.set_context_length(c.max_tokens());
    info.set_vocab_size(c.n_vocab);
    info.set_embedding_dimensions(c.n_embd);
    for (const std::string& l : c.labels) info.add_labels(l);
    info.set_device("cpu");
    info.set_state(v1::MODEL_STATE_READY);
    return info;
  }

  wv1::Capacity Capacity() const override {
    wv1::Capacity c;
    // One call computes at a time (the encoder's workspace and pool are shared); a second
    // waits in the worker so the next batch starts without a gateway round trip.
    c.set_max_concurrent_requests(2);
    c.set_max_batch_sequences(256);
    c.set_context_length(te_->encoder().config().max_tokens());
    return c;
  }

  wv1::Memory Memory() const override { return wv1::Memory(); }

  BackendLoad Load() const override {
    BackendLoad l;
    l.running = running_.load();
    return l;
  }

  absl::StatusOr<v1::EmbedResponse> Embed(const CallContext& ctx,
                                          const wv1::EmbedRequest& request) override {
    const v1::EmbedRequest& r = request.request();
    absl::StatusOr<bool> truncate = Truncate(r.truncation());
    if (!truncate.ok()) return truncate.status();
    encoder::EmbedOptions o;
    o.truncate = *truncate;
    if (r.pooling() == v1::POOLING_MEAN) o.pooling = encoder::Pooling::kMean;
    if (r.pooling() == v1::POOLING_CLS) o.pooling = encoder::Pooling::kCls;
    if (r.pooling() == v1::POOLING_LAST) o.pooling = encoder::Pooling::kLast;
    o.normalize = !r.has_normalize() || r.normalize();
    if (r.has_dimensions()) {
      if (r.dimensions() < 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("dimensions ", r.dimensions(), " is below 1"));
      }
      o.dimensions = r.dimensions();
    }
    std::vector<std::string> texts(r.inputs().begin(), r.inputs().end());
    const absl::Time start = absl::Now();
    Running running(this);
    std::lock_guard<std::mutex> lock(mu_);
    if (ctx.Cancelled()) return ctx.CancelledStatus();
    std::vector<uint8_t> truncated;
    absl::StatusOr<std::vector<std::vector<float>>> vecs =
        te_->Embed(texts, o, &pool_, &ws_, &truncated);
    if (!vecs.ok()) return vecs.status();
    v1::EmbedResponse out;
    int32_t tokens = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      v1::Embedding* e = out.add_embeddings();
      e->mutable_values()->Add((*vecs)[i].begin(), (*vecs)[i].end());
      const int32_t n = static_cast<int32_t>(ws_.row_start[i + 1] - ws_.row_start[i]);
      e->set_tokens(n);
      tokens += n;
      e->set_truncated(truncated[i] != 0);
    }
    out.mutable_usage()->set_prompt_tokens(tokens);
    out.mutable_usage()->set_total_time_ms(absl::ToDoubleMilliseconds(absl::Now() - start));
    return out;
  }

  absl::StatusOr<v1::ClassifyResponse> Classify(const CallContext& ctx,
                                                const wv1::ClassifyRequest& request) override {
    const v1::ClassifyRequest& r = request.request();
    absl::StatusOr<bool> truncate = Truncate(r.truncation());
    if (!truncate.ok()) return truncate.status();
    if (r.top_k() < 0) return absl::InvalidArgumentError("top_k is negative");
    Running running(this);
    std::lock_guard<std::mutex> lock(mu_);
    if (ctx.Cancelled()) return ctx.CancelledStatus();
    v1::ClassifyResponse out;
    if (!r.candidate_labels().empty()) {  // zero-shot, one input at a time
      std::vector<std::string> labels(r.candidate_labels().begin(), r.candidate_labels().end());
      encoder::ZeroShotOptions zo;
      if (!r.hypothesis_template().empty()) zo.hypothesis_template = r.hypothesis_template();
      zo.multi_label = r.multi_label();
      zo.truncate = *truncate;
      for (const v1::TextInput& in : r.inputs()) {
        if (ctx.Cancelled()) return ctx.CancelledStatus();
        absl::StatusOr<std::vector<encoder::LabelScore>> s =
            te_->ZeroShot(in.text(), labels, zo, &pool_, &ws_);
        if (!s.ok()) return s.status();
        AddLabels(*s, labels, r.top_k(), out.add_results());
      }
    } else {
      std::vector<encoder::TextPair> inputs;
      for (const v1::TextInput& in : r.inputs()) {
        encoder::TextPair p{in.text(), std::nullopt};
        if (!in.text_pair().empty()) p.text_pair = in.text_pair();
        inputs.push_back(std::move(p));
      }
      encoder::ClassifyOptions co;
      co.truncate = *truncate;
      if (r.score_function() == v1::SCORE_FUNCTION_SOFTMAX) co.multi_label = false;
      if (r.score_function() == v1::SCORE_FUNCTION_SIGMOID) co.multi_label = true;
      co.raw = r.score_function() == v1::SCORE_FUNCTION_NONE;
      absl::StatusOr<std::vector<std::vector<encoder::LabelScore>>> s =
          te_->Classify(inputs, co, &pool_, &ws_);
      if (!s.ok()) return s.status();
      std::vector<std::string> names;
      for (int k = 0; k < te_->encoder().num_labels(); ++k) {
        const auto& l = te_->encoder().config().labels;
        names.push_back(k < static_cast<int>(l.size()) ? l[k] : absl::StrCat("LABEL_", k));
      }
      for (const auto& one : *s) AddLabels(one, names, r.top_k(), out.add_results());
    }
    return out;
  }

  absl::StatusOr<v1::RerankResponse> Rerank(const CallContext& ctx,
                                            const wv1::RerankRequest& request) override {
    const v1::RerankRequest& r = request.request();
    absl::StatusOr<bool> truncate = Truncate(r.truncation());
    if (!truncate.ok()) return truncate.status();
    if (r.top_n() < 0) return absl::InvalidArgumentError("top_n is negative");
    std::vector<std::string> docs(r.documents().begin(), r.documents().end());
    const absl::Time start = absl::Now();
    Running running(this);
    std::lock_guard<std::mutex> lock(mu_);
    if (ctx.Cancelled()) return ctx.CancelledStatus();
    absl::StatusOr<std::vector<float>> scores = te_->Rerank(
        r.query(), docs,
        {.truncate = *truncate, .normalize = !r.has_normalize_scores() || r.normalize_scores()},
        &pool_, &ws_);
    if (!scores.ok()) return scores.status();
    std::vector<int> order(docs.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return (*scores)[a] > (*scores)[b]; });
    if (r.top_n() > 0 && order.size() > static_cast<size_t>(r.top_n())) order.resize(r.top_n());
    v1::RerankResponse out;
    int32_t tokens = 0;
    for (size_t i = 0; i + 1 < ws_.row_start.size(); ++i) {
      tokens += static_cast<int32_t>(ws_.row_start[i + 1] - ws_.row_start[i]);
    }
    for (int i : order) {
      v1::RerankResult* res = out.add_results();
      res->set_index(i);
      res->set_score((*scores)[i]);
      if (r.return_documents()) res->set_document(docs[i]);
    }
    out.mutable_usage()->set_prompt_tokens(tokens);
    out.mutable_usage()->set_total_time_ms(absl::ToDoubleMilliseconds(absl::Now() - start));
    return out;
  }

  absl::StatusOr<v1::TokenizeResponse> Tokenize(const CallContext&,
                                                const wv1::TokenizeRequest& request) override {
    const v1::TokenizeRequest& r = request.request();
    if (r.input_case() != v1::TokenizeRequest::kText) {
      return absl::UnimplementedError("encoder models have no chat template; send text");
    }
    const bool special = !r.has_add_special_tokens() || r.add_special_tokens();
    std::vector<int32_t> ids, types;
    if (special) {
      absl::Status s = te_->Tokenize(r.text(), nullptr, /*truncate=*/true, &ids, &types);
      if (!s.ok()) return s;
    } else {
      ids = te_->tokenizer().Encode(r.text(), {.add_special = false, .parse_special = false});
    }
    v1::TokenizeResponse out;
    for (const int32_t id : ids) {
      out.add_token_ids(id);
      if (r.return_pieces()) out.add_pieces(te_->tokenizer().TokenToPiece(id, true));
    }
    return out;
  }

  absl::StatusOr<v1::DetokenizeResponse> Detokenize(
      const CallContext&, const wv1::DetokenizeRequest& request) override {
    const v1::DetokenizeRequest& r = request.request();
    std::vector<int32_t> ids(r.token_ids().begin(), r.token_ids().end());
    const int32_t n_vocab = te_->tokenizer().size();
    for (const int32_t id : ids) {
      if (id < 0 || id >= n_vocab) {
        return absl::InvalidArgumentError(
            absl::StrCat("token id ", id, " is out of range [0, ", n_vocab, ")"));
      }
    }
    const bool skip = !r.has_skip_special_tokens() || r.skip_special_tokens();
    v1::DetokenizeResponse out;
    out.set_text(tokenizer::ToValidUtf8(
        te_->tokenizer().Decode(ids, {.special = !skip, .strip_leading_space = true})));
    return out;
  }

 private:
  // Counts a call as running for Load().
  struct Running {
    explicit Running(const EncoderBackend* b) : b_(b) { ++b_->running_; }
    ~Running() { --b_->running_; }
    const EncoderBackend* b_;
  };

  // Scores in `s` (label text), written best first with their index among `names`.
  static void AddLabels(const std::vector<encoder::LabelScore>& s,
                        const std::vector<std::string>& names, int top_k, v1::Classification* out) {
    for (const encoder::LabelScore& ls : s) {
      if (top_k > 0 && out->labels_size() >= top_k) break;
      v1::LabelScore* l = out->add_labels();
      l->set_label(ls.label);
      l->set_score(ls.score);
      l->set_index(
          static_cast<int32_t>(std::find(names.begin(), names.end(), ls.label) - names.begin()));
    }
  }

  const BackendOptions options_;
  std::unique_ptr<TextEncoder> te_;
  mutable std::atomic<int32_t> running_{0};
  std::mutex mu_;
  ThreadPool pool_;               // guarded by mu_ (ParallelFor is not reentrant)
  encoder::EncoderWorkspace ws_;  // guarded by mu_
};

}  // namespace

bool IsEncoderGguf(const std::string& path) {
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(path);
  if (!f.ok()) return false;
  absl::StatusOr<std::string_view> arch = (*f)->GetString("general.architecture");
  return arch.ok() && *arch == "bert";
}

absl::StatusOr<std::unique_ptr<Backend>> LoadEncoderBackend(const BackendOptions& options) {
  if (options.device.kind == DeviceKind::kCuda) {
    return absl::UnimplementedError(
        absl::StrCat("--device ", options.device.ToString(),
                     ": the encoder engine runs on the CPU only so far; use --device cpu"));
  }
  absl::StatusOr<std::unique_ptr<TextEncoder>> te = TextEncoder::Load(options.model_path);
  if (!te.ok()) return te.status();
  return std::unique_ptr<Backend>(new EncoderBackend(options, std::move(*te)));
}

}  // namespace jetserve::worker
