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

// DeepSeek's CJK class. llama.cpp matches such classes (no \p{..}) with std::wregex on
// text whose non-ASCII whitespace became \v, so e.g. U+2028 and U+3000 never match them:
// the (?!\s) guards give PCRE2 the same view.
constexpr char kDeepseekCjk[] =
    "(?:(?!\\s)[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}])+";

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
          // Cased-letter ranges of DeepSeek LLM (code points spelled out: several are canonical
          // singletons that editors and tools silently normalize).
          "\\s?(?:(?!\\s)[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{"
          "1BF}"
          "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}"
          "\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-"
          "\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}"
          "\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-"
          "\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}"
          "\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}"
          "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}"
          "\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-"
          "\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}"
          "\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}"
          "\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}"
          "\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-"
          "\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}"
          "\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"
          "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}"
          "\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}])+",

          "\\s?(?:(?!\\s)[!-/"
          ":-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}])+",
          R"(\s+$)",
          kDeepseekCjk,
          R"(\p{N}+)",
      };
    case PreTokenizerKind::kDeepseekCoder:
      return {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"};
    case PreTokenizerKind::kDeepseek3:
      return {
          R"(\p{N}{1,3})",
          "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
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

absl::StatusOr<PreTokenizer> PreTokenizer::Create(PreTokenizerKind kind,
                                                  const std::vector<std::string>& custom_patterns) {
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
      return absl::InvalidArgumentError(absl::StrCat("pre-tokenizer pattern '", pattern,
                                                     "' does not compile at offset ", error_offset,
                                                     ": ", reinterpret_cast<const char*>(message)));
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
