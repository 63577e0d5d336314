// `jetserve`: command-line client of a jetserve gateway, and local engine commands.
//
//   jetserve models
//   jetserve generate -m smollm2 "Explain transformers in 3 sentences."
//   jetserve tokenize -m model.gguf < text.txt
//   jetserve run -m model.gguf -p "Once upon a time" -n 32 --temp 0
//   jetserve pull hf://ORG/REPO/model.gguf
//   jetserve quantize model-f16.gguf model-q4km.gguf Q4_K_M
//   jetserve --help
#include <iostream>
#include <string>
#include <vector>

#include "tools/jetserve/bench_command.h"
#include "tools/jetserve/gateway_commands.h"
#include "tools/jetserve/local_commands.h"
#include "tools/jetserve/pull_command.h"
#include "tools/jetserve/run_command.h"

namespace {

void PrintUsage(std::ostream& out) {
  out << "usage: jetserve COMMAND [OPTIONS] [ARGS]\n\n"
      << jetserve::cli::GatewayCommandsUsage() << "\n"
      << jetserve::cli::LocalCommandsUsage() << jetserve::cli::RunCommandUsage()
      << jetserve::cli::BenchCommandUsage() << jetserve::cli::PullCommandUsage();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  if (words.empty() || words[0] == "--help" || words[0] == "-h" || words[0] == "help") {
    PrintUsage(words.empty() ? std::cerr : std::cout);
    return words.empty() ? 2 : 0;
  }
  const std::string command = words[0];
  words.erase(words.begin());
  if (command == "run") {
    return jetserve::cli::RunRunCommand(words, std::cin, std::cout, std::cerr);
  }
  if (command == "bench") return jetserve::cli::RunBenchCommand(words, std::cout, std::cerr);
  if (command == "pull") return jetserve::cli::RunPullCommand(words, std::cout, std::cerr);
  if (jetserve::cli::IsLocalCommand(command, words)) {
    return jetserve::cli::RunLocalCommand(command, words, std::cin, std::cout, std::cerr);
  }
  if (jetserve::cli::IsGatewayCommand(command)) {
    return jetserve::cli::RunGatewayCommand(command, words, std::cin, std::cout, std::cerr);
  }
  std::cerr << "jetserve: unknown command \"" << command << "\"\n\n";
  PrintUsage(std::cerr);
  return 2;
}
