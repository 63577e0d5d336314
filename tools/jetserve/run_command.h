// `jetserve run`: generates from a local GGUF decoder model, without a gateway, and prints
// only the generated continuation to stdout as it streams (like llama.cpp's ./main, so
// output pipes cleanly). Options mirror generate.proto and take its documented defaults,
// so `jetserve run` and a Generate call with the same fields and seed give the same tokens.
//
//   jetserve run -m model.gguf -p "Once upon a time" -n 32 --temp 0
//   echo "Hello" | jetserve run -m model.gguf -p - --seed 7 --verbose
#ifndef JETSERVE_TOOLS_JETSERVE_RUN_COMMAND_H_
#define JETSERVE_TOOLS_JETSERVE_RUN_COMMAND_H_

#include <iosfwd>
#include <string>
#include <vector>

namespace jetserve::cli {

// Runs `jetserve run` with the words after "run". Returns 0 ok, 1 failed, 2 bad usage.
int RunRunCommand(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                  std::ostream& err);

std::string RunCommandUsage();

}  // namespace jetserve::cli

#endif  // JETSERVE_TOOLS_JETSERVE_RUN_COMMAND_H_
