// UTF-8 and Unicode helpers for the tokenizers: lenient UTF-8 decoding with llama.cpp's
// rules, code point classes and case/normalization through utf8proc (no hand-made tables),
// the GPT-2 byte-to-unicode mapping, and incremental UTF-8 validation for streaming.
#ifndef JETSERVE_ENGINE_TOKENIZER_UNICODE_H_
#define JETSERVE_ENGINE_TOKENIZER_UNICODE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jetserve::tokenizer {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Length of the UTF-8 sequence a lead byte announces, as llama.cpp's symbol splitter
// counts it: by the high nibble (continuation bytes 1, 0xF0..0xFF 4).
size_t Utf8LenFromLeadByte(uint8_t lead);

// Decodes one code point at *offset the way llama.cpp does (structural check only);
// returns false and advances by one byte on an invalid sequence.
bool DecodeOneLenient(std::string_view text, size_t* offset, uint32_t* cp);

// Decodes `text`; each invalid byte becomes U+FFFD (llama.cpp's unicode_cpts_from_utf8).
std::vector<uint32_t> DecodeUtf8Lenient(std::string_view text);

// Re-encodes `text` so it is valid UTF-8: invalid bytes, surrogates and code points past
// U+10FFFF become U+FFFD.
std::string SanitizeUtf8(std::string_view text);

void AppendUtf8(uint32_t cp, std::string* out);

enum class Utf8Seq { kValid, kIncomplete, kInvalid };
// Classifies the (non-empty) byte sequence starting at text[0] by the strict rules (no
// overlongs, surrogates or code points past U+10FFFF). *len: the sequence's length when
// valid; the bytes seen when it may still be completed by more bytes; the maximal subpart
// of the ill-formed sequence (>= 1, Unicode's "substitution of maximal subparts") when invalid.
Utf8Seq ClassifyUtf8(std::string_view text, size_t* len);

bool IsValidUtf8(std::string_view text);

// Code point classes (general categories from utf8proc).
bool IsLetter(uint32_t cp);
bool IsNumber(uint32_t cp);
bool IsPunctuation(uint32_t cp);
bool IsSymbol(uint32_t cp);
bool IsMark(uint32_t cp);
bool IsNonspacingMark(uint32_t cp);
bool IsControl(uint32_t cp);  // Cc and Cf
// Cc, Cf, Co: what HF BertNormalizer removes as "control" (\t \n \r excluded by the
// caller). Unassigned code points (Cn) stay: HF's tables keep them too.
bool IsOtherNonSurrogate(uint32_t cp);
// White_Space: Zs, Zl, Zp, and \t \n \v \f \r U+0085.
bool IsWhitespace(uint32_t cp);
// The CJK blocks BERT pads with spaces (BasicTokenizer._is_chinese_char).
bool IsBertChineseChar(uint32_t cp);
// BERT's punctuation: Unicode P* plus the ASCII symbol ranges.
bool IsBertPunctuation(uint32_t cp);

uint32_t ToLowerSimple(uint32_t cp);
// Canonical decomposition of one code point (NFD), appended to *out.
void AppendNfd(uint32_t cp, std::vector<uint32_t>* out);
// Unicode normalization of valid UTF-8 text; form is "NFC", "NFD", "NFKC" or "NFKD".
std::string NormalizeUtf8(std::string_view text, std::string_view form);

// GPT-2 byte-level mapping: each byte to a printable code point, and back (-1: none).
uint32_t ByteToUnicode(uint8_t byte);
int UnicodeToByte(uint32_t cp);
// Appends the byte-level (GPT-2) encoding of `bytes`.
void AppendByteLevel(std::string_view bytes, std::string* out);

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_UNICODE_H_
