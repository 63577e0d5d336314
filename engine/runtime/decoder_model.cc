#include "engine/runtime/decoder_model.h"

#include <algorithm>
#include <utility>

#include "engine/tokenizer/load_tokenizer.h"

namespace jetserve::runtime {

absl::StatusOr<DecoderModel> OpenDecoderModel(const std::string& path) {
  absl::StatusOr<std::unique_ptr<model::Decoder>> decoder = model::Decoder::Open(path);
  if (!decoder.ok()) return decoder.status();
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tok = tokenizer::LoadTokenizer(path);
  if (!tok.ok()) return tok.status();
  return DecoderModel{std::move(*decoder), std::move(*tok)};
}

int64_t ServedContext(const model::Decoder& decoder, int64_t requested) {
  const int64_t want = requested > 0 ? requested : kDefaultServedContext;
  const int64_t train = decoder.config().n_ctx_train;
  return train > 0 ? std::min(want, train) : want;
}

std::vector<int32_t> EncodePrompt(const tokenizer::Tokenizer& tokenizer, const std::string& prompt,
                                  bool add_special) {
  return tokenizer.Encode(prompt, {.add_special = add_special, .parse_special = add_special});
}

}  // namespace jetserve::runtime
