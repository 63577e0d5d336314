#include "engine/runtime/batch_scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace jetserve::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

SchedulerOptions Resolve(const model::Decoder& d, SchedulerOptions o) {
  o.n_ctx = std::max<int64_t>(2, std::min(o.n_ctx, d.config().n_ctx_train));
  o.block_tokens = std::max<int64_t>(1, o.block_tokens);
  o.max_seqs = std::max(1, o.max_seqs);
  o.max_queued = std::max(0, o.max_queued);
  o.max_rows = std::max<int64_t>(1, o.max_rows);
  o.step_tokens = std::max<int64_t>(o.max_seqs + 1, o.step_tokens);
  const int64_t per_seq = CeilDiv(o.n_ctx, o.block_tokens);
  if (o.num_blocks <= 0) o.num_blocks = per_seq * o.max_seqs;
  // One full-context sequence always fits, so admission can never wait forever.
  o.num_blocks = std::max(o.num_blocks, per_seq);
  return o;
}

}  // namespace

struct BatchScheduler::Sequence {
  Sequence(Request* r, int32_t c, model::KvBlockPool* pool, int64_t n_ctx)
      : req(r), choice(c), kv(pool, n_ctx) {}
  Request* req;
  int32_t choice;
  std::unique_ptr<Choice> stepper;
  model::KvCache kv;
  std::vector<int32_t> tokens;  // prompt + generated
  int64_t computed = 0;         // tokens whose keys/values are in kv
  uint64_t order = 0;           // admission order (newest = largest)
  bool running = false;
  bool done = false;
  bool first_event = true;
  bool cache = false;                          // uses and fills the prefix cache
  std::vector<TokenLogprobs> prompt_logprobs;  // with echo_prompt: entry i for token i + 1
  int64_t step_rows = 0;                       // rows in the current step
};

struct BatchScheduler::Request {
  SchedulerRequest req;
  int64_t max_tokens = 0;
  uint64_t arrival = 0;
  Clock::time_point submitted, first_token;
  std::vector<std::unique_ptr<Sequence>> seqs;
  int32_t finished_choices = 0;
  GenerationStats stats;
  bool first = true;
  bool admitted = false;
};

BatchScheduler::BatchScheduler(const model::Decoder& decoder, const tokenizer::Tokenizer& tokenizer,
                               ThreadPool* pool, const SchedulerOptions& options)
    : decoder_(decoder),
      tokenizer_(tokenizer),
      pool_(pool),
      options_(Resolve(decoder, options)),
      kv_pool_(decoder.config(), {.block_tokens = options_.block_tokens,
                                  .num_blocks = options_.num_blocks,
                                  .salt = options_.salt}),
      state_(decoder, {.max_rows = options_.max_rows,
                       .n_ctx = options_.n_ctx,
                       .threads = pool->num_threads()}) {
  PublishStats();
}

BatchScheduler::~BatchScheduler() { Stop(); }

absl::Status BatchScheduler::Submit(SchedulerRequest r) {
  const int64_t n_ctx = options_.n_ctx;
  const auto vocab = static_cast<int32_t>(decoder_.config().n_vocab);
  if (r.sink == nullptr) return absl::InvalidArgumentError("no sink");
  if (r.prompt.empty()) return absl::InvalidArgumentError("the prompt has no tokens");
  if (static_cast<int64_t>(r.prompt.size()) >= n_ctx) {
    return absl::InvalidArgumentError(absl::StrCat("prompt of ", r.prompt.size(),
                                                   " tokens leaves no room in the context of ",
                                                   n_ctx, " tokens"));
  }
  for (const int32_t t : r.prompt) {
    if (t < 0 || t >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", t, " is out of range [0, ", vocab, ")"));
    }
  }
  absl::Status s = ValidateGenerateOptions(r.options, vocab, n_ctx);
  if (!s.ok()) return s;
  auto req = std::make_unique<Request>();
  const int64_t room = n_ctx - static_cast<int64_t>(r.prompt.size());
  req->max_tokens =
      r.options.stop.max_tokens < 0 ? room : std::min<int64_t>(r.options.stop.max_tokens, room);
  req->req = std::move(r);
  req->submitted = Clock::now();
  req->stats.prompt_tokens = static_cast<int32_t>(req->req.prompt.size());
  req->stats.seed = req->req.options.sampling.seed;
  for (int32_t c = 0; c < req->req.options.n; ++c) {
    auto seq = std::make_unique<Sequence>(req.get(), c, &kv_pool_, n_ctx);
    absl::StatusOr<std::unique_ptr<Choice>> choice = Choice::Create(
        tokenizer_, req->req.options, c, req->req.prompt, req->max_tokens, n_ctx, vocab);
    if (!choice.ok()) return choice.status();
    seq->stepper = std::move(*choice);
    seq->tokens = req->req.prompt;
    seq->cache = options_.prefix_cache && req->req.prefix_cache;
    seq->kv.set_cacheable(seq->cache);
    req->seqs.push_back(std::move(seq));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return absl::UnavailableError("the scheduler is shutting down");
    if (accepted_ >= options_.max_seqs + options_.max_queued) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", options_.max_seqs + options_.max_queued,
                       " requests are running or waiting (", options_.max_seqs, " running + ",
                       options_.max_queued, " queued)"));
    }
    ++accepted_;
    ++stats_.requests;
    incoming_.push_back(std::move(req));
    woken_ = true;
  }
  cv_.notify_all();
  return absl::OkStatus();
}

void BatchScheduler::Notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void BatchScheduler::Start() {
  thread_ = std::thread([this] {
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) break;
      }
      if (Step()) continue;
      std::unique_lock<std::mutex> lock(mu_);
      // Idle, or every sequence is paused: wait for a submission or wake; poll now and
      // then for deadlines of paused sinks.
      cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stop_ || woken_; });
      woken_ = false;
    }
  });
}

void BatchScheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::deque<std::unique_ptr<Request>> incoming;
  {
    std::lock_guard<std::mutex> lock(mu_);
    incoming.swap(incoming_);
  }
  for (std::unique_ptr<Request>& r : incoming) requests_.push_back(std::move(r));
  while (!requests_.empty()) {
    FinishRequest(requests_.front().get(), absl::UnavailableError("the worker is shutting down"));
  }
}

SchedulerStats BatchScheduler::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void BatchScheduler::PublishStats() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.running = static_cast<int32_t>(running_.size());
  stats_.waiting = static_cast<int32_t>(waiting_.size());
  for (const auto& r : incoming_) stats_.waiting += static_cast<int32_t>(r->seqs.size());
  stats_.requests = accepted_;
  stats_.kv_blocks_total = kv_pool_.num_blocks();
  stats_.kv_blocks_free = kv_pool_.num_available();
  stats_.kv_blocks_cached = kv_pool_.num_cached();
  stats_.preemptions = preemptions_;
  stats_.prefix_queried_tokens = prefix_queried_;
  stats_.prefix_hit_tokens = prefix_hit_;
  stats_.steps = steps_;
}

void BatchScheduler::FinishSequence(Sequence* s) {
  s->done = true;
  s->kv.Clear();
  if (s->running) {
    running_.erase(std::find(running_.begin(), running_.end(), s));
    s->running = false;
  } else {
    auto it = std::find(waiting_.begin(), waiting_.end(), s);
    if (it != waiting_.end()) waiting_.erase(it);
  }
}

void BatchScheduler::FinishRequest(Request* r, absl::Status status) {
  for (auto& s : r->seqs) {
    if (!s->done) FinishSequence(s.get());
  }
  const auto now = Clock::now();
  r->stats.total_time_ms = Ms(r->submitted, now);
  if (!r->first) r->stats.time_to_first_token_ms = Ms(r->submitted, r->first_token);
  r->req.sink->OnFinish(std::move(status), r->stats);
  auto it = std::find_if(requests_.begin(), requests_.end(),
                         [r](const std::unique_ptr<Request>& p) { return p.get() == r; });
  if (it != requests_.end()) requests_.erase(it);
  std::lock_guard<std::mutex> lock(mu_);
  --accepted_;
}

void BatchScheduler::SweepCancelled() {
  std::vector<Request*> gone;
  for (const auto& r : requests_) {
    if (r->req.sink->Cancelled()) gone.push_back(r.get());
  }
  for (Request* r : gone) FinishRequest(r, absl::CancelledError("the request was cancelled"));
}

void BatchScheduler::Preempt(Sequence* s) {
  s->kv.Clear();
  s->computed = 0;
  running_.erase(std::find(running_.begin(), running_.end(), s));
  s->running = false;
  waiting_.push_back(s);
  ++preemptions_;
}

void BatchScheduler::Admit() {
  // Highest priority first, then oldest request, then choice order; a preempted sequence
  // keeps its request's place.
  std::stable_sort(waiting_.begin(), waiting_.end(), [](const Sequence* a, const Sequence* b) {
    if (a->req->req.priority != b->req->req.priority) {
      return a->req->req.priority > b->req->req.priority;
    }
    if (a->req->arrival != b->req->arrival) return a->req->arrival < b->req->arrival;
    return a->choice < b->choice;
  });
  const int64_t bt = options_.block_tokens;
  size_t i = 0;
  while (i < waiting_.size() && static_cast<int32_t>(running_.size()) < options_.max_seqs) {
    Sequence* s = waiting_[i];
    if (WaitsForSibling(s)) {  // it will share the blocks its sibling is computing
      ++i;
      continue;
    }
    const auto n = static_cast<int64_t>(s->tokens.size());
    match_.clear();
    int64_t matched_evictable = 0;
    if (s->cache) {
      // Full blocks before the last token (its logits are needed), and with echo_prompt
      // none whose prompt logprobs are still to be computed.
      int64_t max_blocks = (n - 1) / bt;
      if (s->req->req.options.logprobs.echo_prompt) {
        max_blocks = std::min(max_blocks, static_cast<int64_t>(s->prompt_logprobs.size()) / bt);
      }
      kv_pool_.MatchPrefix(s->tokens, max_blocks, &match_);
      for (const int32_t b : match_) matched_evictable += kv_pool_.ref_count(b) == 0 ? 1 : 0;
    }
    const int64_t need = CeilDiv(n, bt) - static_cast<int64_t>(match_.size());
    // In order: no overtaking.
    if (need > kv_pool_.num_available() - matched_evictable) break;
    const int64_t hit = static_cast<int64_t>(match_.size()) * bt;
    if (s->cache) {
      s->kv.AdoptPrefix(match_, s->tokens);
      s->computed = hit;
      prefix_queried_ += n;
      prefix_hit_ += hit;
    }
    s->kv.Reserve(n);
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
    s->running = true;
    s->order = next_order_++;
    running_.push_back(s);
    s->req->req.sink->OnAdmitted();
    if (!s->req->admitted) {
      s->req->admitted = true;
      s->req->req.sink->OnPromptCached(
          std::min<int64_t>(hit, static_cast<int64_t>(s->req->req.prompt.size())));
    }
  }
}

bool BatchScheduler::WaitsForSibling(const Sequence* s) const {
  // With echo_prompt a choice computes its prompt rows itself (for their logprobs).
  if (!s->cache || s->req->req.options.logprobs.echo_prompt) return false;
  const int64_t bt = options_.block_tokens;
  const int64_t shared = (static_cast<int64_t>(s->req->req.prompt.size()) - 1) / bt * bt;
  if (shared == 0) return false;
  for (const auto& t : s->req->seqs) {
    if (t.get() != s && t->running && t->computed < shared) return true;
  }
  return false;
}

bool BatchScheduler::Step() {
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!incoming_.empty()) {
      std::unique_ptr<Request> r = std::move(incoming_.front());
      incoming_.pop_front();
      r->arrival = next_order_++;
      for (auto& s : r->seqs) waiting_.push_back(s.get());
      requests_.push_back(std::move(r));
      changed = true;
    }
  }
  const size_t before = requests_.size();
  SweepCancelled();
  changed = changed || requests_.size() != before;
  const size_t running_before = running_.size();
  Admit();
  changed = changed || running_.size() != running_before;

  // Rows: one per decoding sequence first (they keep their pace), then prompt chunks.
  std::vector<model::ForwardRow> rows;
  std::vector<model::KvCache*> caches;
  std::vector<Sequence*> row_seq;  // by cache index
  int64_t logit_rows = 0;
  auto add_rows = [&](Sequence* s, int64_t take) {
    const auto idx = static_cast<int32_t>(caches.size());
    caches.push_back(&s->kv);
    row_seq.push_back(s);
    s->step_rows = take;
    const auto last = static_cast<int64_t>(s->tokens.size()) - 1;
    const auto prompt_last = static_cast<int64_t>(s->req->req.prompt.size()) - 1;
    const bool echo = s->req->req.options.logprobs.echo_prompt;
    for (int64_t p = s->computed; p < s->computed + take; ++p) {
      const bool lg = p == last || (echo && p < prompt_last &&
                                    p >= static_cast<int64_t>(s->prompt_logprobs.size()));
      rows.push_back({idx, s->tokens[static_cast<size_t>(p)], p, lg});
      logit_rows += lg ? 1 : 0;
    }
  };
  std::vector<Sequence*> order = running_;
  for (Sequence* s : order) {
    if (!s->running || s->tokens.size() - static_cast<size_t>(s->computed) != 1) continue;
    if (!s->req->req.sink->Writable()) continue;
    // A block for the new position; out of blocks: preempt the newest (maybe itself).
    while (!s->kv.Reserve(s->computed + 1)) {
      Sequence* newest = *std::max_element(
          running_.begin(), running_.end(),
          [](const Sequence* a, const Sequence* b) { return a->order < b->order; });
      Preempt(newest);
      changed = true;
      if (newest == s) break;
    }
    if (s->running) add_rows(s, 1);
  }
  // A preempted sequence may already have rows: drop those (its cache was cleared).
  for (size_t i = 0; i < row_seq.size(); ++i) {
    if (!row_seq[i]->running) {
      rows.erase(std::remove_if(rows.begin(), rows.end(),
                                [&](const model::ForwardRow& r) {
                                  if (r.seq == static_cast<int32_t>(i)) {
                                    logit_rows -= r.logits ? 1 : 0;
                                    return true;
                                  }
                                  return false;
                                }),
                 rows.end());
      row_seq[i]->step_rows = 0;
    }
  }
  int64_t budget = std::max<int64_t>(1, options_.step_tokens - static_cast<int64_t>(rows.size()));
  for (Sequence* s : running_) {
    const auto remaining = static_cast<int64_t>(s->tokens.size()) - s->computed;
    if (remaining <= 1 || budget <= 0) continue;
    if (!s->req->req.sink->Writable()) continue;
    const int64_t take = std::min(remaining, budget);
    add_rows(s, take);
    budget -= take;
  }
  if (rows.empty()) {
    PublishStats();
    if (changed && observer_) {  // e.g. the last request was cancelled: gauges follow
      StepInfo info;
      info.stats = Stats();
      observer_(info);
    }
    return changed;
  }

  const int64_t vocab = decoder_.config().n_vocab;
  if (logits_.size() < static_cast<size_t>(logit_rows * vocab)) {
    logits_.resize(static_cast<size_t>(logit_rows * vocab));
  }
  absl::Status fs = decoder_.Forward(rows, caches, &state_, pool_, logits_.data());
  ++steps_;
  if (!fs.ok()) {
    std::vector<Request*> failed;
    for (Sequence* s : row_seq) {
      if (std::find(failed.begin(), failed.end(), s->req) == failed.end()) {
        failed.push_back(s->req);
      }
    }
    for (Request* r : failed) FinishRequest(r, fs);
    PublishStats();
    return true;
  }

  // Each sequence's next token: sampled (with its grammar, stop strings and detokenizer) for
  // all sequences at once on the pool; every choice has its own state and random stream,
  // so the tokens do not depend on which thread samples them.
  {
    const float* row_logits = logits_.data();
    due_.clear();
    for (const model::ForwardRow& row : rows) {
      if (!row.logits) continue;
      Sequence* s = row_seq[static_cast<size_t>(row.seq)];
      if (row.pos == static_cast<int64_t>(s->tokens.size()) - 1) due_.push_back({s, row_logits});
      row_logits += vocab;
    }
    events_.resize(due_.size());
    pool_->ParallelFor(static_cast<int64_t>(due_.size()), [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) {
        const auto& [seq, row_lg] = due_[static_cast<size_t>(i)];
        events_[static_cast<size_t>(i)] = seq->stepper->Step(row_lg);
      }
    });
  }

  // Logits in row order: prompt logprobs (echo) and each sequence's next token.
  const float* lg = logits_.data();
  int32_t sampled = 0;
  std::vector<Request*> completed;
  for (const model::ForwardRow& row : rows) {
    if (!row.logits) continue;
    Sequence* s = row_seq[static_cast<size_t>(row.seq)];
    const auto last = static_cast<int64_t>(s->tokens.size()) - 1;
    if (row.pos != last) {  // echo_prompt: log probability of the next prompt token
      if (row.pos == static_cast<int64_t>(s->prompt_logprobs.size())) {
        s->prompt_logprobs.push_back(RawLogprobs(lg, vocab,
                                                 s->tokens[static_cast<size_t>(row.pos + 1)],
                                                 s->req->req.options.logprobs.top_logprobs));
      }
      lg += vocab;
      continue;
    }
    s->computed += s->step_rows;
    s->step_rows = 0;
    GenerationEvent ev = std::move(events_[static_cast<size_t>(sampled)]);
    lg += vocab;
    ++sampled;
    s->tokens.push_back(*ev.token);
    if (s->first_event) {
      s->first_event = false;
      ev.prompt_logprobs = std::move(s->prompt_logprobs);
      s->prompt_logprobs.clear();
      // Entries were consumed: mark the prompt as done so resumes compute no echo rows.
      s->prompt_logprobs.resize(s->req->req.prompt.size());
    }
    Request* r = s->req;
    if (r->first) {
      r->first = false;
      r->first_token = Clock::now();
    }
    ++r->stats.completion_tokens;
    const bool finished = ev.finish != FinishReason::kNone;
    r->req.sink->OnEvent(ev);
    if (finished) {
      FinishSequence(s);
      if (++r->finished_choices == r->req.options.n) completed.push_back(r);
    }
  }
  // Prefill chunks that did not reach their last token.
  for (Sequence* s : row_seq) {
    s->computed += s->step_rows;
    s->step_rows = 0;
  }
  for (Request* r : completed) FinishRequest(r, absl::OkStatus());
  PublishStats();
  if (observer_) {
    StepInfo info;
    info.rows = static_cast<int64_t>(rows.size());
    info.sequences = sampled;
    info.stats = Stats();
    observer_(info);
  }
  return true;
}

}  // namespace jetserve::runtime
