// The "tokenize" command: `jetserve-tokenize -m MODEL [--special]` (and the main jetserve
// CLI's `tokenize`). Reads all of the input as one text — no escapes processed, nothing
// stripped — and prints the token ids separated by spaces on one line. Without --special,
// no BOS/EOS is added and control-token text is plain text (HF encode(text,
// add_special_tokens=False) with special tokens not split out); with it, both are on.
// MODEL is a GGUF file, a tokenizer.json, or a folder holding tokenizer.json.
#ifndef JETSERVE_ENGINE_TOKENIZER_TOKENIZE_CLI_H_
#define JETSERVE_ENGINE_TOKENIZER_TOKENIZE_CLI_H_

#include <istream>
#include <ostream>
#include <string>

#include "absl/status/status.h"

namespace jetserve::tokenizer {

struct TokenizeCliOptions {
  std::string model;     // -m
  bool special = false;  // --special
};

absl::Status RunTokenizeCli(const TokenizeCliOptions& options, std::istream& in, std::ostream& out);

// Parses argv (after the program/command name) into options; InvalidArgument with a
// usage message on a bad command line.
absl::Status ParseTokenizeCliArgs(int argc, const char* const* argv, TokenizeCliOptions* options);

inline constexpr char kTokenizeCliUsage[] =
    "usage: jetserve-tokenize -m MODEL [--special] < text\n"
    "  MODEL: a GGUF file, a tokenizer.json, or a folder with tokenizer.json\n"
    "  --special: add BOS/EOS and parse special-token text\n";

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_TOKENIZE_CLI_H_
