#include "worker/backend.h"

#include "absl/strings/str_cat.h"

namespace jetserve::worker {

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
