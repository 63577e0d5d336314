#include "engine/tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace jetserve::tokenizer {
namespace {

// The GPT-2 pattern (OpenAI's encoder.py), shared by many families.
constexpr char kGpt2Pattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr char kGpt2PatternNoTail[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr char kLlama3Pattern[] =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr char kQwen2Pattern[] =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

}  // namespace

std::vector<std::string> PreTokenizerPatterns(PreTokenizerKind kind) {
  switch (kind) {
    case PreTokenizerKind::kNone:
    case PreTokenizerKind::kHfCustom:
      return {};
    case PreTokenizerKind::kLlama3:
    case PreTokenizerKind::kChatGlm4:
      return {kLlama3Pattern};
    case PreTokenizerKind::kQwen2:
    case PreTokenizerKind::kStablelm2:
      return {kQwen2Pattern};
    case PreTokenizerKind::kDeepseekLlm:
      return {
          R"([\r\n])",
          "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
          "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
          R"(\s+$)",
          "[一-龥ࠀ-一가-퟿]+",
          R"(\p{N}+)",
      };
    case PreTokenizerKind::kDeepseekCoder:
      return {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", "[一-龥ࠀ-一가-퟿]+", R"(\p{N})"};
    case PreTokenizerKind::kDeepseek3:
      return {
          R"(\p{N}{1,3})",
          "[一-龥\u3040-ゟ゠-ヿ]+",
          R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
      };
    case PreTokenizerKind::kFalcon:
      return {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2PatternNoTail, R"([0-9][0-9][0-9])"};
    case PreTokenizerKind::kStarcoder:
      return {R"(\p{N})", kGpt2PatternNoTail};
    case PreTokenizerKind::kGpt2:
    case PreTokenizerKind::kMpt:
    case PreTokenizerKind::kHfByteLevel:
      return {kGpt2Pattern};
    case PreTokenizerKind::kPoro:
      return {R"( ?[^(\s|.,!?…。，、।۔،)]+)"};
    case PreTokenizerKind::kViking:
      return {R"( ?[^(\s|.,!?…。，、।۔،)]+)", R"(\p{N})"};
    case PreTokenizerKind::kTekken:
      return {
          R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S))",
      };
    case PreTokenizerKind::kDefault:
      return {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2PatternNoTail, R"(\p{N}+)", R"([0-9][0-9][0-9])"};
  }
  return {};
}

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

absl::StatusOr<PreTokenizer> PreTokenizer::Create(
    PreTokenizerKind kind, const std::vector<std::string>& custom_patterns) {
  const std::vector<std::string> patterns =
      kind == PreTokenizerKind::kHfCustom ? custom_patterns : PreTokenizerPatterns(kind);
  PreTokenizer pre;
  for (const std::string& pattern : patterns) {
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &error_code,
                                     &error_offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error_code, message, sizeof(message));
      return absl::InvalidArgumentError(absl::StrCat(
          "pre-tokenizer pattern '", pattern, "' does not compile at offset ", error_offset, ": ",
          reinterpret_cast<const char*>(message)));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort: the interpreter also works
    auto regex = std::make_unique<Regex>();
    regex->code = code;
    pre.regexes_.push_back(std::move(regex));
  }
  return pre;
}

void PreTokenizer::Split(std::string_view text, std::vector<WordSpan>* words) const {
  if (text.empty()) return;
  std::vector<WordSpan> current{{0, text.size()}};
  std::vector<WordSpan> next;
  for (const auto& regex : regexes_) {
    pcre2_match_data* match = pcre2_match_data_create_from_pattern(regex->code, nullptr);
    next.clear();
    for (const WordSpan& piece : current) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.offset);
      size_t start = 0;
      size_t pos = 0;
      while (pos < piece.length) {
        const int rc = pcre2_match(regex->code, subject, piece.length, pos, PCRE2_NO_UTF_CHECK,
                                   match, nullptr);
        if (rc < 0) break;
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
        const size_t m_begin = ovector[0];
        const size_t m_end = ovector[1];
        if (m_end == m_begin) {  // empty match: step over one character
          pos = m_end + 1;
          while (pos < piece.length && (static_cast<uint8_t>(subject[pos]) & 0xC0) == 0x80) ++pos;
          continue;
        }
        if (m_begin > start) next.push_back({piece.offset + start, m_begin - start});
        next.push_back({piece.offset + m_begin, m_end - m_begin});
        start = pos = m_end;
      }
      if (start < piece.length) next.push_back({piece.offset + start, piece.length - start});
    }
    pcre2_match_data_free(match);
    current.swap(next);
  }
  words->insert(words->end(), current.begin(), current.end());
}

}  // namespace jetserve::tokenizer
