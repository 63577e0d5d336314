#include "engine/grammar/regex_gbnf.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "absl/strings/str_cat.h"

namespace jetserve::grammar {
namespace {

constexpr char32_t kMaxCp = 0x10ffff;
constexpr int64_t kMaxBound = 1000;  // GrammarLimits::max_repetition
constexpr int kMaxDepth = 100;

// A set of code points: sorted, disjoint, non-adjacent inclusive ranges.
using Ranges = std::vector<std::pair<char32_t, char32_t>>;

Ranges Normalize(Ranges r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& [lo, hi] : r) {
    if (!out.empty() && lo <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, hi);
    } else {
      out.push_back({lo, hi});
    }
  }
  return out;
}

Ranges Complement(const Ranges& r) {
  Ranges out;
  char32_t next = 0;
  for (const auto& [lo, hi] : r) {
    if (lo > next) out.push_back({next, lo - 1});
    next = hi + 1;
  }
  if (next <= kMaxCp) out.push_back({next, kMaxCp});
  return out;
}

Ranges Intersect(const Ranges& a, const Ranges& b) {
  Ranges out;
  for (const auto& [alo, ahi] : a) {
    for (const auto& [blo, bhi] : b) {
      const char32_t lo = std::max(alo, blo), hi = std::min(ahi, bhi);
      if (lo <= hi) out.push_back({lo, hi});
    }
  }
  return Normalize(out);
}

Ranges Union(Ranges a, const Ranges& b) {
  a.insert(a.end(), b.begin(), b.end());
  return Normalize(std::move(a));
}

const Ranges kDigit = {{'0', '9'}};
const Ranges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const Ranges kAscii = {{0, 0x7f}};
// Whitespace both ECMA-262 and Python's re call \s (ECMA adds U+FEFF; Python adds
// U+001C-001F and U+0085).
const Ranges kSpaceBoth = {{0x09, 0x0d},     {0x20, 0x20},     {0xa0, 0xa0},
                           {0x1680, 0x1680}, {0x2000, 0x200a}, {0x2028, 0x2029},
                           {0x202f, 0x202f}, {0x205f, 0x205f}, {0x3000, 0x3000}};
const Ranges kSpaceEither = Union(kSpaceBoth, {{0x1c, 0x1f}, {0x85, 0x85}, {0xfeff, 0xfeff}});
// ECMA '.': anything but the line terminators.
const Ranges kDot = Complement({{0x0a, 0x0a}, {0x0d, 0x0d}, {0x2028, 0x2029}});
const Ranges kSurrogates = {{0xd800, 0xdfff}};

// A shorthand class (\d \D \w \W \s \S) in the two forms a class needs: its members when
// it stands positively, and what to exclude when it appears in a negated class.
struct Shorthand {
  Ranges positive;
  Ranges exclude;
  bool ascii_only_complement;  // Python's \d and \w are Unicode-wide: stay in ASCII
};

std::optional<Shorthand> ShorthandOf(char c) {
  switch (c) {
    case 'd':
      return Shorthand{kDigit, kDigit, true};
    case 'D':
      return Shorthand{Intersect(Complement(kDigit), kAscii), Intersect(Complement(kDigit), kAscii),
                       true};
    case 'w':
      return Shorthand{kWord, kWord, true};
    case 'W':
      return Shorthand{Intersect(Complement(kWord), kAscii), Intersect(Complement(kWord), kAscii),
                       true};
    case 's':
      return Shorthand{kSpaceBoth, kSpaceEither, false};
    case 'S':
      return Shorthand{Complement(kSpaceEither), Complement(kSpaceBoth), false};
    default:
      return std::nullopt;
  }
}

struct Node {
  enum class Kind { kSet, kSeq, kAlt, kRepeat };
  Kind kind = Kind::kSeq;
  Ranges set;
  std::vector<Node> kids;
  int64_t min = 0, max = 0;  // kRepeat; max -1: unbounded
};

Node Seq(std::vector<Node> kids) {
  Node n;
  n.kind = Node::Kind::kSeq;
  n.kids = std::move(kids);
  return n;
}

bool Nullable(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kSet:
      return false;
    case Node::Kind::kSeq:
      return std::all_of(n.kids.begin(), n.kids.end(), Nullable);
    case Node::Kind::kAlt:
      return std::any_of(n.kids.begin(), n.kids.end(), Nullable);
    case Node::Kind::kRepeat:
      return n.min == 0 || Nullable(n.kids[0]);
  }
  return false;
}

// The node's language without the empty string; nullopt when nothing is left. Repeats of
// nullable bodies become repeats of non-nullable ones, so no GBNF star can loop without
// consuming input (the grammar parser rejects such rules as left-recursive).
std::optional<Node> NonEmpty(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kSet:
      return n;
    case Node::Kind::kSeq: {
      if (!Nullable(n)) return n;
      if (n.kids.empty()) return std::nullopt;
      if (n.kids.size() == 1) return NonEmpty(n.kids[0]);
      // (A B) without the empty string: A' B | B' (A' non-empty, or A empty and B' not).
      // Halving keeps the copies of B at O(n log n) nodes.
      const auto half = static_cast<std::ptrdiff_t>(n.kids.size() / 2);
      Node a = Seq(std::vector<Node>(n.kids.begin(), n.kids.begin() + half));
      Node b = Seq(std::vector<Node>(n.kids.begin() + half, n.kids.end()));
      Node alt;
      alt.kind = Node::Kind::kAlt;
      if (std::optional<Node> ne_a = NonEmpty(a)) alt.kids.push_back(Seq({*std::move(ne_a), b}));
      if (std::optional<Node> ne_b = NonEmpty(b)) alt.kids.push_back(*std::move(ne_b));
      if (alt.kids.empty()) return std::nullopt;
      return alt;
    }
    case Node::Kind::kAlt: {
      Node alt;
      alt.kind = Node::Kind::kAlt;
      for (const Node& k : n.kids) {
        std::optional<Node> ne = NonEmpty(k);
        if (ne) alt.kids.push_back(*std::move(ne));
      }
      if (alt.kids.empty()) return std::nullopt;
      return alt;
    }
    case Node::Kind::kRepeat: {
      std::optional<Node> body = NonEmpty(n.kids[0]);
      if (!body || n.max == 0) return std::nullopt;
      Node r = n;
      r.kids = {*std::move(body)};
      // x nullable: x{m,n} = x'{0,n}; minus the empty string: x'{1,n}.
      r.min = Nullable(n.kids[0]) ? 1 : std::max<int64_t>(1, n.min);
      return r;
    }
  }
  return std::nullopt;
}

// Repeats always get non-nullable bodies (see NonEmpty).
Node Repeat(const Node& body, int64_t min, int64_t max) {
  Node r;
  r.kind = Node::Kind::kRepeat;
  r.min = min;
  r.max = max;
  if (Nullable(body)) {
    std::optional<Node> ne = NonEmpty(body);
    if (!ne) return Seq({});
    r.min = 0;
    r.kids = {*std::move(ne)};
  } else {
    r.kids = {body};
  }
  return r;
}

class RegexParser {
 public:
  explicit RegexParser(std::string_view p) : p_(p) {}

  struct TopAlt {
    bool start = false, end = false;
    Node node;
  };

  absl::StatusOr<std::vector<TopAlt>> Run() {
    std::vector<TopAlt> out;
    while (true) {
      TopAlt a;
      if (pos_ < p_.size() && p_[pos_] == '^') {
        a.start = true;
        ++pos_;
      }
      absl::StatusOr<Node> s = Sequence(0, &a.end);
      if (!s.ok()) return s.status();
      a.node = *std::move(s);
      out.push_back(std::move(a));
      if (pos_ >= p_.size()) break;
      if (p_[pos_] == '|') {
        ++pos_;
        continue;
      }
      return Error("unmatched ')'");
    }
    return out;
  }

 private:
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("json schema pattern at character ", pos_, ": ", std::string(what)));
  }
  absl::Status Unsupported(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("json schema pattern at character ", pos_, ": ",
                                                   std::string(what), " are not supported"));
  }

  // A sequence up to '|', ')' or the end; `end_anchor` non-null at the top level, where a
  // final '$' is allowed.
  absl::StatusOr<Node> Sequence(int depth, bool* end_anchor) {
    std::vector<Node> parts;
    while (pos_ < p_.size() && p_[pos_] != '|' && p_[pos_] != ')') {
      const char c = p_[pos_];
      if (c == '$') {
        ++pos_;
        const bool at_end = pos_ >= p_.size() || p_[pos_] == '|';
        if (end_anchor == nullptr || !at_end) {
          --pos_;
          return Unsupported("anchors ('$') other than at the end of the pattern");
        }
        *end_anchor = true;
        break;
      }
      if (c == '^') return Unsupported("anchors ('^') other than at the start of the pattern");
      absl::StatusOr<Node> atom = Atom(depth);
      if (!atom.ok()) return atom.status();
      absl::StatusOr<Node> q = Quantified(*std::move(atom));
      if (!q.ok()) return q.status();
      parts.push_back(*std::move(q));
    }
    if (parts.size() == 1) return std::move(parts[0]);
    return Seq(std::move(parts));
  }

  absl::StatusOr<Node> Alternatives(int depth) {
    if (depth > kMaxDepth) return Error("nested too deeply");
    Node alt;
    alt.kind = Node::Kind::kAlt;
    while (true) {
      absl::StatusOr<Node> s = Sequence(depth, nullptr);
      if (!s.ok()) return s.status();
      alt.kids.push_back(*std::move(s));
      if (pos_ < p_.size() && p_[pos_] == '|') {
        ++pos_;
        continue;
      }
      break;
    }
    if (alt.kids.size() == 1) return std::move(alt.kids[0]);
    return alt;
  }

  absl::StatusOr<int64_t> Int() {
    const size_t b = pos_;
    int64_t v = 0;
    while (pos_ < p_.size() && p_[pos_] >= '0' && p_[pos_] <= '9') {
      v = std::min<int64_t>(v * 10 + (p_[pos_] - '0'), 1'000'000'000);
      ++pos_;
    }
    if (pos_ == b) return Error("expected a number");
    return v;
  }

  absl::StatusOr<Node> Quantified(Node atom) {
    if (pos_ >= p_.size()) return atom;
    const char c = p_[pos_];
    int64_t min = 0, max = -1;
    if (c == '*') {
      ++pos_;
    } else if (c == '+') {
      min = 1;
      ++pos_;
    } else if (c == '?') {
      max = 1;
      ++pos_;
    } else if (c == '{') {
      ++pos_;
      absl::StatusOr<int64_t> a = Int();
      if (!a.ok()) return Error("'{' must start a quantifier {m}, {m,} or {m,n} (escape it)");
      min = max = *a;
      if (pos_ < p_.size() && p_[pos_] == ',') {
        ++pos_;
        max = -1;
        if (pos_ < p_.size() && p_[pos_] != '}') {
          absl::StatusOr<int64_t> b = Int();
          if (!b.ok()) return b.status();
          max = *b;
        }
      }
      if (pos_ >= p_.size() || p_[pos_] != '}') return Error("expected '}'");
      ++pos_;
      if (max != -1 && max < min) return Error("quantifier {m,n} with n < m");
      if (min > kMaxBound || max > kMaxBound) {
        return Error(absl::StrCat("quantifier bound over ", kMaxBound));
      }
    } else {
      return atom;
    }
    if (pos_ < p_.size() && p_[pos_] == '?') ++pos_;  // lazy: same language
    if (pos_ < p_.size() &&
        (p_[pos_] == '*' || p_[pos_] == '+' || p_[pos_] == '?' || p_[pos_] == '{')) {
      return Error("nothing to repeat");
    }
    return Repeat(atom, min, max);
  }

  absl::StatusOr<uint32_t> Hex(size_t n) {
    if (pos_ + n > p_.size()) return Error("truncated escape");
    uint32_t v = 0;
    for (size_t k = 0; k < n; ++k) {
      const char h = p_[pos_ + k];
      const int d = h >= '0' && h <= '9'   ? h - '0'
                    : h >= 'a' && h <= 'f' ? h - 'a' + 10
                    : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                           : -1;
      if (d < 0) return Error("bad hex escape");
      v = v * 16 + static_cast<uint32_t>(d);
    }
    pos_ += n;
    return v;
  }

  // A UTF-8 character of the pattern.
  absl::StatusOr<char32_t> Utf8() {
    const unsigned char c = static_cast<unsigned char>(p_[pos_]);
    const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || pos_ + static_cast<size_t>(len) > p_.size()) return Error("invalid UTF-8");
    char32_t v = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(p_[pos_ + static_cast<size_t>(k)]);
      if ((cc & 0xc0) != 0x80) return Error("invalid UTF-8");
      v = (v << 6) | (cc & 0x3f);
    }
    pos_ += static_cast<size_t>(len);
    return v;
  }

  // An escape after '\' (pos_ at the character after it): a code point, or a shorthand
  // class in *shorthand. in_class: \b is a backspace there.
  absl::StatusOr<char32_t> Escape(bool in_class, std::optional<Shorthand>* shorthand) {
    if (pos_ >= p_.size()) return Error("pattern ends with '\\'");
    const char e = p_[pos_++];
    if (std::optional<Shorthand> s = ShorthandOf(e)) {
      *shorthand = std::move(s);
      return 0;
    }
    switch (e) {
      case 't':
        return U'\t';
      case 'n':
        return U'\n';
      case 'r':
        return U'\r';
      case 'v':
        return U'\v';
      case 'f':
        return U'\f';
      case 'b':
        if (in_class) return U'\b';
        --pos_;
        return Unsupported("word boundaries (\\b)");
      case 'B':
        --pos_;
        return Unsupported("word boundaries (\\B)");
      case '0':
        if (pos_ < p_.size() && p_[pos_] >= '0' && p_[pos_] <= '9') {
          return Unsupported("octal escapes");
        }
        return U'\0';
      case 'c': {
        if (pos_ >= p_.size() || !std::isalpha(static_cast<unsigned char>(p_[pos_]))) {
          return Error("\\c must be followed by a letter");
        }
        return static_cast<char32_t>(p_[pos_++] % 32);
      }
      case 'x': {
        absl::StatusOr<uint32_t> v = Hex(2);
        if (!v.ok()) return v.status();
        return static_cast<char32_t>(*v);
      }
      case 'u': {
        if (pos_ < p_.size() && p_[pos_] == '{') {
          ++pos_;
          const size_t b = pos_;
          while (pos_ < p_.size() && p_[pos_] != '}') ++pos_;
          if (pos_ >= p_.size() || pos_ == b || pos_ - b > 6) return Error("bad \\u{...} escape");
          const size_t end = pos_;
          pos_ = b;
          absl::StatusOr<uint32_t> v = Hex(end - b);
          if (!v.ok()) return v.status();
          ++pos_;
          if (*v > kMaxCp) return Error("code point out of range");
          return static_cast<char32_t>(*v);
        }
        absl::StatusOr<uint32_t> v = Hex(4);
        if (!v.ok()) return v.status();
        // A surrogate pair written as two escapes is one character.
        if (*v >= 0xd800 && *v <= 0xdbff && p_.substr(pos_, 2) == "\\u") {
          const size_t save = pos_;
          pos_ += 2;
          absl::StatusOr<uint32_t> lo = Hex(4);
          if (lo.ok() && *lo >= 0xdc00 && *lo <= 0xdfff) {
            return static_cast<char32_t>(0x10000 + ((*v - 0xd800) << 10) + (*lo - 0xdc00));
          }
          pos_ = save;
        }
        return static_cast<char32_t>(*v);
      }
      case 'k':
        --pos_;
        return Unsupported("backreferences (\\k<name>)");
      case 'p':
      case 'P':
        --pos_;
        return Unsupported("Unicode property escapes (\\p{...})");
      default:
        break;
    }
    if (e >= '1' && e <= '9') {
      --pos_;
      return Unsupported("backreferences (\\1 to \\9)");
    }
    if (std::isalnum(static_cast<unsigned char>(e)) || static_cast<unsigned char>(e) >= 0x80) {
      --pos_;
      return Error(absl::StrCat("unknown escape '\\", std::string(1, e), "'"));
    }
    return static_cast<char32_t>(e);  // escaped punctuation stands for itself
  }

  Node SetNode(Ranges r) {
    Node n;
    n.kind = Node::Kind::kSet;
    n.set = Normalize(std::move(r));
    return n;
  }

  absl::StatusOr<Node> Class() {
    ++pos_;  // '['
    bool negated = false;
    if (pos_ < p_.size() && p_[pos_] == '^') {
      negated = true;
      ++pos_;
    }
    Ranges positive, exclude;
    bool ascii_only = false;
    // One class member: a code point, or a shorthand (returns nullopt for the code point).
    auto member = [&](std::optional<Shorthand>* sh) -> absl::StatusOr<char32_t> {
      if (p_[pos_] == '\\') {
        ++pos_;
        return Escape(true, sh);
      }
      return Utf8();
    };
    while (true) {
      if (pos_ >= p_.size()) return Error("unterminated character class");
      if (p_[pos_] == ']') break;
      std::optional<Shorthand> sh;
      absl::StatusOr<char32_t> lo = member(&sh);
      if (!lo.ok()) return lo.status();
      if (sh) {
        positive = Union(positive, sh->positive);
        exclude = Union(exclude, sh->exclude);
        ascii_only |= sh->ascii_only_complement;
        continue;
      }
      char32_t hi = *lo;
      if (pos_ + 1 < p_.size() && p_[pos_] == '-' && p_[pos_ + 1] != ']') {
        ++pos_;
        std::optional<Shorthand> sh2;
        absl::StatusOr<char32_t> h = member(&sh2);
        if (!h.ok()) return h.status();
        if (sh2) return Error("a class range cannot end with a shorthand class");
        hi = *h;
        if (hi < *lo) return Error("class range out of order");
      }
      positive = Union(positive, {{*lo, hi}});
      exclude = Union(exclude, {{*lo, hi}});
    }
    ++pos_;  // ']'
    if (!negated) return SetNode(positive);
    Ranges r = Complement(exclude);
    if (ascii_only) r = Intersect(r, kAscii);
    return SetNode(r);
  }

  absl::StatusOr<Node> Atom(int depth) {
    const char c = p_[pos_];
    switch (c) {
      case '(': {
        ++pos_;
        if (p_.substr(pos_, 2) == "?=" || p_.substr(pos_, 2) == "?!" ||
            p_.substr(pos_, 3) == "?<=" || p_.substr(pos_, 3) == "?<!") {
          return Unsupported("lookahead and lookbehind assertions");
        }
        if (p_.substr(pos_, 2) == "?:") {
          pos_ += 2;
        } else if (p_.substr(pos_, 2) == "?<") {
          pos_ += 2;
          while (pos_ < p_.size() && p_[pos_] != '>') ++pos_;
          if (pos_ >= p_.size()) return Error("unterminated group name");
          ++pos_;
        } else if (pos_ < p_.size() && p_[pos_] == '?') {
          return Unsupported("group modifiers other than (?:...) and (?<name>...)");
        }
        absl::StatusOr<Node> inner = Alternatives(depth + 1);
        if (!inner.ok()) return inner.status();
        if (pos_ >= p_.size() || p_[pos_] != ')') return Error("missing ')'");
        ++pos_;
        return inner;
      }
      case '[':
        return Class();
      case '.':
        ++pos_;
        return SetNode(kDot);
      case '*':
      case '+':
      case '?':
        return Error("nothing to repeat");
      case '{':
        return Error("'{' must follow something to repeat (escape it)");
      case '\\': {
        ++pos_;
        std::optional<Shorthand> sh;
        absl::StatusOr<char32_t> cp = Escape(false, &sh);
        if (!cp.ok()) return cp.status();
        if (sh) return SetNode(sh->positive);
        return SetNode({{*cp, *cp}});
      }
      default: {
        absl::StatusOr<char32_t> cp = Utf8();
        if (!cp.ok()) return cp.status();
        return SetNode({{*cp, *cp}});
      }
    }
  }

  std::string_view p_;
  size_t pos_ = 0;
};

// The canonical JSON text of a character that must be escaped in a string.
std::string JsonEscape(char32_t c) {
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    case '\b':
      return "\\b";
    case '\f':
      return "\\f";
    default: {
      char b[8];
      std::snprintf(b, sizeof(b), "\\u%04x", static_cast<unsigned>(c));
      return b;
    }
  }
}

std::string GbnfLiteral(const std::string& ascii) {
  std::string out = "\"";
  for (const char ch : ascii) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

class Emitter {
 public:
  Emitter(const std::string& prefix, std::vector<std::pair<std::string, std::string>>* rules)
      : prefix_(prefix), rules_(rules) {}

  absl::StatusOr<std::string> Emit(const Node& n) {
    switch (n.kind) {
      case Node::Kind::kSet:
        return Set(n.set);
      case Node::Kind::kSeq: {
        if (n.kids.empty()) return std::string("\"\"");
        std::string out;
        for (const Node& k : n.kids) {
          absl::StatusOr<std::string> e = Emit(k);
          if (!e.ok()) return e;
          absl::StrAppend(&out, out.empty() ? "" : " ", *e);
        }
        return out;
      }
      case Node::Kind::kAlt: {
        std::string out;
        for (const Node& k : n.kids) {
          absl::StatusOr<std::string> e = Emit(k);
          if (!e.ok()) return e;
          absl::StrAppend(&out, out.empty() ? "" : " | ", *e);
        }
        return absl::StrCat("(", out, ")");
      }
      case Node::Kind::kRepeat: {
        absl::StatusOr<std::string> e = Emit(n.kids[0]);
        if (!e.ok()) return e;
        if (n.min == 0 && n.max == -1) return absl::StrCat("(", *e, ")*");
        return absl::StrCat("(", *e, "){", n.min, n.max == n.min ? "" : ",",
                            n.max == n.min || n.max == -1 ? "" : absl::StrCat(n.max), "}");
      }
    }
    return std::string("\"\"");
  }

 private:
  // One character of the set, as JSON text; classes get a rule of their own.
  absl::StatusOr<std::string> Set(const Ranges& set) {
    const Ranges chars = Intersect(set, Complement(kSurrogates));
    if (chars.empty()) {
      return absl::InvalidArgumentError(
          "json schema pattern has a character class that matches no character");
    }
    if (chars.size() == 1 && chars[0].first == chars[0].second) {
      const char32_t c = chars[0].first;
      if (c < 0x20 || c == '"' || c == '\\') return GbnfLiteral(JsonEscape(c));
      return absl::StrCat("\"", GbnfCodePoint(c), "\"");
    }
    const Ranges special = Intersect(chars, {{0, 0x1f}, {'"', '"'}, {'\\', '\\'}});
    const Ranges plain = Intersect(chars, Complement(special));
    std::string alts;
    if (!plain.empty()) {
      alts = "[";
      for (const auto& [lo, hi] : plain) {
        absl::StrAppend(&alts, GbnfCodePoint(lo));
        if (hi != lo) absl::StrAppend(&alts, "-", GbnfCodePoint(hi));
      }
      alts += "]";
    }
    for (const auto& [lo, hi] : special) {
      for (char32_t c = lo; c <= hi; ++c) {
        absl::StrAppend(&alts, alts.empty() ? "" : " | ", GbnfLiteral(JsonEscape(c)));
      }
    }
    const std::string name = absl::StrCat(prefix_, "-c", rules_->size());
    rules_->emplace_back(name, alts);
    return name;
  }

  const std::string& prefix_;
  std::vector<std::pair<std::string, std::string>>* rules_;
};

}  // namespace

std::string GbnfCodePoint(char32_t c) {
  if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
    return std::string(1, static_cast<char>(c));
  }
  char b[16];
  if (c <= 0xff) {
    std::snprintf(b, sizeof(b), "\\x%02x", static_cast<unsigned>(c));
  } else if (c <= 0xffff) {
    std::snprintf(b, sizeof(b), "\\u%04x", static_cast<unsigned>(c));
  } else {
    std::snprintf(b, sizeof(b), "\\U%08x", static_cast<unsigned>(c));
  }
  return b;
}

absl::StatusOr<std::string> RegexToGbnf(std::string_view pattern, const std::string& prefix,
                                        const std::string& char_rule,
                                        std::vector<std::pair<std::string, std::string>>* rules) {
  if (pattern.size() > 4096) {
    return absl::InvalidArgumentError("json schema pattern is longer than 4096 bytes");
  }
  RegexParser parser(pattern);
  absl::StatusOr<std::vector<RegexParser::TopAlt>> alts = parser.Run();
  if (!alts.ok()) return alts.status();
  Emitter emitter(prefix, rules);
  std::string out;
  for (const RegexParser::TopAlt& a : *alts) {
    absl::StatusOr<std::string> e = emitter.Emit(a.node);
    if (!e.ok()) return e;
    // A search: unanchored ends take any text.
    const std::string any = absl::StrCat(char_rule, "*");
    absl::StrAppend(&out, out.empty() ? "" : " | ", a.start ? "" : any + " ", *e,
                    a.end ? "" : " " + any);
  }
  return absl::StrCat("(", out, ")");
}

}  // namespace jetserve::grammar
