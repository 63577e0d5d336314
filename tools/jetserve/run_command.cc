#include "tools/jetserve/run_command.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <limits>
#include <optional>
#include <random>
#include <thread>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/encoder/decoder_text.h"
#include "engine/encoder/text_encoder.h"
#include "engine/format/gguf_reader.h"
#include "engine/grammar/json_schema.h"
#include "engine/runtime/decoder_model.h"
#include "engine/runtime/generator.h"
#include "engine/runtime/grammar_constraint.h"
#include "engine/util/thread_pool.h"
#include "tools/jetserve/cli_args.h"

namespace jetserve::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

const std::vector<OptionSpec>& Specs() {
  // clang-format off
  static const auto* specs = new std::vector<OptionSpec>{
      {"model", 'm', true},           {"prompt", 'p', true},
      {"n-predict", 'n', true},       {"temp", '\0', true},
      {"top-k", '\0', true},          {"top-p", '\0', true},
      {"min-p", '\0', true},          {"typical-p", '\0', true},
      {"repeat-penalty", '\0', true}, {"repeat-last-n", '\0', true},
      {"presence-penalty", '\0', true}, {"frequency-penalty", '\0', true},
      {"seed", 's', true},            {"stop", '\0', true},
      {"min-tokens", '\0', true},     {"ignore-eos", '\0', false},
      {"no-special", '\0', false},    {"threads", 't', true},
      {"ctx", 'c', true},             {"verbose", 'v', false},
      {"chat", '\0', false},          {"json-schema", '\0', true},
      {"grammar", '\0', true}};
  // clang-format on
  return *specs;
}

struct RunSettings {
  std::string model;
  std::string prompt;
  bool add_special = true;
  int threads = 0;  // 0: all cores
  int64_t ctx = 0;  // 0: the server's default
  bool verbose = false;
  bool chat = false;        // the prompt is one user message, rendered with the model's template
  std::string json_schema;  // constrain the output to this JSON Schema
  std::string grammar;      // or to this GBNF grammar
  runtime::GenerateOptions options;
};

// Reads option `name` into `*field` when present.
template <typename T>
absl::Status Number(const ParsedArgs& args, const char* name, T* field) {
  if constexpr (std::is_floating_point_v<T>) {
    absl::StatusOr<std::optional<double>> v = args.GetDouble(name);
    if (!v.ok()) return v.status();
    if (v->has_value()) *field = static_cast<T>(**v);
  } else {
    absl::StatusOr<std::optional<int64_t>> v = args.GetInt(name);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return absl::OkStatus();
    if (**v < std::numeric_limits<T>::min() || **v > std::numeric_limits<T>::max()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", **v, " is out of range"));
    }
    *field = static_cast<T>(**v);
  }
  return absl::OkStatus();
}

// Usage errors are InvalidArgument; a prompt that cannot be read is FailedPrecondition.
absl::StatusOr<RunSettings> Settings(const std::vector<std::string>& words, std::istream& in) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(words, Specs());
  if (!args.ok()) return args.status();
  if (!args->positional().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", args->positional()[0],
                     "\" (the prompt goes in -p/--prompt; -p - reads stdin)"));
  }
  RunSettings s;
  s.model = args->GetOr("model", "");
  if (s.model.empty()) return absl::InvalidArgumentError("-m/--model FILE.gguf is required");
  std::optional<std::string> prompt = args->Get("prompt");
  if (!prompt.has_value()) {
    return absl::InvalidArgumentError("-p/--prompt TEXT is required (-p - reads stdin)");
  }
  if (*prompt == "-") {
    s.prompt.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) return absl::FailedPreconditionError("cannot read the prompt from stdin");
  } else {
    s.prompt = *prompt;
  }
  s.add_special = !args->Has("no-special");
  s.verbose = args->Has("verbose");
  runtime::SamplingOptions& sp = s.options.sampling;
  runtime::StopOptions& st = s.options.stop;
  for (const absl::Status& status :
       {Number(*args, "temp", &sp.temperature), Number(*args, "top-k", &sp.top_k),
        Number(*args, "top-p", &sp.top_p), Number(*args, "min-p", &sp.min_p),
        Number(*args, "typical-p", &sp.typical_p),
        Number(*args, "repeat-penalty", &sp.repetition_penalty),
        Number(*args, "repeat-last-n", &sp.penalty_last_n),
        Number(*args, "presence-penalty", &sp.presence_penalty),
        Number(*args, "frequency-penalty", &sp.frequency_penalty),
        Number(*args, "n-predict", &st.max_tokens), Number(*args, "min-tokens", &st.min_tokens),
        Number(*args, "threads", &s.threads), Number(*args, "ctx", &s.ctx)}) {
    if (!status.ok()) return status;
  }
  // llama.cpp's -n -1 means "until the context is full", the API's unset max_tokens.
  if (st.max_tokens < 0) st.max_tokens = -1;
  if (st.max_tokens == 0) {
    return absl::InvalidArgumentError(
        "-n/--n-predict must be at least 1 (-1: until the context is full)");
  }
  if (s.threads < 0) return absl::InvalidArgumentError("--threads must be >= 0");
  if (s.ctx < 0) return absl::InvalidArgumentError("--ctx must be >= 0");
  absl::StatusOr<std::optional<int64_t>> seed = args->GetInt("seed");
  if (!seed.ok()) return seed.status();
  sp.seed = seed->has_value() ? static_cast<uint64_t>(**seed) : std::random_device{}();
  st.stop = args->GetAll("stop");
  st.ignore_eos = args->Has("ignore-eos");
  s.chat = args->Has("chat");
  s.json_schema = args->GetOr("json-schema", "");
  s.grammar = args->GetOr("grammar", "");
  if (!s.json_schema.empty() && !s.grammar.empty()) {
    return absl::InvalidArgumentError("--json-schema and --grammar exclude each other");
  }
  return s;
}

// The prompt ids, refusing (like the API's default context_overflow) a prompt that leaves
// no room for max_tokens.
absl::StatusOr<std::vector<int32_t>> Prompt(const runtime::DecoderModel& m, const RunSettings& s,
                                            int64_t n_ctx, std::ostream& err) {
  std::vector<int32_t> ids;
  if (s.chat) {
    std::string problem;
    const chat::ChatTemplate t = runtime::LoadModelChatTemplate(*m.decoder, *m.tokenizer, &problem);
    if (!problem.empty()) err << "jetserve run: " << problem << "\n";
    chat::ChatInput input;
    input.messages.push_back({.role = "user", .content = s.prompt});
    absl::StatusOr<std::vector<int32_t>> chat_ids = runtime::EncodeChat(t, *m.tokenizer, input);
    if (!chat_ids.ok()) return chat_ids.status();
    ids = *std::move(chat_ids);
  } else {
    ids = runtime::EncodePrompt(*m.tokenizer, s.prompt, s.add_special);
  }
  if (ids.empty()) return absl::InvalidArgumentError("the prompt has no tokens");
  const int64_t want = s.options.stop.max_tokens > 0 ? s.options.stop.max_tokens : 1;
  if (static_cast<int64_t>(ids.size()) + want > n_ctx) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt of ", ids.size(), " tokens + max_tokens ", want,
                     " exceeds the context length ", n_ctx, " (raise --ctx or lower -n)"));
  }
  return ids;
}

const char* FinishName(runtime::FinishReason r) {
  switch (r) {
    case runtime::FinishReason::kEos:
      return "eos";
    case runtime::FinishReason::kLength:
      return "length";
    case runtime::FinishReason::kStopString:
      return "stop_string";
    case runtime::FinishReason::kStopToken:
      return "stop_token";
    case runtime::FinishReason::kNone:
      break;
  }
  return "none";
}

// ---- text tasks: --embed / --classify ---------------------------------------------------

const std::vector<OptionSpec>& EncoderSpecs() {
  // clang-format off
  static const auto* specs = new std::vector<OptionSpec>{
      {"model", 'm', true},      {"embed", '\0', false},    {"classify", '\0', false},
      {"truncate", '\0', false}, {"truncate-start", '\0', false},
      {"threads", 't', true},    {"dimensions", '\0', true}, {"pooling", '\0', true},
      {"labels", '\0', true},    {"template", '\0', true},   {"multi-label", '\0', false},
      {"ctx", 'c', true}};
  // clang-format on
  return *specs;
}

void JsonString(const std::string& s, std::ostream& out) {
  out << '"';
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out << '\\' << ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out << buf;
    } else {
      out << ch;
    }
  }
  out << '"';
}

void JsonFloat(float v, std::ostream& out) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(v));
  out << buf;
}

// The text tasks of one model: a BERT-family encoder (TextEncoder) or a decoder GGUF
// (DecoderText: Embed, and Classify zero-shot only).
class TextModel {
 public:
  static absl::StatusOr<std::unique_ptr<TextModel>> Open(const std::string& path, int64_t ctx) {
    auto m = std::make_unique<TextModel>();
    if (IsDecoderGguf(path)) {
      absl::StatusOr<runtime::DecoderModel> d = runtime::OpenDecoderModel(path);
      if (!d.ok()) return d.status();
      m->decoder_ = *std::move(d);
      m->dt_ =
          std::make_unique<encoder::DecoderText>(*m->decoder_.decoder, *m->decoder_.tokenizer,
                                                 runtime::ServedContext(*m->decoder_.decoder, ctx));
      return m;
    }
    absl::StatusOr<std::unique_ptr<encoder::TextEncoder>> te = encoder::TextEncoder::Load(path);
    if (!te.ok()) return te.status();
    m->te_ = *std::move(te);
    return m;
  }

  // Labels of its own classifier head (none for embedders and decoders).
  int num_labels() const { return te_ != nullptr ? te_->encoder().num_labels() : 0; }

  absl::StatusOr<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts,
                                                        const encoder::EmbedOptions& o,
                                                        ThreadPool* pool) {
    return te_ != nullptr ? te_->Embed(texts, o, pool, &ws_) : dt_->Embed(texts, o, pool);
  }
  absl::StatusOr<std::vector<std::vector<encoder::LabelScore>>> Classify(
      const std::vector<std::string>& texts, encoder::Truncation truncation, ThreadPool* pool) {
    std::vector<encoder::TextPair> pairs;
    for (const std::string& t : texts) pairs.push_back({t, std::nullopt});
    return te_->Classify(pairs, {.truncation = truncation}, pool, &ws_);
  }
  absl::StatusOr<std::vector<encoder::LabelScore>> ZeroShot(const std::string& text,
                                                            const std::vector<std::string>& labels,
                                                            const encoder::ZeroShotOptions& o,
                                                            ThreadPool* pool) {
    return te_ != nullptr ? te_->ZeroShot(text, labels, o, pool, &ws_)
                          : dt_->ZeroShot(text, labels, o, pool);
  }

 private:
  static bool IsDecoderGguf(const std::string& path) {
    absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(path);
    if (!f.ok()) return false;
    absl::StatusOr<std::string_view> arch = (*f)->GetString("general.architecture");
    return arch.ok() && *arch != "bert";
  }

  std::unique_ptr<encoder::TextEncoder> te_;
  encoder::EncoderWorkspace ws_;
  runtime::DecoderModel decoder_;
  std::unique_ptr<encoder::DecoderText> dt_;
};

// One text per stdin line; --embed prints a JSON array per line, --classify a JSON object
// mapping every label to its probability (labels best first).
int RunEncoder(const std::vector<std::string>& words, std::istream& in, std::ostream& out,
               std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(words, EncoderSpecs());
  if (!args.ok()) {
    err << "jetserve run: " << args.status().message() << "\n";
    return kExitUsage;
  }
  const bool embed = args->Has("embed");
  if (embed == args->Has("classify")) {
    err << "jetserve run: give one of --embed and --classify\n";
    return kExitUsage;
  }
  if (!args->positional().empty()) {
    err << "jetserve run: unexpected argument \"" << args->positional()[0]
        << "\" (texts are read from stdin, one per line)\n";
    return kExitUsage;
  }
  const std::string model = args->GetOr("model", "");
  if (model.empty()) {
    err << "jetserve run: -m/--model (a .gguf file or a folder with model.onnx) is required\n";
    return kExitUsage;
  }
  int threads = 0, dimensions = 0;
  int64_t ctx = 0;
  for (const absl::Status& st :
       {Number(*args, "threads", &threads), Number(*args, "dimensions", &dimensions),
        Number(*args, "ctx", &ctx)}) {
    if (!st.ok()) {
      err << "jetserve run: " << st.message() << "\n";
      return kExitUsage;
    }
  }
  if (threads < 0 || dimensions < 0 || ctx < 0) {
    err << "jetserve run: --threads, --dimensions and --ctx must be >= 0\n";
    return kExitUsage;
  }
  if (args->Has("truncate") && args->Has("truncate-start")) {
    err << "jetserve run: give one of --truncate and --truncate-start\n";
    return kExitUsage;
  }
  const encoder::Truncation truncation = args->Has("truncate-start") ? encoder::Truncation::kStart
                                         : args->Has("truncate")     ? encoder::Truncation::kEnd
                                                                     : encoder::Truncation::kNone;
  encoder::EmbedOptions eo{.truncation = truncation, .dimensions = dimensions};
  if (args->Has("pooling")) {
    const std::string p = args->GetOr("pooling", "");
    if (p == "mean") {
      eo.pooling = encoder::Pooling::kMean;
    } else if (p == "cls") {
      eo.pooling = encoder::Pooling::kCls;
    } else if (p == "last") {
      eo.pooling = encoder::Pooling::kLast;
    } else {
      err << "jetserve run: --pooling must be mean, cls or last\n";
      return kExitUsage;
    }
  }
  std::vector<std::string> labels;
  if (args->Has("labels")) {
    labels = absl::StrSplit(args->GetOr("labels", ""), ',', absl::SkipEmpty());
    if (labels.empty()) {
      err << "jetserve run: --labels needs comma-separated labels\n";
      return kExitUsage;
    }
  }
  encoder::ZeroShotOptions zo{.multi_label = args->Has("multi-label"), .truncation = truncation};
  if (args->Has("template")) zo.hypothesis_template = args->GetOr("template", "");
  absl::StatusOr<std::unique_ptr<TextModel>> tm = TextModel::Open(model, ctx);
  if (!tm.ok()) {
    err << "jetserve run: " << model << ": " << tm.status().message() << "\n";
    return kExitFailed;
  }
  if (!embed && labels.empty() && (*tm)->num_labels() == 0) {
    err << "jetserve run: " << model
        << " has no classification head: give --labels for zero-shot (or use --embed)\n";
    return kExitUsage;
  }
  ThreadPool pool(
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  auto print_labels = [&](const std::vector<encoder::LabelScore>& row) {
    out << '{';
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) out << ',';
      JsonString(row[i].label, out);
      out << ':';
      JsonFloat(row[i].score, out);
    }
    out << "}\n";
  };
  std::vector<std::string> lines;
  auto flush = [&]() -> absl::Status {
    if (lines.empty()) return absl::OkStatus();
    if (embed) {
      absl::StatusOr<std::vector<std::vector<float>>> v = (*tm)->Embed(lines, eo, &pool);
      if (!v.ok()) return v.status();
      for (const std::vector<float>& e : *v) {
        out << '[';
        for (size_t i = 0; i < e.size(); ++i) {
          if (i > 0) out << ',';
          JsonFloat(e[i], out);
        }
        out << "]\n";
      }
    } else if (!labels.empty()) {
      for (const std::string& l : lines) {
        absl::StatusOr<std::vector<encoder::LabelScore>> z = (*tm)->ZeroShot(l, labels, zo, &pool);
        if (!z.ok()) return z.status();
        print_labels(*z);
      }
    } else {
      absl::StatusOr<std::vector<std::vector<encoder::LabelScore>>> c =
          (*tm)->Classify(lines, truncation, &pool);
      if (!c.ok()) return c.status();
      for (const std::vector<encoder::LabelScore>& row : *c) print_labels(row);
    }
    out << std::flush;
    lines.clear();
    return absl::OkStatus();
  };
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    if (lines.size() == 32) {
      if (absl::Status st = flush(); !st.ok()) {
        err << "jetserve run: input lines " << line_no - 31 << "-" << line_no << ": "
            << st.message() << "\n";
        return kExitFailed;
      }
    }
  }
  const int64_t first = line_no - static_cast<int64_t>(lines.size()) + 1;
  if (absl::Status st = flush(); !st.ok()) {
    err << "jetserve run: input lines " << first << "-" << line_no << ": " << st.message() << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace

int RunRunCommand(const std::vector<std::string>& words, std::istream& in, std::ostream& out,
                  std::ostream& err) {
  for (const std::string& w : words) {
    if (w == "--embed" || w == "--classify") return RunEncoder(words, in, out, err);
  }
  absl::StatusOr<RunSettings> settings = Settings(words, in);
  if (!settings.ok()) {
    err << "jetserve run: " << settings.status().message() << "\n";
    return absl::IsInvalidArgument(settings.status()) ? kExitUsage : kExitFailed;
  }
  const RunSettings& s = *settings;
  absl::StatusOr<runtime::DecoderModel> m = runtime::OpenDecoderModel(s.model);
  if (!m.ok()) {
    err << "jetserve run: " << s.model << ": " << m.status().message() << "\n";
    return kExitFailed;
  }
  const int64_t n_ctx = runtime::ServedContext(*m->decoder, s.ctx);
  // Out-of-range values are usage errors, named as generate.proto names the field.
  const absl::Status valid = runtime::ValidateGenerateOptions(
      s.options, static_cast<int32_t>(m->decoder->config().n_vocab), n_ctx);
  if (!valid.ok()) {
    err << "jetserve run: " << valid.message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<std::vector<int32_t>> prompt = Prompt(*m, s, n_ctx, err);
  if (!prompt.ok()) {
    err << "jetserve run: " << prompt.status().message() << "\n";
    return kExitFailed;
  }
  const int threads = s.threads > 0
                          ? s.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool pool(threads);
  runtime::Generator generator(*m->decoder, *m->tokenizer, &pool, {.n_ctx = n_ctx});
  runtime::GenerateOptions options = s.options;
  if (!s.json_schema.empty() || !s.grammar.empty()) {
    absl::StatusOr<std::string> gbnf =
        s.grammar.empty() ? grammar::JsonSchemaToGbnf(s.json_schema) : s.grammar;
    absl::StatusOr<std::shared_ptr<const grammar::Grammar>> g =
        gbnf.ok() ? grammar::Grammar::Parse(*gbnf)
                  : absl::StatusOr<std::shared_ptr<const grammar::Grammar>>(gbnf.status());
    if (!g.ok()) {
      err << "jetserve run: " << (s.grammar.empty() ? "--json-schema: " : "--grammar: ")
          << g.status().message() << "\n";
      return kExitUsage;
    }
    std::vector<int32_t> eog;
    for (int32_t id = 0; id < m->tokenizer->size(); ++id) {
      if (m->tokenizer->IsEndOfGeneration(id)) eog.push_back(id);
    }
    options.sampling.constraint = runtime::GrammarConstraintFactory(
        *g, runtime::TokenTrie::FromTokenizer(*m->tokenizer), std::move(eog));
  }
  runtime::FinishReason finish = runtime::FinishReason::kNone;
  runtime::GenerationStats stats;
  std::vector<int32_t> tokens;
  absl::Status status = generator.Generate(
      *prompt, options,
      [&](const runtime::GenerationEvent& e) {
        out << e.text << std::flush;
        if (e.token.has_value()) tokens.push_back(*e.token);
        if (e.finish != runtime::FinishReason::kNone) finish = e.finish;
        return static_cast<bool>(out);
      },
      &stats);
  out << std::flush;
  if (!status.ok()) {
    err << (tokens.empty() ? "" : "\n") << "jetserve run: " << status.message() << "\n";
    return kExitFailed;
  }
  if (s.verbose) {
    err << "\n[prompt " << stats.prompt_tokens << " tokens, " << stats.completion_tokens
        << " generated, finish " << FinishName(finish) << ", seed " << stats.seed << ", threads "
        << threads << ", ctx " << n_ctx << "; first token " << stats.time_to_first_token_ms
        << " ms, total " << stats.total_time_ms << " ms, " << stats.prompt_tokens_per_second
        << " prompt tok/s, " << stats.completion_tokens_per_second << " tok/s]\n[tokens";
    for (const int32_t t : tokens) err << " " << t;
    err << "]\n";
  }
  return kExitOk;
}

std::string RunCommandUsage() {
  return R"(  jetserve run -m FILE.gguf -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P]
               [--min-p P] [--typical-p P] [--repeat-penalty R] [--repeat-last-n N]
               [--presence-penalty X] [--frequency-penalty X] [--seed S] [--stop STR]...
               [--min-tokens N] [--ignore-eos] [--no-special] [--threads N] [--ctx N]
               [--verbose] [--chat] [--json-schema JSON | --grammar GBNF]
                    generates locally and prints only the continuation to stdout, streamed.
                    -p - reads the prompt from stdin (verbatim). Defaults are generate.proto's:
                    temperature 1, top-k/top-p/min-p off, penalties off (last 64 tokens),
                    a random seed, -n until the context (--ctx, default 4096, capped by the
                    model) is full; --temp 0 is greedy. --verbose: timing, the seed and the
                    generated token ids on stderr. --chat sends the prompt as one user
                    message rendered with the model's chat template (ChatML when it has
                    none); --json-schema / --grammar constrain the output.
  jetserve run -m MODEL --embed|--classify [--truncate | --truncate-start]
               [--dimensions N] [--pooling mean|cls|last] [--labels A,B,... [--template T]
               [--multi-label]] [--threads N] [--ctx N]
                    text tasks (MODEL: an encoder .gguf (bert) or a folder with model.onnx,
                    tokenizer.json, config.json, or a decoder .gguf): one text per stdin
                    line; --embed prints one JSON array per line (the model's pooling, or
                    --pooling; normalized; --dimensions keeps the first N, renormalized),
                    --classify one JSON object per line mapping each label to its score,
                    best first: the model's own labels, or zero-shot over --labels (NLI or
                    embedding similarity for encoders, label log-likelihood for decoders;
                    T has "{}" for the label, default "This example is {}."). A text over
                    the model's limit (decoders: --ctx, default 4096) is an error unless
                    --truncate (keep the start) or --truncate-start (keep the end).
)";
}

}  // namespace jetserve::cli
