// Streaming detokenization: turns generated token ids into text deltas as they arrive,
// never emitting half a UTF-8 character. Bytes of an incomplete character (byte-fallback
// tokens, byte-level pieces) are held until the character completes; bytes that can never
// form a valid character become U+FFFD. The concatenated deltas are the same whatever the
// token stream's split, and equal ToValidUtf8(tokenizer.Decode(all ids)).
//
//   StreamingDetokenizer stream(*tokenizer, {});
//   for (TokenId id : generated) send(stream.Push(id));
//   send(stream.Finish());
#ifndef JETSERVE_ENGINE_TOKENIZER_DETOKENIZER_H_
#define JETSERVE_ENGINE_TOKENIZER_DETOKENIZER_H_

#include <string>
#include <string_view>

#include "engine/tokenizer/tokenizer.h"

namespace jetserve::tokenizer {

// Replaces each maximal ill-formed subpart of `bytes` with U+FFFD (valid input unchanged).
std::string ToValidUtf8(std::string_view bytes);

class StreamingDetokenizer {
 public:
  // `tokenizer` must outlive this object.
  StreamingDetokenizer(const Tokenizer& tokenizer, const DecodeOptions& options);

  // Adds one token; returns the text that is now complete (may be empty).
  std::string Push(TokenId id);
  // Adds raw bytes (e.g. a piece computed elsewhere); returns the complete text.
  std::string PushBytes(std::string_view bytes);
  // Flushes held bytes (an unfinished character becomes U+FFFD) and resets.
  std::string Finish();

 private:
  std::string FlushByteRun();

  const Tokenizer& tokenizer_;
  DecodeOptions options_;
  bool first_ = true;     // nothing rendered yet
  std::string byte_run_;  // HF byte fallback: bytes of the current run of byte tokens
  size_t byte_run_count_ = 0;
  std::string pending_;  // bytes of a character not yet complete (at most 3)
};

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_DETOKENIZER_H_
