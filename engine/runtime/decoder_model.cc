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

chat::ChatTemplate LoadModelChatTemplate(const model::Decoder& decoder,
                                         const tokenizer::Tokenizer& tokenizer,
                                         std::string* problem) {
  std::string source;
  if (decoder.file().Has("tokenizer.chat_template")) {
    absl::StatusOr<std::string_view> s = decoder.file().GetString("tokenizer.chat_template");
    if (s.ok()) source = std::string(*s);
  }
  const tokenizer::Vocab& v = tokenizer.vocab();
  const std::string bos = v.special.bos >= 0 ? tokenizer.TokenToPiece(v.special.bos, true) : "";
  const std::string eos = v.special.eos >= 0 ? tokenizer.TokenToPiece(v.special.eos, true) : "";
  return chat::LoadChatTemplate(source, bos, eos, problem);
}

absl::StatusOr<std::vector<int32_t>> EncodeChat(const chat::ChatTemplate& chat_template,
                                                const tokenizer::Tokenizer& tokenizer,
                                                const chat::ChatInput& chat) {
  absl::StatusOr<std::string> text = chat_template.Apply(chat);
  if (!text.ok()) return text.status();
  return tokenizer.Encode(*text, {.add_special = false, .parse_special = true});
}

}  // namespace jetserve::runtime
