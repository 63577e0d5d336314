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
    : tokenizer_(tokenizer), options_(options) {}

std::string StreamingDetokenizer::Push(TokenId id) {
  std::string out;
  if (tokenizer_.GroupsByteRuns()) {
    const int byte = tokenizer_.ByteOfToken(id);
    if (byte >= 0) {  // held until the run ends: HF decides on the run as a whole
      byte_run_.push_back(static_cast<char>(byte));
      ++byte_run_count_;
      first_ = false;
      return out;
    }
    out = FlushByteRun();
  }
  out += PushBytes(tokenizer_.PieceInText(id, options_, &first_));
  return out;
}

std::string StreamingDetokenizer::PushBytes(std::string_view bytes) {
  std::string out;
  if (bytes.empty()) return out;
  pending_.append(bytes);
  const size_t held = AppendValid(pending_, /*final=*/false, &out);
  pending_.erase(0, pending_.size() - held);
  return out;
}

std::string StreamingDetokenizer::FlushByteRun() {
  if (byte_run_count_ == 0) return std::string();
  std::string resolved;
  Tokenizer::AppendByteRun(byte_run_, byte_run_count_, &resolved);
  byte_run_.clear();
  byte_run_count_ = 0;
  return PushBytes(resolved);
}

std::string StreamingDetokenizer::Finish() {
  std::string out = FlushByteRun();
  AppendValid(pending_, /*final=*/true, &out);
  pending_.clear();
  first_ = true;
  return out;
}

}  // namespace jetserve::tokenizer
