// jetserve-tokenize: prints the token ids of stdin for a model (see tokenize_cli.h).
#include <cstdio>
#include <iostream>

#include "engine/tokenizer/tokenize_cli.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  jetserve::tokenizer::TokenizeCliOptions options;
  if (argc == 2 && (std::string_view(argv[1]) == "-h" || std::string_view(argv[1]) == "--help")) {
    std::fputs(jetserve::tokenizer::kTokenizeCliUsage, stdout);
    return 0;
  }
  absl::Status status = jetserve::tokenizer::ParseTokenizeCliArgs(argc - 1, argv + 1, &options);
  if (!status.ok()) {
    std::fprintf(stderr, "jetserve-tokenize: %s\n%s", std::string(status.message()).c_str(),
                 jetserve::tokenizer::kTokenizeCliUsage);
    return 2;
  }
  status = jetserve::tokenizer::RunTokenizeCli(options, std::cin, std::cout);
  if (!status.ok()) {
    std::fprintf(stderr, "jetserve-tokenize: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
