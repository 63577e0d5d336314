// The `jetserve` subcommands that call a gateway over the public gRPC API:
// models, generate, classify, embed, tokenize, detokenize. Each returns a process exit code
// (0 ok, 1 the call failed, 2 bad usage) and writes results to `out`, errors to `err`.
#ifndef JETSERVE_TOOLS_JETSERVE_GATEWAY_COMMANDS_H_
#define JETSERVE_TOOLS_JETSERVE_GATEWAY_COMMANDS_H_

#include <iosfwd>
#include <string>
#include <vector>

namespace jetserve::cli {

// Whether `command` is one of the gateway subcommands.
bool IsGatewayCommand(const std::string& command);

// Runs a gateway subcommand with the words after it.
int RunGatewayCommand(const std::string& command, const std::vector<std::string>& args,
                      std::istream& in, std::ostream& out, std::ostream& err);

// Usage text of the gateway subcommands.
std::string GatewayCommandsUsage();

}  // namespace jetserve::cli

#endif  // JETSERVE_TOOLS_JETSERVE_GATEWAY_COMMANDS_H_
