// libFuzzer target: the gateway configuration loader (protobuf JSON parse, validation,
// defaults) on arbitrary text.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "gateway/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  jetserve::gateway::ConfigOptions options{.executable_dir = "/nonexistent/jetserve-fuzz"};
  auto config = jetserve::gateway::ParseGatewayConfig(
      absl::string_view(reinterpret_cast<const char*>(data), size), options);
  if (!config.ok()) return 0;
  // A validated config validates again unchanged.
  auto copy = *config;
  if (!jetserve::gateway::ValidateGatewayConfig(options, &copy).ok()) __builtin_trap();
  return 0;
}
