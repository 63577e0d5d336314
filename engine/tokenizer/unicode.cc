#include "engine/tokenizer/unicode.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

namespace jetserve::tokenizer {

size_t Utf8LenFromLeadByte(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF0) == 0xF0) return 4;  // also 0xF8..0xFF, as llama.cpp's table says
  return 1;                             // continuation byte
}

bool DecodeOneLenient(std::string_view text, size_t* offset, uint32_t* cp) {
  const size_t i = *offset;
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[i + k]); };
  const auto is_cont = [&](size_t k) { return i + k < text.size() && (byte(k) & 0xC0) == 0x80; };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) {
    *cp = b0;
    *offset += 1;
    return true;
  }
  if ((b0 & 0x40) == 0) {
    *offset += 1;
    return false;
  }
  if ((b0 & 0x20) == 0) {
    if (!is_cont(1)) {
      *offset += 1;
      return false;
    }
    *cp = ((b0 & 0x1Fu) << 6) | (byte(1) & 0x3Fu);
    *offset += 2;
    return true;
  }
  if ((b0 & 0x10) == 0) {
    if (!is_cont(1) || !is_cont(2)) {
      *offset += 1;
      return false;
    }
    *cp = ((b0 & 0x0Fu) << 12) | ((byte(1) & 0x3Fu) << 6) | (byte(2) & 0x3Fu);
    *offset += 3;
    return true;
  }
  if ((b0 & 0x08) == 0) {
    if (!is_cont(1) || !is_cont(2) || !is_cont(3)) {
      *offset += 1;
      return false;
    }
    *cp = ((b0 & 0x07u) << 18) | ((byte(1) & 0x3Fu) << 12) | ((byte(2) & 0x3Fu) << 6) |
          (byte(3) & 0x3Fu);
    *offset += 4;
    return true;
  }
  *offset += 1;
  return false;
}

std::vector<uint32_t> DecodeUtf8Lenient(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  size_t offset = 0;
  while (offset < text.size()) {
    uint32_t cp = 0;
    out.push_back(DecodeOneLenient(text, &offset, &cp) ? cp : kReplacementChar);
  }
  return out;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | ((cp >> 18) & 0x07)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t offset = 0;
  while (offset < text.size()) {
    uint32_t cp = 0;
    if (!DecodeOneLenient(text, &offset, &cp) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      cp = kReplacementChar;
    }
    AppendUtf8(cp, &out);
  }
  return out;
}

Utf8Seq ClassifyUtf8(std::string_view text, size_t* len) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = b(0);
  if (b0 < 0x80) {
    *len = 1;
    return Utf8Seq::kValid;
  }
  size_t need = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    *len = 1;
    return Utf8Seq::kInvalid;
  }
  for (size_t k = 1; k < need; ++k) {
    if (k >= text.size()) {
      *len = k;
      return Utf8Seq::kIncomplete;
    }
    const uint8_t lo_k = k == 1 ? lo : 0x80;
    const uint8_t hi_k = k == 1 ? hi : 0xBF;
    if (b(k) < lo_k || b(k) > hi_k) {
      *len = k;
      return Utf8Seq::kInvalid;
    }
  }
  *len = need;
  return Utf8Seq::kValid;
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t len = 0;
    if (ClassifyUtf8(text.substr(i), &len) != Utf8Seq::kValid) return false;
    i += len;
  }
  return true;
}

namespace {

utf8proc_category_t Category(uint32_t cp) {
  if (cp > 0x10FFFF) return UTF8PROC_CATEGORY_CN;
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

}  // namespace

bool IsLetter(uint32_t cp) {
  const auto c = Category(cp);
  return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}
bool IsNumber(uint32_t cp) {
  const auto c = Category(cp);
  return c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO;
}
bool IsPunctuation(uint32_t cp) {
  const auto c = Category(cp);
  return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}
bool IsSymbol(uint32_t cp) {
  const auto c = Category(cp);
  return c >= UTF8PROC_CATEGORY_SM && c <= UTF8PROC_CATEGORY_SO;
}
bool IsMark(uint32_t cp) {
  const auto c = Category(cp);
  return c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME;
}
bool IsNonspacingMark(uint32_t cp) { return Category(cp) == UTF8PROC_CATEGORY_MN; }
bool IsControl(uint32_t cp) {
  const auto c = Category(cp);
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF;
}
bool IsOtherNonSurrogate(uint32_t cp) {
  const auto c = Category(cp);
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO;
}
bool IsWhitespace(uint32_t cp) {
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x85) return true;
  const auto c = Category(cp);
  return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

bool IsBertChineseChar(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool IsBertPunctuation(uint32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126)) {
    return true;
  }
  return IsPunctuation(cp);
}

uint32_t ToLowerSimple(uint32_t cp) {
  if (cp > 0x10FFFF) return cp;
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

void AppendNfd(uint32_t cp, std::vector<uint32_t>* out) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    out->push_back(cp);
    return;
  }
  utf8proc_int32_t buf[32];
  int last_boundclass = 0;
  const utf8proc_ssize_t n =
      utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 32,
                              static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE), &last_boundclass);
  if (n <= 0 || n > 32) {
    out->push_back(cp);
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out->push_back(static_cast<uint32_t>(buf[i]));
}

std::string NormalizeUtf8(std::string_view text, std::string_view form) {
  int options = UTF8PROC_STABLE;
  if (form == "NFC") {
    options |= UTF8PROC_COMPOSE;
  } else if (form == "NFD") {
    options |= UTF8PROC_DECOMPOSE;
  } else if (form == "NFKC") {
    options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  } else if (form == "NFKD") {
    options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  } else {
    return std::string(text);
  }
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                          static_cast<utf8proc_ssize_t>(text.size()), &result,
                                          static_cast<utf8proc_option_t>(options));
  if (n < 0 || result == nullptr) {
    std::free(result);
    return std::string(text);
  }
  std::string out(reinterpret_cast<const char*>(result), static_cast<size_t>(n));
  std::free(result);
  return out;
}

namespace {

bool IsPrintableByte(uint32_t b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

}  // namespace

uint32_t ByteToUnicode(uint8_t byte) {
  if (IsPrintableByte(byte)) return byte;
  // Non-printable bytes take 256, 257, ... in byte order.
  uint32_t n = 0;
  for (uint32_t b = 0; b < byte; ++b) {
    if (!IsPrintableByte(b)) ++n;
  }
  return 256 + n;
}

int UnicodeToByte(uint32_t cp) {
  if (cp < 256) return IsPrintableByte(cp) ? static_cast<int>(cp) : -1;
  uint32_t n = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    if (IsPrintableByte(b)) continue;
    if (n == cp) return static_cast<int>(b);
    ++n;
  }
  return -1;
}

void AppendByteLevel(std::string_view bytes, std::string* out) {
  static const auto* const kTable = [] {
    auto* table = new std::string[256];
    for (int b = 0; b < 256; ++b) AppendUtf8(ByteToUnicode(static_cast<uint8_t>(b)), &table[b]);
    return table;
  }();
  for (const char c : bytes) out->append(kTable[static_cast<uint8_t>(c)]);
}

}  // namespace jetserve::tokenizer
