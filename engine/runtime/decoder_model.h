// A GGUF decoder model ready to generate: the decoder and its tokenizer opened from one
// file, plus the served context length and prompt encoding of the Generate API. The
// `jetserve run` CLI uses it so that it builds the same Generator and encodes prompts the
// same way as the worker's DecoderBackend (worker/decoder_backend.cc, which can switch to
// these helpers): a Generate call and `jetserve run` with the same settings return the
// same tokens (tests/service/cli_e2e_test.cc checks it).
//
//   ASSIGN_OR_RETURN(DecoderModel m, OpenDecoderModel("model.gguf"));
//   Generator gen(*m.decoder, *m.tokenizer, &pool, {.n_ctx = ServedContext(*m.decoder, 0)});
//   std::vector<int32_t> ids = EncodePrompt(*m.tokenizer, "Hello", /*add_special=*/true);
#ifndef JETSERVE_ENGINE_RUNTIME_DECODER_MODEL_H_
#define JETSERVE_ENGINE_RUNTIME_DECODER_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/chat/chat_template.h"
#include "engine/model/decoder.h"
#include "engine/tokenizer/tokenizer.h"

namespace jetserve::runtime {

// Context served per sequence when none is asked for (capped by the model's own).
inline constexpr int64_t kDefaultServedContext = 4096;

struct DecoderModel {
  std::unique_ptr<model::Decoder> decoder;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
};

// Opens the decoder (mmap) and the tokenizer of a GGUF file; the loaders' errors as is.
absl::StatusOr<DecoderModel> OpenDecoderModel(const std::string& path);

// The context length to serve: `requested` (0: kDefaultServedContext), capped by the
// model's training context when the file states one.
int64_t ServedContext(const model::Decoder& decoder, int64_t requested);

// Prompt tokens as the Generate API encodes them: with add_special, BOS/EOS as the
// vocabulary says and control-token text parsed as control tokens.
std::vector<int32_t> EncodePrompt(const tokenizer::Tokenizer& tokenizer, const std::string& prompt,
                                  bool add_special);

// The model's chat template (GGUF tokenizer.chat_template) with the vocabulary's BOS/EOS
// texts, checked at load by chat::LoadChatTemplate: when the file has none or it cannot be
// rendered, the ChatML fallback, and *problem says why (callers log it).
chat::ChatTemplate LoadModelChatTemplate(const model::Decoder& decoder,
                                         const tokenizer::Tokenizer& tokenizer,
                                         std::string* problem);

// Prompt tokens of a chat: rendered with the template, then encoded like Hugging Face's
// apply_chat_template(tokenize=True): control-token text parsed, no BOS/EOS added (the
// template writes its own). InvalidArgument for bad chats and template errors.
absl::StatusOr<std::vector<int32_t>> EncodeChat(const chat::ChatTemplate& chat_template,
                                                const tokenizer::Tokenizer& tokenizer,
                                                const chat::ChatInput& chat);

}  // namespace jetserve::runtime

#endif  // JETSERVE_ENGINE_RUNTIME_DECODER_MODEL_H_
