// libFuzzer target: what the gateway does with the bytes of a public request before routing
// it. The first byte picks the method (Generate, Embed, Classify, Rerank, Tokenize,
// Detokenize), the rest is the request's wire format. It is decoded as the gRPC services
// decode it (DecodeRequest, rpc/checked_request.h: a request that does not parse gets
// an INVALID_ARGUMENT naming the field) and, when it parses, checked against the request
// limits (gateway/request_limits.h) twice: with the defaults of a config that sets none,
// and with tight limits, so that short inputs cross each of them (bytes, stop sequences,
// max_tokens, texts per call, candidate labels, logprobs top-n, choices).
// Properties: every refusal is INVALID_ARGUMENT "<field>: <reason>", and what the tight
// limits accept the defaults accept too.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "gateway/config.h"
#include "gateway/request_limits.h"
#include "rpc/checked_request.h"

namespace {

namespace v1 = ::jetserve::v1;
using ::jetserve::gateway::Limits;
using ::jetserve::rpc::CheckedRequest;

struct LimitSets {
  Limits defaults;
  Limits tight;
};

const LimitSets& GetLimits() {
  static const LimitSets* sets = [] {
    auto config = jetserve::gateway::ParseGatewayConfig(
        R"({"models": [{"name": "m", "path": "/m", "remote": {"addresses": ["127.0.0.1:1"]}}]})",
        {.executable_dir = "/nonexistent/jetserve-fuzz"});
    if (!config.ok()) __builtin_trap();
    auto* s = new LimitSets{config->limits(), config->limits()};
    Limits& t = s->tight;
    t.set_max_prompt_bytes(16);
    t.set_max_inputs(2);
    t.set_max_documents(2);
    t.set_max_candidate_labels(2);
    t.set_max_stop_sequences(2);
    t.set_max_stop_bytes(4);
    t.set_max_top_logprobs(1);
    t.set_max_choices(2);
    t.set_max_tokens(8);
    return s;
  }();
  return *sets;
}

bool WellFormedRefusal(const absl::Status& status) {
  return status.ok() || (status.code() == absl::StatusCode::kInvalidArgument &&
                         status.message().find(": ") != absl::string_view::npos);
}

template <typename Request>
void Run(absl::string_view bytes, absl::Status (*check)(const Request&, const Limits&)) {
  CheckedRequest<Request> request;
  jetserve::rpc::DecodeRequest(bytes, &request);
  if (!WellFormedRefusal(request.status)) __builtin_trap();
  if (!request.status.ok()) {
    if (request.message.ByteSizeLong() != 0) __builtin_trap();  // cleared
    return;
  }
  const LimitSets& limits = GetLimits();
  const absl::Status loose = check(request.message, limits.defaults);
  const absl::Status tight = check(request.message, limits.tight);
  if (!WellFormedRefusal(loose) || !WellFormedRefusal(tight)) __builtin_trap();
  if (tight.ok() && !loose.ok()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0:
      Run<v1::GenerateRequest>(bytes, jetserve::gateway::CheckGenerateRequest);
      break;
    case 1:
      Run<v1::EmbedRequest>(bytes, jetserve::gateway::CheckEmbedRequest);
      break;
    case 2:
      Run<v1::ClassifyRequest>(bytes, jetserve::gateway::CheckClassifyRequest);
      break;
    case 3:
      Run<v1::RerankRequest>(bytes, jetserve::gateway::CheckRerankRequest);
      break;
    case 4:
      Run<v1::TokenizeRequest>(bytes, jetserve::gateway::CheckTokenizeRequest);
      break;
    default:
      Run<v1::DetokenizeRequest>(bytes, jetserve::gateway::CheckDetokenizeRequest);
      break;
  }
  return 0;
}
