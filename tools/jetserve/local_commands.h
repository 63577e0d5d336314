// The `jetserve` subcommands that run the engine locally, without a gateway:
//   tokenize -m FILE_OR_DIR [--special]   token ids of stdin (tokenizer from a GGUF file,
//                                          a tokenizer.json or a folder holding one)
//   quantize IN.gguf OUT.gguf TYPE [--threads N]
//   gen-model OUT.gguf [--arch A] [--layers N] ... (a seeded random model of a real shape)
//   inspect FILE.gguf                      metadata and tensor table
// Each returns a process exit code (0 ok, 1 failed, 2 bad usage).
#ifndef JETSERVE_TOOLS_JETSERVE_LOCAL_COMMANDS_H_
#define JETSERVE_TOOLS_JETSERVE_LOCAL_COMMANDS_H_

#include <iosfwd>
#include <string>
#include <vector>

namespace jetserve::cli {

// Whether the words after `command` ask for a local run: quantize, gen-model and inspect
// always; tokenize when its -m/--model names an existing file or folder.
bool IsLocalCommand(const std::string& command, const std::vector<std::string>& args);

int RunLocalCommand(const std::string& command, const std::vector<std::string>& args,
                    std::istream& in, std::ostream& out, std::ostream& err);

std::string LocalCommandsUsage();

}  // namespace jetserve::cli

#endif  // JETSERVE_TOOLS_JETSERVE_LOCAL_COMMANDS_H_
