#include "tools/jetserve/local_commands.h"

#include <sys/stat.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/tokenize_cli.h"
#include "engine/tools/model_tools.h"
#include "tools/jetserve/cli_args.h"

namespace jetserve::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

int Report(const absl::Status& s, std::ostream& err) {
  if (s.ok()) return kExitOk;
  err << "jetserve: " << s.message() << "\n";
  return s.code() == absl::StatusCode::kInvalidArgument ? kExitUsage : kExitFailed;
}

int Tokenize(const std::vector<std::string>& words, std::istream& in, std::ostream& out,
             std::ostream& err) {
  absl::StatusOr<ParsedArgs> args =
      ParseArgs(words, {{"model", 'm', true}, {"special", '\0', false}});
  if (!args.ok()) return Report(args.status(), err);
  if (!args->positional().empty()) {
    err << "jetserve: tokenize with a local model reads its text from stdin\n";
    return kExitUsage;
  }
  tokenizer::TokenizeCliOptions options;
  options.model = args->GetOr("model", "");
  options.special = args->Has("special");
  absl::Status s = tokenizer::RunTokenizeCli(options, in, out);
  if (!s.ok()) {
    err << "jetserve: " << s.message() << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

// Reads an integer option into `*field` when present.
bool IntOption(const ParsedArgs& args, const char* name, int* field, std::ostream& err) {
  absl::StatusOr<std::optional<int64_t>> v = args.GetInt(name);
  if (!v.ok()) {
    err << "jetserve: " << v.status().message() << "\n";
    return false;
  }
  if (v->has_value()) *field = static_cast<int>(**v);
  return true;
}

int Quantize(const std::vector<std::string>& words, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(words, {{"threads", 'j', true}});
  if (!args.ok()) return Report(args.status(), err);
  if (args->positional().size() != 3) {
    err << "usage: jetserve quantize IN.gguf OUT.gguf TYPE [--threads N]\n";
    return kExitUsage;
  }
  tools::QuantizeOptions o;
  o.input = args->positional()[0];
  o.output = args->positional()[1];
  o.type = args->positional()[2];
  if (!IntOption(*args, "threads", &o.threads, err)) return kExitUsage;
  return Report(tools::QuantizeModel(o), err);
}

int GenModel(const std::vector<std::string>& words, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(words, {{"arch", '\0', true},
                                                      {"layers", '\0', true},
                                                      {"embd", '\0', true},
                                                      {"ff", '\0', true},
                                                      {"heads", '\0', true},
                                                      {"heads-kv", '\0', true},
                                                      {"ctx", '\0', true},
                                                      {"vocab", '\0', true},
                                                      {"vocab-from", '\0', true},
                                                      {"type", '\0', true},
                                                      {"seed", '\0', true},
                                                      {"threads", 'j', true},
                                                      {"tie-embeddings", '\0', false}});
  if (!args.ok()) return Report(args.status(), err);
  if (args->positional().size() != 1) {
    err << "usage: jetserve gen-model OUT.gguf [options] (see jetserve --help)\n";
    return kExitUsage;
  }
  tools::GenModelOptions o;
  o.output = args->positional()[0];
  o.arch = args->GetOr("arch", o.arch);
  o.vocab_from = args->GetOr("vocab-from", "");
  o.type = args->GetOr("type", o.type);
  o.tie_embeddings = args->Has("tie-embeddings");
  for (auto [name, field] : {std::pair{"layers", &o.n_layer},
                             {"embd", &o.n_embd},
                             {"ff", &o.n_ff},
                             {"heads", &o.n_head},
                             {"heads-kv", &o.n_head_kv},
                             {"ctx", &o.n_ctx},
                             {"vocab", &o.n_vocab},
                             {"threads", &o.threads}}) {
    if (!IntOption(*args, name, field, err)) return kExitUsage;
  }
  absl::StatusOr<std::optional<int64_t>> seed = args->GetInt("seed");
  if (!seed.ok()) return Report(seed.status(), err);
  if (seed->has_value()) o.seed = static_cast<uint64_t>(**seed);
  return Report(tools::GenerateModel(o), err);
}

int Inspect(const std::vector<std::string>& words, std::ostream& out, std::ostream& err) {
  if (words.size() != 1) {
    err << "usage: jetserve inspect FILE.gguf\n";
    return kExitUsage;
  }
  absl::Status s = tools::DumpModel(words[0], out);
  if (!s.ok()) {
    err << "jetserve: " << s.message() << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace

bool IsLocalCommand(const std::string& command, const std::vector<std::string>& args) {
  if (command == "quantize" || command == "gen-model" || command == "inspect") return true;
  if (command != "tokenize") return false;
  absl::StatusOr<ParsedArgs> parsed =
      ParseArgs(args, {{"model", 'm', true}, {"special", '\0', false}});
  if (!parsed.ok()) return false;  // gateway options: the gateway command reports errors
  std::optional<std::string> model = parsed->Get("model");
  return model.has_value() && PathExists(*model);
}

int RunLocalCommand(const std::string& command, const std::vector<std::string>& args,
                    std::istream& in, std::ostream& out, std::ostream& err) {
  if (command == "tokenize") return Tokenize(args, in, out, err);
  if (command == "quantize") return Quantize(args, err);
  if (command == "gen-model") return GenModel(args, err);
  if (command == "inspect") return Inspect(args, out, err);
  err << "jetserve: unknown command " << command << "\n";
  return kExitUsage;
}

std::string LocalCommandsUsage() {
  return R"(Local commands (no gateway):
  jetserve tokenize -m FILE_OR_DIR [--special] < TEXT
                    token ids of all of stdin, space-separated on one line; MODEL is a GGUF
                    file, a tokenizer.json or a folder with one. Without --special no BOS/EOS
                    is added and special-token text is plain text.
  jetserve quantize IN.gguf OUT.gguf TYPE [--threads N]
                    TYPE: a tensor type (Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K, F16, ...) or a
                    llama.cpp mix (Q4_K_M, Q6_K)
  jetserve gen-model OUT.gguf [--arch llama] [--layers N] [--embd N] [--ff N] [--heads N]
                    [--heads-kv N] [--ctx N] [--vocab N | --vocab-from FILE.gguf]
                    [--type TYPE] [--seed N] [--tie-embeddings] [--threads N]
                    a model of that shape with seeded random weights
  jetserve inspect FILE.gguf
                    metadata and tensors of a GGUF file
)";
}

}  // namespace jetserve::cli
