// Small text helpers shared by the tokenizer's encoder and decoder: SentencePiece's "▁"
// space, <0xXX> byte-token names, and plain substring replacement.
#ifndef JETSERVE_ENGINE_TOKENIZER_TEXT_UTIL_H_
#define JETSERVE_ENGINE_TOKENIZER_TEXT_UTIL_H_

#include <string>
#include <string_view>

namespace jetserve::tokenizer {

inline constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // "▁"

// Appends `text` with every "▁" turned into a space.
void AppendUnescapedSpaces(std::string_view text, std::string* out);

// "<0xAB>" -> 0xAB; -1 if the text is not a byte token name.
int ParseByteToken(std::string_view text);

// Replaces every occurrence of `from` (non-empty) in *text with `to`.
void ReplaceAll(std::string_view from, std::string_view to, std::string* text);

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_TEXT_UTIL_H_
