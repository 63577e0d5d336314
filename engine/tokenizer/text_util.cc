#include "engine/tokenizer/text_util.h"

namespace jetserve::tokenizer {

void AppendUnescapedSpaces(std::string_view text, std::string* out) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t hit = text.find(kSpmSpace, pos);
    if (hit == std::string_view::npos) {
      out->append(text.substr(pos));
      return;
    }
    out->append(text.substr(pos, hit - pos));
    out->push_back(' ');
    pos = hit + kSpmSpace.size();
  }
}

int ParseByteToken(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int value = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = text[i];
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

void ReplaceAll(std::string_view from, std::string_view to, std::string* text) {
  std::string out;
  out.reserve(text->size());
  size_t pos = 0;
  while (pos < text->size()) {
    const size_t hit = text->find(from, pos);
    if (hit == std::string::npos) break;
    out.append(*text, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  out.append(*text, pos, std::string::npos);
  *text = std::move(out);
}

}  // namespace jetserve::tokenizer
