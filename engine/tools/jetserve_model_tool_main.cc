// jetserve-model-tool: the model commands as a standalone binary (the `jetserve` CLI offers
// the same through engine/tools/model_tools.h).
//
//   jetserve-model-tool quantize IN.gguf OUT.gguf TYPE [--threads=N]   (TYPE: Q4_K_M, Q6_K, ...)
//   jetserve-model-tool gen-model OUT.gguf [--arch=llama] [--layers=N] [--embd=N] [--ff=N]
//       [--heads=N] [--heads-kv=N] [--ctx=N] [--vocab=N] [--vocab-from=VOCAB.gguf]
//       [--type=F32|Q4_K_M|...] [--seed=N] [--tie-embeddings] [--threads=N]
//   jetserve-model-tool dump FILE.gguf
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "engine/tools/model_tools.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: jetserve-model-tool quantize IN.gguf OUT.gguf TYPE [--threads=N]\n"
               "       jetserve-model-tool gen-model OUT.gguf [--arch=llama] [--layers=N]\n"
               "           [--embd=N] [--ff=N] [--heads=N] [--heads-kv=N] [--ctx=N]\n"
               "           [--vocab=N] [--vocab-from=FILE.gguf] [--type=TYPE] [--seed=N]\n"
               "           [--tie-embeddings] [--threads=N]\n"
               "       jetserve-model-tool dump FILE.gguf\n");
  return 2;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "jetserve-model-tool: %s\n", s.ToString().c_str());
  return 1;
}

bool ParseInt(std::string_view arg, std::string_view flag, int* out, bool* bad) {
  if (arg.substr(0, flag.size()) != flag) return false;
  if (!absl::SimpleAtoi(std::string(arg.substr(flag.size())), out)) *bad = true;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string_view cmd = argv[1];
  if (cmd == "quantize") {
    if (argc != 5 && argc != 6) return Usage();
    jetserve::tools::QuantizeOptions o;
    bool bad = false;
    if (argc == 6 && !ParseInt(argv[5], "--threads=", &o.threads, &bad)) bad = true;
    if (bad) return Usage();
    o.input = argv[2];
    o.output = argv[3];
    o.type = argv[4];
    absl::Status s = jetserve::tools::QuantizeModel(o);
    return s.ok() ? 0 : Fail(s);
  }
  if (cmd == "dump") {
    if (argc != 3) return Usage();
    absl::Status s = jetserve::tools::DumpModel(argv[2], std::cout);
    return s.ok() ? 0 : Fail(s);
  }
  if (cmd == "gen-model") {
    if (argc < 3) return Usage();
    jetserve::tools::GenModelOptions o;
    o.output = argv[2];
    for (int i = 3; i < argc; ++i) {
      const std::string_view a = argv[i];
      bool bad = false;
      int seed = 0;
      if (ParseInt(a, "--layers=", &o.n_layer, &bad) || ParseInt(a, "--embd=", &o.n_embd, &bad) ||
          ParseInt(a, "--ff=", &o.n_ff, &bad) || ParseInt(a, "--heads=", &o.n_head, &bad) ||
          ParseInt(a, "--heads-kv=", &o.n_head_kv, &bad) || ParseInt(a, "--ctx=", &o.n_ctx, &bad) ||
          ParseInt(a, "--vocab=", &o.n_vocab, &bad) ||
          ParseInt(a, "--threads=", &o.threads, &bad)) {
      } else if (ParseInt(a, "--seed=", &seed, &bad)) {
        o.seed = static_cast<uint64_t>(seed);
      } else if (a.substr(0, 7) == "--arch=") {
        o.arch = std::string(a.substr(7));
      } else if (a.substr(0, 7) == "--type=") {
        o.type = std::string(a.substr(7));
      } else if (a.substr(0, 13) == "--vocab-from=") {
        o.vocab_from = std::string(a.substr(13));
      } else if (a == "--tie-embeddings") {
        o.tie_embeddings = true;
      } else {
        bad = true;
      }
      if (bad) {
        std::fprintf(stderr, "jetserve-model-tool: bad argument '%s'\n", argv[i]);
        return Usage();
      }
    }
    absl::Status s = jetserve::tools::GenerateModel(o);
    return s.ok() ? 0 : Fail(s);
  }
  return Usage();
}
