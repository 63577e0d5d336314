#include "worker/backend.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jetserve::worker {

std::string Device::ToString() const {
  return kind == Kind::kCpu ? std::string("cpu") : absl::StrCat("cuda:", index);
}

absl::StatusOr<Device> ParseDevice(absl::string_view text) {
  if (text == "cpu") return Device{};
  if (absl::StartsWith(text, "cuda:")) {
    absl::string_view ordinal = text.substr(5);
    int index = -1;
    if (!ordinal.empty() && ordinal.find_first_not_of("0123456789") == absl::string_view::npos &&
        absl::SimpleAtoi(ordinal, &index) && index >= 0 && index < 1024) {
      return Device{Device::Kind::kCuda, index};
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "device \"", text, "\": the CUDA device ordinal must be an integer in [0, 1024)"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("device \"", text, "\" is not \"cpu\" or \"cuda:N\""));
}

void Backend::Generate(GenerateStream* stream) { stream->Finish(Unsupported("Generate")); }

absl::StatusOr<jetserve::v1::ClassifyResponse> Backend::Classify(
    const CallContext&, const jetserve::worker::v1::ClassifyRequest&) {
  return Unsupported("Classify");
}
absl::StatusOr<jetserve::v1::RerankResponse> Backend::Rerank(
    const CallContext&, const jetserve::worker::v1::RerankRequest&) {
  return Unsupported("Rerank");
}
absl::StatusOr<jetserve::v1::EmbedResponse> Backend::Embed(
    const CallContext&, const jetserve::worker::v1::EmbedRequest&) {
  return Unsupported("Embed");
}
absl::StatusOr<jetserve::v1::TokenizeResponse> Backend::Tokenize(
    const CallContext&, const jetserve::worker::v1::TokenizeRequest&) {
  return Unsupported("Tokenize");
}
absl::StatusOr<jetserve::v1::DetokenizeResponse> Backend::Detokenize(
    const CallContext&, const jetserve::worker::v1::DetokenizeRequest&) {
  return Unsupported("Detokenize");
}

absl::Status Backend::Unsupported(absl::string_view method) const {
  return absl::UnimplementedError(
      absl::StrCat("model \"", Info().name(), "\" does not support ", method));
}

}  // namespace jetserve::worker
