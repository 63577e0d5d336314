#include "tools/jetserve/gateway_commands.h"

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "jetserve/v1/service.grpc.pb.h"
#include "tools/jetserve/cli_args.h"

namespace jetserve::cli {
namespace {

namespace v1 = ::jetserve::v1;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

std::vector<OptionSpec> WithCommon(std::vector<OptionSpec> specs) {
  specs.push_back({"gateway", 'g', true});
  specs.push_back({"timeout", '\0', true});
  specs.push_back({"request-id", '\0', true});
  specs.push_back({"json", '\0', false});
  return specs;
}

std::string GatewayAddress(const ParsedArgs& args) {
  if (auto g = args.Get("gateway")) return *g;
  if (const char* env = std::getenv("JETSERVE_GATEWAY"); env != nullptr && *env != '\0') {
    return env;
  }
  return "localhost:50051";
}

// Per-call context: deadline and request id from the common options.
absl::StatusOr<std::unique_ptr<grpc::ClientContext>> MakeContext(const ParsedArgs& args) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  absl::StatusOr<std::optional<double>> timeout = args.GetDouble("timeout");
  if (!timeout.ok()) return timeout.status();
  if (timeout->has_value()) {
    if (**timeout <= 0) return absl::InvalidArgumentError("--timeout: must be > 0 seconds");
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::microseconds(static_cast<int64_t>(**timeout * 1e6)));
  }
  if (auto id = args.Get("request-id")) ctx->AddMetadata("x-request-id", *id);
  return ctx;
}

std::unique_ptr<v1::Jetserve::Stub> Connect(const ParsedArgs& args) {
  grpc::ChannelArguments ch_args;
  ch_args.SetMaxReceiveMessageSize(64 << 20);
  return v1::Jetserve::NewStub(
      grpc::CreateCustomChannel(GatewayAddress(args), grpc::InsecureChannelCredentials(), ch_args));
}

int RpcFailed(const grpc::Status& s, std::ostream& err) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  const int code = static_cast<int>(s.error_code());
  err << "jetserve: " << (code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN") << ": "
      << s.error_message() << "\n";
  return kExitFailed;
}

int UsageError(const absl::Status& s, std::ostream& err) {
  err << "jetserve: " << s.message() << "\n";
  return kExitUsage;
}

void PrintJson(const google::protobuf::Message& m, std::ostream& out) {
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  if (google::protobuf::util::MessageToJsonString(m, &json, opts).ok()) out << json << "\n";
}

// The texts of a command: its positionals, or all of stdin when there are none or the
// only one is "-".
std::vector<std::string> InputTexts(const ParsedArgs& args, std::istream& in) {
  const auto& pos = args.positional();
  if (pos.empty() || (pos.size() == 1 && pos[0] == "-")) {
    return {std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>())};
  }
  return pos;
}

std::optional<std::string> RequireModel(const ParsedArgs& args, std::ostream& err) {
  std::optional<std::string> m = args.Get("model");
  if (!m) err << "jetserve: -m/--model NAME is required\n";
  return m;
}

int Models(const std::vector<std::string>& words, std::ostream& out, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(words, WithCommon({}));
  if (!args.ok()) return UsageError(args.status(), err);
  auto ctx = MakeContext(*args);
  if (!ctx.ok()) return UsageError(ctx.status(), err);
  v1::ListModelsResponse resp;
  grpc::Status s = Connect(*args)->ListModels(ctx->get(), v1::ListModelsRequest(), &resp);
  if (!s.ok()) return RpcFailed(s, err);
  if (args->Has("json")) {
    PrintJson(resp, out);
    return kExitOk;
  }
  out << "NAME\tSTATE\tREPLICAS\tARCH\tQUANT\tCONTEXT\tDEVICE\tTASKS\n";
  for (const v1::ModelInfo& m : resp.models()) {
    std::vector<std::string> tasks;
    for (int t : m.tasks()) {
      std::string name = v1::ModelTask_Name(static_cast<v1::ModelTask>(t));
      tasks.push_back(name.substr(std::string("MODEL_TASK_").size()));
    }
    std::string state = v1::ModelState_Name(m.state()).substr(std::string("MODEL_STATE_").size());
    out << m.name() << "\t" << state << "\t" << m.ready_replicas() << "/" << m.total_replicas()
        << "\t" << m.architecture() << "\t" << m.quantization() << "\t" << m.context_length()
        << "\t" << m.device() << "\t" << absl::StrJoin(tasks, ",") << "\n";
  }
  return kExitOk;
}

int Generate(const std::vector<std::string>& words, std::istream& in, std::ostream& out,
             std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(words, WithCommon({{"model", 'm', true},
                                                                 {"temperature", 't', true},
                                                                 {"top-k", '\0', true},
                                                                 {"top-p", '\0', true},
                                                                 {"min-p", '\0', true},
                                                                 {"typical-p", '\0', true},
                                                                 {"repeat-penalty", '\0', true},
                                                                 {"presence-penalty", '\0', true},
                                                                 {"frequency-penalty", '\0', true},
                                                                 {"seed", 's', true},
                                                                 {"max-tokens", 'n', true},
                                                                 {"min-tokens", '\0', true},
                                                                 {"stop", '\0', true},
                                                                 {"ignore-eos", '\0', false},
                                                                 {"chat", '\0', false},
                                                                 {"system", '\0', true},
                                                                 {"usage", '\0', false}}));
  if (!args.ok()) return UsageError(args.status(), err);
  std::optional<std::string> model = RequireModel(*args, err);
  if (!model) return kExitUsage;
  std::string prompt = absl::StrJoin(InputTexts(*args, in), " ");

  v1::GenerateRequest req;
  req.set_model(*model);
  if (args->Has("chat") || args->Has("system")) {
    v1::Chat* chat = req.mutable_chat();
    if (auto sys = args->Get("system")) {
      v1::ChatMessage* m = chat->add_messages();
      m->set_role("system");
      m->set_content(*sys);
    }
    v1::ChatMessage* m = chat->add_messages();
    m->set_role("user");
    m->set_content(prompt);
  } else {
    req.set_prompt(prompt);
  }
  v1::SamplingParams* sp = req.mutable_sampling();
  struct FloatField {
    const char* flag;
    void (v1::SamplingParams::*set)(float);
  };
  for (const FloatField& f :
       {FloatField{"temperature", &v1::SamplingParams::set_temperature},
        FloatField{"top-p", &v1::SamplingParams::set_top_p},
        FloatField{"min-p", &v1::SamplingParams::set_min_p},
        FloatField{"typical-p", &v1::SamplingParams::set_typical_p},
        FloatField{"repeat-penalty", &v1::SamplingParams::set_repetition_penalty},
        FloatField{"presence-penalty", &v1::SamplingParams::set_presence_penalty},
        FloatField{"frequency-penalty", &v1::SamplingParams::set_frequency_penalty}}) {
    absl::StatusOr<std::optional<double>> v = args->GetDouble(f.flag);
    if (!v.ok()) return UsageError(v.status(), err);
    if (v->has_value()) (sp->*f.set)(static_cast<float>(**v));
  }
  absl::StatusOr<std::optional<int64_t>> top_k = args->GetInt("top-k");
  absl::StatusOr<std::optional<int64_t>> seed = args->GetInt("seed");
  absl::StatusOr<std::optional<int64_t>> max_tokens = args->GetInt("max-tokens");
  absl::StatusOr<std::optional<int64_t>> min_tokens = args->GetInt("min-tokens");
  for (const auto* v : {&top_k, &seed, &max_tokens, &min_tokens}) {
    if (!v->ok()) return UsageError(v->status(), err);
  }
  if (top_k->has_value()) sp->set_top_k(static_cast<int32_t>(**top_k));
  if (seed->has_value()) sp->set_seed(static_cast<uint64_t>(**seed));
  v1::StopCriteria* stop = req.mutable_stop();
  if (max_tokens->has_value()) stop->set_max_tokens(static_cast<int32_t>(**max_tokens));
  if (min_tokens->has_value()) stop->set_min_tokens(static_cast<int32_t>(**min_tokens));
  for (const std::string& s : args->GetAll("stop")) stop->add_stop(s);
  stop->set_ignore_eos(args->Has("ignore-eos"));

  auto ctx = MakeContext(*args);
  if (!ctx.ok()) return UsageError(ctx.status(), err);
  auto stub = Connect(*args);
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
      stub->Generate(ctx->get(), req);
  v1::GenerateResponse resp;
  v1::Usage usage;
  v1::FinishReason finish = v1::FINISH_REASON_UNSPECIFIED;
  const bool json = args->Has("json");
  while (reader->Read(&resp)) {
    if (json) {
      PrintJson(resp, out);
      continue;
    }
    out << resp.text() << std::flush;
    if (resp.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) finish = resp.finish_reason();
    if (resp.has_usage()) usage = resp.usage();
  }
  grpc::Status s = reader->Finish();
  if (!json) out << "\n";
  if (!s.ok()) return RpcFailed(s, err);
  if (!json && args->Has("usage")) {
    err << "finish=" << v1::FinishReason_Name(finish) << " prompt_tokens=" << usage.prompt_tokens()
        << " completion_tokens=" << usage.completion_tokens()
        << " ttft_ms=" << usage.time_to_first_token_ms()
        << " tokens_per_second=" << usage.completion_tokens_per_second() << "\n";
  }
  return kExitOk;
}

int Classify(const std::vector<std::string>& words, std::istream& in, std::ostream& out,
             std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(words, WithCommon({{"model", 'm', true},
                                                                 {"pair", '\0', true},
                                                                 {"label", 'l', true},
                                                                 {"multi-label", '\0', false},
                                                                 {"top-k", '\0', true}}));
  if (!args.ok()) return UsageError(args.status(), err);
  std::optional<std::string> model = RequireModel(*args, err);
  if (!model) return kExitUsage;
  v1::ClassifyRequest req;
  req.set_model(*model);
  for (const std::string& t : InputTexts(*args, in)) {
    v1::TextInput* input = req.add_inputs();
    input->set_text(t);
    if (auto pair = args->Get("pair")) input->set_text_pair(*pair);
  }
  for (const std::string& l : args->GetAll("label")) req.add_candidate_labels(l);
  req.set_multi_label(args->Has("multi-label"));
  absl::StatusOr<std::optional<int64_t>> top_k = args->GetInt("top-k");
  if (!top_k.ok()) return UsageError(top_k.status(), err);
  if (top_k->has_value()) req.set_top_k(static_cast<int32_t>(**top_k));
  auto ctx = MakeContext(*args);
  if (!ctx.ok()) return UsageError(ctx.status(), err);
  v1::ClassifyResponse resp;
  grpc::Status s = Connect(*args)->Classify(ctx->get(), req, &resp);
  if (!s.ok()) return RpcFailed(s, err);
  if (args->Has("json")) {
    PrintJson(resp, out);
    return kExitOk;
  }
  for (int i = 0; i < resp.results_size(); ++i) {
    std::vector<std::string> parts;
    for (const v1::LabelScore& l : resp.results(i).labels()) {
      parts.push_back(absl::StrCat(l.label(), "=", l.score()));
    }
    out << absl::StrJoin(parts, " ") << "\n";
  }
  return kExitOk;
}

int Embed(const std::vector<std::string>& words, std::istream& in, std::ostream& out,
          std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(
      words,
      WithCommon({{"model", 'm', true}, {"dimensions", 'd', true}, {"no-normalize", '\0', false}}));
  if (!args.ok()) return UsageError(args.status(), err);
  std::optional<std::string> model = RequireModel(*args, err);
  if (!model) return kExitUsage;
  v1::EmbedRequest req;
  req.set_model(*model);
  for (const std::string& t : InputTexts(*args, in)) req.add_inputs(t);
  if (args->Has("no-normalize")) req.set_normalize(false);
  absl::StatusOr<std::optional<int64_t>> dims = args->GetInt("dimensions");
  if (!dims.ok()) return UsageError(dims.status(), err);
  if (dims->has_value()) req.set_dimensions(static_cast<int32_t>(**dims));
  auto ctx = MakeContext(*args);
  if (!ctx.ok()) return UsageError(ctx.status(), err);
  v1::EmbedResponse resp;
  grpc::Status s = Connect(*args)->Embed(ctx->get(), req, &resp);
  if (!s.ok()) return RpcFailed(s, err);
  if (args->Has("json")) {
    PrintJson(resp, out);
    return kExitOk;
  }
  for (const v1::Embedding& e : resp.embeddings()) {
    out << "[" << absl::StrJoin(e.values(), ", ") << "]\n";
  }
  return kExitOk;
}

int Tokenize(const std::vector<std::string>& words, std::istream& in, std::ostream& out,
             std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(
      words, WithCommon({{"model", 'm', true}, {"special", '\0', false}, {"pieces", '\0', false}}));
  if (!args.ok()) return UsageError(args.status(), err);
  std::optional<std::string> model = RequireModel(*args, err);
  if (!model) return kExitUsage;
  v1::TokenizeRequest req;
  req.set_model(*model);
  req.set_text(absl::StrJoin(InputTexts(*args, in), " "));
  req.set_add_special_tokens(args->Has("special"));
  req.set_return_pieces(args->Has("pieces"));
  auto ctx = MakeContext(*args);
  if (!ctx.ok()) return UsageError(ctx.status(), err);
  v1::TokenizeResponse resp;
  grpc::Status s = Connect(*args)->Tokenize(ctx->get(), req, &resp);
  if (!s.ok()) return RpcFailed(s, err);
  if (args->Has("json")) {
    PrintJson(resp, out);
    return kExitOk;
  }
  out << absl::StrJoin(resp.token_ids(), " ") << "\n";
  return kExitOk;
}

int Detokenize(const std::vector<std::string>& words, std::ostream& out, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args =
      ParseArgs(words, WithCommon({{"model", 'm', true}, {"keep-special", '\0', false}}));
  if (!args.ok()) return UsageError(args.status(), err);
  std::optional<std::string> model = RequireModel(*args, err);
  if (!model) return kExitUsage;
  v1::DetokenizeRequest req;
  req.set_model(*model);
  for (const std::string& w : args->positional()) {
    int32_t id = 0;
    if (!absl::SimpleAtoi(w, &id)) {
      return UsageError(absl::InvalidArgumentError(absl::StrCat("not a token id: \"", w, "\"")),
                        err);
    }
    req.add_token_ids(id);
  }
  if (args->Has("keep-special")) req.set_skip_special_tokens(false);
  auto ctx = MakeContext(*args);
  if (!ctx.ok()) return UsageError(ctx.status(), err);
  v1::DetokenizeResponse resp;
  grpc::Status s = Connect(*args)->Detokenize(ctx->get(), req, &resp);
  if (!s.ok()) return RpcFailed(s, err);
  out << resp.text() << "\n";
  return kExitOk;
}

}  // namespace

bool IsGatewayCommand(const std::string& command) {
  return command == "models" || command == "generate" || command == "classify" ||
         command == "embed" || command == "tokenize" || command == "detokenize";
}

int RunGatewayCommand(const std::string& command, const std::vector<std::string>& args,
                      std::istream& in, std::ostream& out, std::ostream& err) {
  if (command == "models") return Models(args, out, err);
  if (command == "generate") return Generate(args, in, out, err);
  if (command == "classify") return Classify(args, in, out, err);
  if (command == "embed") return Embed(args, in, out, err);
  if (command == "tokenize") return Tokenize(args, in, out, err);
  if (command == "detokenize") return Detokenize(args, out, err);
  err << "jetserve: unknown command " << command << "\n";
  return kExitUsage;
}

std::string GatewayCommandsUsage() {
  return R"(Gateway commands (address: --gateway HOST:PORT, $JETSERVE_GATEWAY, or localhost:50051;
common options: --timeout SECONDS, --request-id ID, --json for raw responses as JSON lines):
  jetserve models
  jetserve generate -m NAME [--chat] [--system TEXT] [-t TEMP] [--top-k K] [--top-p P]
                    [--min-p P] [--typical-p P] [--repeat-penalty R] [--seed N]
                    [-n MAX_TOKENS] [--min-tokens N] [--stop STR]... [--ignore-eos] [--usage]
                    PROMPT... | -        (streams the text to stdout)
  jetserve classify -m NAME [--pair TEXT] [-l LABEL]... [--multi-label] [--top-k K] TEXT...
  jetserve embed -m NAME [-d DIMENSIONS] [--no-normalize] TEXT...
  jetserve tokenize -m NAME [--special] [--pieces] TEXT... | -
  jetserve detokenize -m NAME [--keep-special] ID...
)";
}

}  // namespace jetserve::cli
