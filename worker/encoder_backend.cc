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
#include "engine/tokenizer/detokenizer.h"
#include "engine/util/thread_pool.h"
#include "worker/call_batcher.h"

namespace jetserve::worker {
namespace {

namespace v1 = ::jetserve::v1;
namespace wv1 = ::jetserve::worker::v1;
using encoder::TextEncoder;

struct EmbedCall : CallBatcher::Call {
  std::vector<std::string> texts;
  encoder::EmbedOptions options;
  std::vector<std::vector<float>> vecs;
  std::vector<int32_t> tokens;
  std::vector<uint8_t> truncated;
};

struct ClassifyCall : CallBatcher::Call {
  std::vector<encoder::TextPair> inputs;
  encoder::ClassifyOptions options;
  std::vector<std::vector<encoder::LabelScore>> scores;
};

struct RerankCall : CallBatcher::Call {
  std::string query;
  std::vector<std::string> docs;
  encoder::RerankOptions options;
  std::vector<float> scores;
  int32_t tokens = 0;
};

// Calls of a dynamic batch: up to 64 inputs, gathered for up to 2 ms.
constexpr int kBatchItems = 64;
constexpr int kConcurrentCalls = 16;

class EncoderBackend final : public Backend {
 public:
  EncoderBackend(const BackendOptions& options, std::unique_ptr<TextEncoder> te)
      : options_(options),
        te_(std::move(te)),
        pool_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
        batcher_({.max_items = kBatchItems, .window = absl::Milliseconds(2)},
                 [this](absl::Span<CallBatcher::Call* const> calls) { RunBatch(calls); }) {}

  v1::ModelInfo Info() const override {
    const encoder::EncoderConfig& c = te_->encoder().config();
    v1::ModelInfo info;
    info.set_name(options_.model_name);
    info.add_tasks(v1::MODEL_TASK_EMBED);
    // Classifiers classify; embedding models classify zero-shot over candidate labels (by
    // embedding similarity).
    info.add_tasks(v1::MODEL_TASK_CLASSIFY);
    if (c.head != encoder::HeadKind::kNone && te_->encoder().num_labels() == 1) {
      info.add_tasks(v1::MODEL_TASK_RERANK);
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
    // Concurrent Embed/Classify/Rerank calls are batched dynamically (worker/call_batcher.h):
    // the engine runs one batch at a time while the next one gathers.
    c.set_max_concurrent_requests(kConcurrentCalls);
    c.set_max_batch_sequences(kBatchItems);
    c.set_context_length(te_->encoder().config().max_tokens());
    return c;
  }

  wv1::Memory Memory() const override { return wv1::Memory(); }

  BackendLoad Load() const override {
    BackendLoad l;
    l.queued = static_cast<int32_t>(batcher_.queued());
    l.running = running_.load() - l.queued;
    return l;
  }

  absl::StatusOr<v1::EmbedResponse> Embed(const CallContext& ctx,
                                          const wv1::EmbedRequest& request) override {
    const v1::EmbedRequest& r = request.request();
    absl::StatusOr<encoder::EmbedOptions> eo = ToEmbedOptions(r);
    if (!eo.ok()) return eo.status();
    const encoder::EmbedOptions& o = *eo;
    EmbedCall call;
    call.texts.assign(r.inputs().begin(), r.inputs().end());
    call.options = o;
    call.key = absl::StrCat("E|", o.pooling.has_value() ? static_cast<int>(*o.pooling) : -1, "|",
                            o.normalize.has_value() ? static_cast<int>(*o.normalize) : -1, "|",
                            static_cast<int>(o.truncation), "|", o.dimensions);
    call.items = static_cast<int64_t>(call.texts.size());
    call.ctx = &ctx;
    const absl::Time start = absl::Now();
    Running running(this);
    batcher_.Run(&call);
    if (!call.status.ok()) return call.status;
    v1::EmbedResponse out;
    int32_t tokens = 0;
    for (size_t i = 0; i < call.texts.size(); ++i) {
      v1::Embedding* e = out.add_embeddings();
      e->mutable_values()->Add(call.vecs[i].begin(), call.vecs[i].end());
      e->set_tokens(call.tokens[i]);
      tokens += call.tokens[i];
      e->set_truncated(call.truncated[i] != 0);
    }
    out.mutable_usage()->set_prompt_tokens(tokens);
    out.mutable_usage()->set_total_time_ms(absl::ToDoubleMilliseconds(absl::Now() - start));
    return out;
  }

  absl::StatusOr<v1::ClassifyResponse> Classify(const CallContext& ctx,
                                                const wv1::ClassifyRequest& request) override {
    const v1::ClassifyRequest& r = request.request();
    absl::StatusOr<encoder::Truncation> truncate = ToTruncation(r.truncation());
    if (!truncate.ok()) return truncate.status();
    if (r.top_k() < 0) return absl::InvalidArgumentError("top_k is negative");
    Running running(this);
    v1::ClassifyResponse out;
    if (r.candidate_labels().empty()) {  // batched with other calls of the same options
      ClassifyCall call;
      for (const v1::TextInput& in : r.inputs()) {
        encoder::TextPair p{in.text(), std::nullopt};
        if (!in.text_pair().empty()) p.text_pair = in.text_pair();
        call.inputs.push_back(std::move(p));
      }
      call.options.truncation = *truncate;
      if (r.score_function() == v1::SCORE_FUNCTION_SOFTMAX) call.options.multi_label = false;
      if (r.score_function() == v1::SCORE_FUNCTION_SIGMOID) call.options.multi_label = true;
      call.options.raw = r.score_function() == v1::SCORE_FUNCTION_NONE;
      call.key = absl::StrCat(
          "C|", static_cast<int>(call.options.truncation), "|",
          call.options.multi_label.has_value() ? static_cast<int>(*call.options.multi_label) : -1,
          "|", call.options.raw);
      call.items = static_cast<int64_t>(call.inputs.size());
      call.ctx = &ctx;
      batcher_.Run(&call);
      if (!call.status.ok()) return call.status;
      std::vector<std::string> names;
      for (int k = 0; k < te_->encoder().num_labels(); ++k) {
        const auto& l = te_->encoder().config().labels;
        names.push_back(k < static_cast<int>(l.size()) ? l[k] : absl::StrCat("LABEL_", k));
      }
      for (const auto& one : call.scores) {
        AddLabelScores(one, names, r.top_k(), out.add_results());
      }
      return out;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (ctx.Cancelled()) return ctx.CancelledStatus();
    // Zero-shot: one input at a time.
    std::vector<std::string> labels(r.candidate_labels().begin(), r.candidate_labels().end());
    absl::StatusOr<encoder::ZeroShotOptions> zo = ToZeroShotOptions(r);
    if (!zo.ok()) return zo.status();
    for (const v1::TextInput& in : r.inputs()) {
      if (ctx.Cancelled()) return ctx.CancelledStatus();
      absl::StatusOr<std::vector<encoder::LabelScore>> s =
          te_->ZeroShot(in.text(), labels, *zo, &pool_, &ws_);
      if (!s.ok()) return s.status();
      AddLabelScores(*s, labels, r.top_k(), out.add_results());
    }
    return out;
  }

  absl::StatusOr<v1::RerankResponse> Rerank(const CallContext& ctx,
                                            const wv1::RerankRequest& request) override {
    const v1::RerankRequest& r = request.request();
    absl::StatusOr<encoder::Truncation> truncate = ToTruncation(r.truncation());
    if (!truncate.ok()) return truncate.status();
    if (r.top_n() < 0) return absl::InvalidArgumentError("top_n is negative");
    RerankCall call;
    call.query = r.query();
    call.docs.assign(r.documents().begin(), r.documents().end());
    call.options = {.truncation = *truncate,
                    .normalize = !r.has_normalize_scores() || r.normalize_scores()};
    // Documents of calls with the same query (and options) run as one batch.
    call.key = absl::StrCat("R|", static_cast<int>(call.options.truncation), "|",
                            call.options.normalize, "|", call.query);
    call.items = static_cast<int64_t>(call.docs.size());
    call.ctx = &ctx;
    const absl::Time start = absl::Now();
    Running running(this);
    batcher_.Run(&call);
    if (!call.status.ok()) return call.status;
    const std::vector<std::string>& docs = call.docs;
    const std::vector<float>* scores = &call.scores;
    std::vector<int> order(docs.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return (*scores)[a] > (*scores)[b]; });
    if (r.top_n() > 0 && order.size() > static_cast<size_t>(r.top_n())) order.resize(r.top_n());
    v1::RerankResponse out;
    const int32_t tokens = call.tokens;
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
      absl::Status s = te_->Tokenize(r.text(), nullptr, encoder::Truncation::kEnd, &ids, &types);
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
  // The batcher's executor: one engine call for all calls of a batch (same kind and
  // options). When the merged call fails (e.g. one input too long without truncation),
  // each call runs alone so that only the faulty one gets the error.
  void RunBatch(absl::Span<CallBatcher::Call* const> calls) {
    std::lock_guard<std::mutex> lock(mu_);
    if (calls.size() > 1 && RunMerged(calls)) return;
    for (CallBatcher::Call* c : calls) RunMerged(absl::MakeConstSpan(&c, 1));
  }

  // Runs calls as one engine call; false (statuses untouched) when it failed and calls > 1.
  bool RunMerged(absl::Span<CallBatcher::Call* const> calls) {
    auto fail = [&](const absl::Status& s) {
      if (calls.size() > 1) return false;
      calls[0]->status = s;
      return true;
    };
    auto row_tokens = [&](size_t i) {
      return static_cast<int32_t>(ws_.row_start[i + 1] - ws_.row_start[i]);
    };
    switch (calls[0]->key[0]) {
      case 'E': {
        std::vector<std::string> texts;
        for (auto* c : calls) {
          auto* e = static_cast<EmbedCall*>(c);
          texts.insert(texts.end(), e->texts.begin(), e->texts.end());
        }
        std::vector<uint8_t> truncated;
        absl::StatusOr<std::vector<std::vector<float>>> vecs =
            te_->Embed(texts, static_cast<EmbedCall*>(calls[0])->options, &pool_, &ws_, &truncated);
        if (!vecs.ok()) return fail(vecs.status());
        size_t row = 0;
        for (auto* c : calls) {
          auto* e = static_cast<EmbedCall*>(c);
          for (size_t i = 0; i < e->texts.size(); ++i, ++row) {
            e->vecs.push_back(std::move((*vecs)[row]));
            e->tokens.push_back(row_tokens(row));
            e->truncated.push_back(truncated[row]);
          }
          e->status = absl::OkStatus();
        }
        return true;
      }
      case 'C': {
        std::vector<encoder::TextPair> inputs;
        for (auto* c : calls) {
          auto* k = static_cast<ClassifyCall*>(c);
          inputs.insert(inputs.end(), k->inputs.begin(), k->inputs.end());
        }
        absl::StatusOr<std::vector<std::vector<encoder::LabelScore>>> s =
            te_->Classify(inputs, static_cast<ClassifyCall*>(calls[0])->options, &pool_, &ws_);
        if (!s.ok()) return fail(s.status());
        size_t row = 0;
        for (auto* c : calls) {
          auto* k = static_cast<ClassifyCall*>(c);
          for (size_t i = 0; i < k->inputs.size(); ++i) k->scores.push_back((*s)[row++]);
          k->status = absl::OkStatus();
        }
        return true;
      }
      case 'R': {
        std::vector<std::string> docs;
        for (auto* c : calls) {
          auto* k = static_cast<RerankCall*>(c);
          docs.insert(docs.end(), k->docs.begin(), k->docs.end());
        }
        auto* first = static_cast<RerankCall*>(calls[0]);
        absl::StatusOr<std::vector<float>> s =
            te_->Rerank(first->query, docs, first->options, &pool_, &ws_);
        if (!s.ok()) return fail(s.status());
        size_t row = 0;
        for (auto* c : calls) {
          auto* k = static_cast<RerankCall*>(c);
          for (size_t i = 0; i < k->docs.size(); ++i, ++row) {
            k->scores.push_back((*s)[row]);
            k->tokens += row_tokens(row);
          }
          k->status = absl::OkStatus();
        }
        return true;
      }
      default:
        for (auto* c : calls) c->status = absl::InternalError("unknown batched call");
        return true;
    }
  }

  // Counts a call as running for Load().
  struct Running {
    explicit Running(const EncoderBackend* b) : b_(b) { ++b_->running_; }
    ~Running() { --b_->running_; }
    const EncoderBackend* b_;
  };

  const BackendOptions options_;
  std::unique_ptr<TextEncoder> te_;
  mutable std::atomic<int32_t> running_{0};
  std::mutex mu_;
  ThreadPool pool_;               // guarded by mu_ (ParallelFor is not reentrant)
  encoder::EncoderWorkspace ws_;  // guarded by mu_
  CallBatcher batcher_;
};

}  // namespace

absl::StatusOr<encoder::Truncation> ToTruncation(::jetserve::v1::Truncation t) {
  switch (t) {
    case ::jetserve::v1::TRUNCATION_NONE:
      return encoder::Truncation::kNone;
    case ::jetserve::v1::TRUNCATION_START:
      return encoder::Truncation::kStart;
    case ::jetserve::v1::TRUNCATION_UNSPECIFIED:
    case ::jetserve::v1::TRUNCATION_END:
      return encoder::Truncation::kEnd;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown truncation ", static_cast<int>(t)));
  }
}

absl::StatusOr<encoder::EmbedOptions> ToEmbedOptions(const ::jetserve::v1::EmbedRequest& r) {
  absl::StatusOr<encoder::Truncation> truncation = ToTruncation(r.truncation());
  if (!truncation.ok()) return truncation.status();
  encoder::EmbedOptions o;
  o.truncation = *truncation;
  if (r.pooling() == ::jetserve::v1::POOLING_MEAN) o.pooling = encoder::Pooling::kMean;
  if (r.pooling() == ::jetserve::v1::POOLING_CLS) o.pooling = encoder::Pooling::kCls;
  if (r.pooling() == ::jetserve::v1::POOLING_LAST) o.pooling = encoder::Pooling::kLast;
  o.normalize = !r.has_normalize() || r.normalize();
  if (r.has_dimensions()) {
    if (r.dimensions() < 1) {
      return absl::InvalidArgumentError(absl::StrCat("dimensions ", r.dimensions(), " is below 1"));
    }
    o.dimensions = r.dimensions();
  }
  return o;
}

absl::StatusOr<encoder::ZeroShotOptions> ToZeroShotOptions(
    const ::jetserve::v1::ClassifyRequest& r) {
  absl::StatusOr<encoder::Truncation> truncation = ToTruncation(r.truncation());
  if (!truncation.ok()) return truncation.status();
  encoder::ZeroShotOptions o;
  if (!r.hypothesis_template().empty()) o.hypothesis_template = r.hypothesis_template();
  o.multi_label = r.multi_label();
  o.truncation = *truncation;
  return o;
}

void AddLabelScores(const std::vector<encoder::LabelScore>& scores,
                    const std::vector<std::string>& names, int top_k,
                    ::jetserve::v1::Classification* out) {
  for (const encoder::LabelScore& ls : scores) {
    if (top_k > 0 && out->labels_size() >= top_k) break;
    ::jetserve::v1::LabelScore* l = out->add_labels();
    l->set_label(ls.label);
    l->set_score(ls.score);
    l->set_index(
        static_cast<int32_t>(std::find(names.begin(), names.end(), ls.label) - names.begin()));
  }
}

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
