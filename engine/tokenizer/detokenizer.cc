#include "engine/tokenizer/detokenizer.h"

#include "engine/tokenizer/unicode.h"

namespace jetserve::tokenizer {
namespace {

constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

// Appends the valid text of `bytes` to *out; returns how many trailing bytes form a
// sequence that more bytes could still complete (they are not consumed) unless `final`.
size_t AppendValid(std::string_view bytes, bool final, std::string* out) {
  size_t i = 0;
  while (i < bytes.size()) {
    size_t len = 0;
    switch (ClassifyUtf8(bytes.substr(i), &len)) {
      case Utf8Seq::kValid:
        out->append(bytes.substr(i, len));
        i += len;
        break;
      case Utf8Seq::kInvalid:
        out->append(kReplacementUtf8);
        i += len;
        break;
      case Utf8Seq::kIncomplete:
        if (!final) return bytes.size() - i;
        out->append(kReplacementUtf8);
        i += len;
        break;
    }
  }
  return 0;
}

}  // namespace

std::string ToValidUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  AppendValid(bytes, /*final=*/true, &out);
  return out;
}

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, const DecodeOptions& options)
    : tokenizer_(tokenizer),
      options_(options),
      strip_pending_(options.strip_leading_space && tokenizer.StripsLeadingSpace()) {}

std::string StreamingDetokenizer::Push(TokenId id) {
  std::string piece = tokenizer_.TokenToPiece(id, options_.special);
  if (strip_pending_ && !piece.empty()) {
    if (piece[0] == ' ') piece.erase(0, 1);
    strip_pending_ = false;
  }
  return PushBytes(piece);
}

std::string StreamingDetokenizer::PushBytes(std::string_view bytes) {
  std::string out;
  if (bytes.empty()) return out;
  pending_.append(bytes);
  const size_t held = AppendValid(pending_, /*final=*/false, &out);
  pending_.erase(0, pending_.size() - held);
  return out;
}

std::string StreamingDetokenizer::Finish() {
  std::string out;
  AppendValid(pending_, /*final=*/true, &out);
  pending_.clear();
  strip_pending_ = options_.strip_leading_space && tokenizer_.StripsLeadingSpace();
  return out;
}

}  // namespace jetserve::tokenizer
