// Tokenizer's decoding half: token pieces, the rules of each family's decoder (SPM "▁",
// byte-level bytes, WordPiece "##" and cleanup, HF byte-fallback runs), Decode.
#include <string>
#include <string_view>
#include <utility>

#include "engine/tokenizer/text_util.h"
#include "engine/tokenizer/tokenizer.h"  // the class whose decoding members are here
#include "engine/tokenizer/unicode.h"

namespace jetserve::tokenizer {

std::string Tokenizer::TokenToPiece(TokenId id, bool special) const {
  std::string out;
  if (id < 0 || static_cast<size_t>(id) >= vocab_.tokens.size()) return out;
  const std::string& text = vocab_.tokens[static_cast<size_t>(id)];
  const TokenType type = Type(id);
  if (type == TokenType::kControl) {
    if (special) out = text;
    return out;
  }
  if (type == TokenType::kUserDefined) return text;
  switch (vocab_.model) {
    case ModelKind::kSpm:
    case ModelKind::kUnigram:
      if (type == TokenType::kByte || vocab_.byte_fallback) {
        const int byte = ParseByteToken(text);
        if (byte >= 0) {
          out.push_back(static_cast<char>(byte));
          return out;
        }
      }
      if (type == TokenType::kUnknown && vocab_.flavor == Flavor::kLlamaCpp) {
        return "\xE2\x96\x85";  // llama.cpp's rendering of <unk>
      }
      AppendUnescapedSpaces(text, &out);
      return out;
    case ModelKind::kBpe: {
      if (!vocab_.byte_level) {
        const int byte = ParseByteToken(text);
        if (byte >= 0) {
          out.push_back(static_cast<char>(byte));
          return out;
        }
        AppendUnescapedSpaces(text, &out);
        return out;
      }
      size_t offset = 0;
      while (offset < text.size()) {
        const size_t start = offset;
        uint32_t cp = 0;
        const bool ok = DecodeOneLenient(text, &offset, &cp);
        const int byte = ok ? UnicodeToByte(cp) : -1;
        if (byte >= 0) {
          out.push_back(static_cast<char>(byte));
        } else {
          out.append(text.substr(start, offset - start));
        }
      }
      return out;
    }
    case ModelKind::kWordPiece: {
      const std::string& cont = vocab_.wordpiece_continuing_prefix;
      if (vocab_.flavor == Flavor::kHuggingFace) {
        if (!cont.empty() && text.compare(0, cont.size(), cont) == 0)
          return text.substr(cont.size());
        if (type == TokenType::kUnknown && special) return " " + text;
        return " " + text;
      }
      AppendUnescapedSpaces(text, &out);
      return out;
    }
  }
  return out;
}

std::string Tokenizer::PieceInText(TokenId id, const DecodeOptions& options,
                                   bool* first_piece) const {
  const bool first = *first_piece;
  const bool hf_wordpiece =
      vocab_.model == ModelKind::kWordPiece && vocab_.flavor == Flavor::kHuggingFace;
  if (first && hf_wordpiece && Type(id) == TokenType::kNormal) {
    const std::string& text = vocab_.tokens[static_cast<size_t>(id)];
    if (text.compare(0, vocab_.wordpiece_continuing_prefix.size(),
                     vocab_.wordpiece_continuing_prefix) == 0) {
      *first_piece = false;
      return text;  // HF leaves the prefix of a text's first token
    }
  }
  std::string piece = TokenToPiece(id, options.special);
  if (!piece.empty()) *first_piece = false;
  if (first && options.strip_leading_space && StripsLeadingSpace() && !piece.empty() &&
      piece[0] == ' ') {
    piece.erase(0, 1);
  }
  if (hf_wordpiece && vocab_.hf_wordpiece_cleanup && !piece.empty()) {
    // tokenizers' decoders::wordpiece::cleanup, applied to each token as HF does.
    static constexpr std::pair<std::string_view, std::string_view> kCleanup[] = {
        {" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},
        {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},   {" do not", " don't"},
        {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
    };
    for (const auto& [from, to] : kCleanup) ReplaceAll(from, to, &piece);
  }
  return piece;
}

bool Tokenizer::StripsLeadingSpace() const {
  for (const HfNormalizerStep& step : vocab_.hf_normalizers) {
    if (step.kind == HfNormalizerStep::Kind::kPrepend && step.text == kSpmSpace) return true;
  }
  return (vocab_.model == ModelKind::kSpm && vocab_.add_space_prefix) ||
         vocab_.model == ModelKind::kWordPiece ||
         (vocab_.hf_metaspace.enabled &&
          vocab_.hf_metaspace.prepend != HfMetaspace::Prepend::kNever);
}

bool Tokenizer::GroupsByteRuns() const {
  return vocab_.flavor == Flavor::kHuggingFace && vocab_.byte_fallback &&
         (vocab_.model == ModelKind::kUnigram ||
          (vocab_.model == ModelKind::kBpe && !vocab_.byte_level));
}

int Tokenizer::ByteOfToken(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.tokens.size()) return -1;
  const TokenType type = Type(id);
  if (type == TokenType::kControl || type == TokenType::kUserDefined) return -1;
  return ParseByteToken(vocab_.tokens[static_cast<size_t>(id)]);
}

void Tokenizer::AppendByteRun(std::string_view bytes, size_t count, std::string* out) {
  if (IsValidUtf8(bytes)) {
    out->append(bytes);
    return;
  }
  for (size_t i = 0; i < count; ++i) out->append("\xEF\xBF\xBD");
}

std::string Tokenizer::Decode(std::span<const TokenId> ids, const DecodeOptions& options) const {
  std::string out;
  bool first = true;
  const bool group = GroupsByteRuns();
  std::string run;
  size_t run_count = 0;
  for (const TokenId id : ids) {
    if (group) {
      const int byte = ByteOfToken(id);
      if (byte >= 0) {
        run.push_back(static_cast<char>(byte));
        ++run_count;
        first = false;
        continue;
      }
      if (run_count > 0) {
        AppendByteRun(run, run_count, &out);
        run.clear();
        run_count = 0;
      }
    }
    out += PieceInText(id, options, &first);
  }
  if (run_count > 0) AppendByteRun(run, run_count, &out);
  return out;
}

}  // namespace jetserve::tokenizer
