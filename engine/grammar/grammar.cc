#include "engine/grammar/grammar.h"

#include <algorithm>
#include <functional>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/model/status_macros.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::grammar {

bool Element::Matches(char32_t c) const {
  bool in = false;
  for (const auto& [lo, hi] : ranges) {
    if (c >= lo && c <= hi) {
      in = true;
      break;
    }
  }
  return in != negated;
}

bool Element::MatchesAnyIn(char32_t lo, char32_t hi) const {
  if (negated) {
    // Some code point in [lo, hi] lies outside every range unless the ranges cover it.
    char32_t c = lo;
    while (c <= hi) {
      bool covered = false;
      for (const auto& [a, b] : ranges) {
        if (c >= a && c <= b) {
          if (b >= hi) return false;
          c = b + 1;
          covered = true;
          break;
        }
      }
      if (!covered) return true;
    }
    return false;
  }
  for (const auto& [a, b] : ranges) {
    if (a <= hi && b >= lo) return true;
  }
  return false;
}

namespace {

absl::Status Err(size_t pos, std::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("grammar at byte ", pos, ": ", Sv(msg)));
}

class Parser {
 public:
  Parser(std::string_view src, const GrammarLimits& limits) : src_(src), limits_(limits) {}

  absl::Status Run(std::vector<Rule>* rules, uint32_t* root) {
    SkipSpace(true);
    while (pos_ < src_.size()) {
      std::string name = Name();
      if (name.empty()) return Err(pos_, "expected a rule name");
      SkipSpace(false);
      if (src_.substr(pos_, 3) != "::=") return Err(pos_, "expected '::='");
      pos_ += 3;
      SkipSpace(true);
      const uint32_t id = RuleId(name);
      if (defined_.count(id)) return Err(pos_, absl::StrCat("rule '", name, "' defined twice"));
      defined_.insert({id, true});
      std::vector<Alternative> alts;
      absl::Status s = Alternatives(&alts, false);
      if (!s.ok()) return s;
      rules_[id].alternatives = std::move(alts);
      SkipSpace(true);
    }
    auto it = ids_.find("root");
    if (it == ids_.end()) return Err(pos_, "no 'root' rule");
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (!defined_.count(static_cast<uint32_t>(i))) {
        return Err(pos_, absl::StrCat("undefined rule '", rules_[i].name, "'"));
      }
    }
    *rules = std::move(rules_);
    *root = it->second;
    return absl::OkStatus();
  }

 private:
  void SkipSpace(bool newlines) {
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      if (c == '#') {
        while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
      } else if (c == ' ' || c == '\t' || ((c == '\n' || c == '\r') && newlines)) {
        ++pos_;
      } else {
        break;
      }
    }
  }
  static bool NameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  }
  std::string Name() {
    const size_t b = pos_;
    while (pos_ < src_.size() && NameChar(src_[pos_])) ++pos_;
    return std::string(src_.substr(b, pos_ - b));
  }
  uint32_t RuleId(const std::string& name) {
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    const uint32_t id = static_cast<uint32_t>(rules_.size());
    rules_.push_back({name, {}});
    ids_[name] = id;
    return id;
  }
  uint32_t NewRule(const std::string& base) {
    const uint32_t id = static_cast<uint32_t>(rules_.size());
    rules_.push_back({absl::StrCat(base, "_", id), {}});
    defined_.insert({id, true});
    return id;
  }
  absl::Status CheckSize() {
    if (rules_.size() > limits_.max_rules) return Err(pos_, "too many rules");
    if (++elements_ > limits_.max_elements) return Err(pos_, "grammar too large");
    return absl::OkStatus();
  }

  absl::StatusOr<char32_t> Char() {
    if (pos_ >= src_.size()) return Err(pos_, "unexpected end");
    const unsigned char c = static_cast<unsigned char>(src_[pos_]);
    if (c == '\\') {
      if (pos_ + 1 >= src_.size()) return Err(pos_, "unexpected end after '\\'");
      const char e = src_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case 'n':
          return U'\n';
        case 't':
          return U'\t';
        case 'r':
          return U'\r';
        case '\\':
          return U'\\';
        case '"':
          return U'"';
        case '\'':
          return U'\'';
        case '[':
          return U'[';
        case ']':
          return U']';
        case '-':
          return U'-';
        case '^':
          return U'^';
        case 'x':
        case 'u':
        case 'U': {
          const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (pos_ + n > src_.size()) return Err(pos_, "truncated escape");
          char32_t v = 0;
          for (size_t k = 0; k < n; ++k) {
            const char h = src_[pos_ + k];
            int d = h >= '0' && h <= '9'   ? h - '0'
                    : h >= 'a' && h <= 'f' ? h - 'a' + 10
                    : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                           : -1;
            if (d < 0) return Err(pos_, "bad hex escape");
            v = v * 16 + static_cast<char32_t>(d);
          }
          pos_ += n;
          if (v > 0x10ffff) return Err(pos_, "code point out of range");
          return v;
        }
        default:
          return Err(pos_, absl::StrCat("unknown escape '\\", std::string(1, e), "'"));
      }
    }
    // UTF-8 decode.
    const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || pos_ + static_cast<size_t>(len) > src_.size())
      return Err(pos_, "invalid UTF-8");
    char32_t v = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(src_[pos_ + static_cast<size_t>(k)]);
      if ((cc & 0xc0) != 0x80) return Err(pos_, "invalid UTF-8");
      v = (v << 6) | (cc & 0x3f);
    }
    pos_ += static_cast<size_t>(len);
    return v;
  }

  absl::Status Alternatives(std::vector<Alternative>* alts, bool nested) {
    if (++depth_ > 200) return Err(pos_, "nested too deeply");
    while (true) {
      Alternative seq;
      absl::Status s = Sequence(&seq, nested);
      if (!s.ok()) return s;
      seq.push_back(Element{});
      alts->push_back(std::move(seq));
      if (pos_ < src_.size() && src_[pos_] == '|') {
        ++pos_;
        SkipSpace(true);
        continue;
      }
      break;
    }
    --depth_;
    return absl::OkStatus();
  }

  Element RuleRef(uint32_t id) {
    Element e;
    e.kind = Element::Kind::kRule;
    e.rule = id;
    return e;
  }

  absl::Status Sequence(Alternative* seq, bool nested) {
    size_t last_start = seq->size();
    bool have_last = false;
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      JS_RETURN_IF_ERROR(CheckSize());
      if (c == '"') {
        ++pos_;
        last_start = seq->size();
        while (pos_ < src_.size() && src_[pos_] != '"') {
          absl::StatusOr<char32_t> ch = Char();
          if (!ch.ok()) return ch.status();
          Element e;
          e.kind = Element::Kind::kChar;
          e.ranges = {{*ch, *ch}};
          seq->push_back(std::move(e));
        }
        if (pos_ >= src_.size()) return Err(pos_, "unterminated string");
        ++pos_;
        have_last = true;
      } else if (c == '[') {
        ++pos_;
        Element e;
        e.kind = Element::Kind::kChar;
        if (pos_ < src_.size() && src_[pos_] == '^') {
          e.negated = true;
          ++pos_;
        }
        while (pos_ < src_.size() && src_[pos_] != ']') {
          absl::StatusOr<char32_t> lo = Char();
          if (!lo.ok()) return lo.status();
          char32_t hi = *lo;
          if (pos_ + 1 < src_.size() && src_[pos_] == '-' && src_[pos_ + 1] != ']') {
            ++pos_;
            absl::StatusOr<char32_t> h = Char();
            if (!h.ok()) return h.status();
            hi = *h;
            if (hi < *lo) return Err(pos_, "character range out of order");
          }
          e.ranges.push_back({*lo, hi});
        }
        if (pos_ >= src_.size()) return Err(pos_, "unterminated character class");
        ++pos_;
        last_start = seq->size();
        seq->push_back(std::move(e));
        have_last = true;
      } else if (c == '.') {
        ++pos_;
        Element e;
        e.kind = Element::Kind::kChar;
        e.negated = true;  // excludes nothing
        last_start = seq->size();
        seq->push_back(std::move(e));
        have_last = true;
      } else if (NameChar(c)) {
        const std::string name = Name();
        last_start = seq->size();
        seq->push_back(RuleRef(RuleId(name)));
        have_last = true;
      } else if (c == '(') {
        ++pos_;
        SkipSpace(true);
        const uint32_t id = NewRule("group");
        std::vector<Alternative> alts;
        absl::Status s = Alternatives(&alts, true);
        if (!s.ok()) return s;
        rules_[id].alternatives = std::move(alts);
        if (pos_ >= src_.size() || src_[pos_] != ')') return Err(pos_, "expected ')'");
        ++pos_;
        last_start = seq->size();
        seq->push_back(RuleRef(id));
        have_last = true;
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (!have_last) return Err(pos_, "repetition without an element");
        int64_t lo = 0, hi = -1;  // -1: unbounded
        if (c == '*') {
          ++pos_;
        } else if (c == '+') {
          lo = 1;
          ++pos_;
        } else if (c == '?') {
          hi = 1;
          ++pos_;
        } else {
          ++pos_;
          SkipSpace(false);
          absl::StatusOr<int64_t> a = Int();
          if (!a.ok()) return a.status();
          lo = *a;
          hi = lo;
          SkipSpace(false);
          if (pos_ < src_.size() && src_[pos_] == ',') {
            ++pos_;
            SkipSpace(false);
            hi = -1;
            if (pos_ < src_.size() && src_[pos_] != '}') {
              absl::StatusOr<int64_t> b = Int();
              if (!b.ok()) return b.status();
              hi = *b;
              SkipSpace(false);
            }
          }
          if (pos_ >= src_.size() || src_[pos_] != '}') return Err(pos_, "expected '}'");
          ++pos_;
          if (hi != -1 && hi < lo) return Err(pos_, "repetition {m,n} with n < m");
          if (lo > limits_.max_repetition || hi > limits_.max_repetition) {
            return Err(pos_, absl::StrCat("repetition bound over ", limits_.max_repetition));
          }
        }
        // The repeated term becomes a rule of its own.
        const uint32_t term = NewRule("term");
        Alternative body(seq->begin() + static_cast<std::ptrdiff_t>(last_start), seq->end());
        body.push_back(Element{});
        rules_[term].alternatives = {std::move(body)};
        seq->resize(last_start);
        for (int64_t i = 0; i < lo; ++i) {
          JS_RETURN_IF_ERROR(CheckSize());
          seq->push_back(RuleRef(term));
        }
        if (hi == -1) {  // star ::= term star |
          const uint32_t star = NewRule("star");
          rules_[star].alternatives = {{RuleRef(term), RuleRef(star), Element{}}, {Element{}}};
          seq->push_back(RuleRef(star));
        } else if (hi > lo) {  // opt_k ::= term opt_{k-1} |
          uint32_t inner = NewRule("opt");
          rules_[inner].alternatives = {{RuleRef(term), Element{}}, {Element{}}};
          for (int64_t k = 1; k < hi - lo; ++k) {
            JS_RETURN_IF_ERROR(CheckSize());
            const uint32_t outer = NewRule("opt");
            rules_[outer].alternatives = {{RuleRef(term), RuleRef(inner), Element{}}, {Element{}}};
            inner = outer;
          }
          seq->push_back(RuleRef(inner));
        }
        last_start = seq->size();
        have_last = false;
      } else {
        break;
      }
      SkipSpace(nested);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> Int() {
    const size_t b = pos_;
    int64_t v = 0;
    while (pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '9') {
      v = v * 10 + (src_[pos_] - '0');
      if (v > 1'000'000'000) return Err(pos_, "number too large");
      ++pos_;
    }
    if (pos_ == b) return Err(pos_, "expected a number");
    return v;
  }

  std::string_view src_;
  const GrammarLimits& limits_;
  size_t pos_ = 0;
  int depth_ = 0;
  size_t elements_ = 0;
  std::vector<Rule> rules_;
  std::map<std::string, uint32_t> ids_;
  std::map<uint32_t, bool> defined_;
};

// Rejects grammars whose expansion could loop without consuming input (left recursion,
// including through rules that can match the empty string).
absl::Status CheckLeftRecursion(const std::vector<Rule>& rules) {
  std::vector<bool> nullable(rules.size(), false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < rules.size(); ++r) {
      if (nullable[r]) continue;
      for (const Alternative& alt : rules[r].alternatives) {
        bool all = true;
        for (const Element& e : alt) {
          if (e.kind == Element::Kind::kEnd) break;
          if (e.kind == Element::Kind::kChar || !nullable[e.rule]) {
            all = false;
            break;
          }
        }
        if (all) {
          nullable[r] = true;
          changed = true;
          break;
        }
      }
    }
  }
  // Edges r -> s when s can be expanded at r's start.
  std::vector<std::vector<uint32_t>> first(rules.size());
  for (size_t r = 0; r < rules.size(); ++r) {
    for (const Alternative& alt : rules[r].alternatives) {
      for (const Element& e : alt) {
        if (e.kind != Element::Kind::kRule) break;
        first[r].push_back(e.rule);
        if (!nullable[e.rule]) break;
      }
    }
  }
  std::vector<int> color(rules.size(), 0);
  std::vector<std::pair<uint32_t, size_t>> stack;
  for (size_t start = 0; start < rules.size(); ++start) {
    if (color[start] != 0) continue;
    stack.push_back({static_cast<uint32_t>(start), 0});
    color[start] = 1;
    while (!stack.empty()) {
      auto& [r, i] = stack.back();
      if (i < first[r].size()) {
        const uint32_t s = first[r][i++];
        if (color[s] == 1) {
          return absl::InvalidArgumentError(
              absl::StrCat("grammar: rule '", rules[s].name,
                           "' is left-recursive (it can reach itself without "
                           "consuming input)"));
        }
        if (color[s] == 0) {
          color[s] = 1;
          stack.push_back({s, 0});
        }
      } else {
        color[r] = 2;
        stack.pop_back();
      }
    }
  }
  return absl::OkStatus();
}

uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t h = a ^ (b + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));
  return h * 0xff51afd7ed558ccdull;
}

bool SameStack(const Stack& a, const Stack& b) {
  const StackNode* x = a.get();
  const StackNode* y = b.get();
  while (x != nullptr && y != nullptr) {
    if (x == y) return true;
    if (x->pos != y->pos || x->hash != y->hash) return false;
    x = x->parent.get();
    y = y->parent.get();
  }
  return x == y;
}

class Expander {
 public:
  Expander(const Grammar& g, std::vector<Stack>* out) : g_(g), out_(out) {}

  void Expand(const Element* pos, const Stack& parent, int depth) {
    if (overflow_) return;
    if (depth > 4096 || out_->size() > g_.limits().max_stacks) {
      overflow_ = true;
      return;
    }
    switch (pos->kind) {
      case Element::Kind::kEnd:
        if (parent == nullptr) {
          Add(nullptr);
        } else {
          Expand(parent->pos, parent->parent, depth + 1);
        }
        return;
      case Element::Kind::kChar: {
        const uint64_t h = Mix(reinterpret_cast<uintptr_t>(pos), parent ? parent->hash : 0);
        Add(std::make_shared<const StackNode>(StackNode{pos, parent, h}));
        return;
      }
      case Element::Kind::kRule: {
        Stack cont = parent;
        if ((pos + 1)->kind != Element::Kind::kEnd || parent == nullptr) {
          const uint64_t h = Mix(reinterpret_cast<uintptr_t>(pos + 1), parent ? parent->hash : 0);
          cont = std::make_shared<const StackNode>(StackNode{pos + 1, parent, h});
        }  // else: tail call, the continuation is the parent itself
        for (const Alternative& alt : g_.rules()[pos->rule].alternatives) {
          Expand(alt.data(), cont, depth + 1);
        }
        return;
      }
    }
  }
  bool overflow() const { return overflow_; }

 private:
  void Add(Stack s) {
    for (const Stack& o : *out_) {
      if ((o == nullptr) != (s == nullptr)) continue;
      if (s == nullptr || (o->hash == s->hash && SameStack(o, s))) return;
    }
    out_->push_back(std::move(s));
  }

  const Grammar& g_;
  std::vector<Stack>* out_;
  bool overflow_ = false;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const Grammar>> Grammar::Parse(std::string_view source,
                                                              const GrammarLimits& limits) {
  if (source.size() > limits.max_source_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("grammar of ", source.size(), " bytes exceeds ", limits.max_source_bytes));
  }
  auto g = std::shared_ptr<Grammar>(new Grammar());
  g->limits_ = limits;
  Parser p(source, limits);
  absl::Status s = p.Run(&g->rules_, &g->root_);
  if (!s.ok()) return s;
  s = CheckLeftRecursion(g->rules_);
  if (!s.ok()) return s;
  return std::shared_ptr<const Grammar>(std::move(g));
}

GrammarState GrammarState::Start(std::shared_ptr<const Grammar> grammar) {
  GrammarState s;
  s.grammar_ = std::move(grammar);
  Expander ex(*s.grammar_, &s.stacks_);
  for (const Alternative& alt : s.grammar_->rules()[s.grammar_->root()].alternatives) {
    ex.Expand(alt.data(), nullptr, 0);
  }
  if (ex.overflow()) s.stacks_.clear();
  return s;
}

GrammarState GrammarState::AdvanceByte(uint8_t b) const {
  GrammarState n;
  n.grammar_ = grammar_;
  char32_t cp = 0;
  if (pending_ == 0) {
    if (b < 0x80) {
      cp = b;
    } else {
      const int len = (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
      if (len == 0 || b == 0xc0 || b == 0xc1 || b > 0xf4) return n;  // dead: not UTF-8
      n.partial_ = len == 2 ? (b & 0x1f) : len == 3 ? (b & 0x0f) : (b & 0x07);
      n.pending_ = len - 1;
      n.partial_len_ = 1;
    }
  } else {
    if ((b & 0xc0) != 0x80) return n;
    n.partial_ = (partial_ << 6) | (b & 0x3f);
    n.pending_ = pending_ - 1;
    n.partial_len_ = partial_len_ + 1;
    if (n.pending_ == 0) {
      cp = n.partial_;
      const char32_t min = n.partial_len_ == 2 ? 0x80 : n.partial_len_ == 3 ? 0x800 : 0x10000;
      if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return GrammarState{};
      n.partial_ = 0;
      n.partial_len_ = 0;
    }
  }
  if (n.pending_ > 0) {  // keep the stacks whose next character could start this way
    const int shift = 6 * n.pending_;
    const int total = n.partial_len_ + n.pending_;
    const char32_t min = total == 2 ? 0x80 : total == 3 ? 0x800 : 0x10000;
    const char32_t lo = std::max<char32_t>(n.partial_ << shift, min);
    const char32_t hi =
        std::min<char32_t>(n.partial_ << shift | ((char32_t{1} << shift) - 1), 0x10ffff);
    if (lo > hi) return GrammarState{};
    // Surrogates (U+D800-DFFF) are not characters: only the parts of [lo, hi] outside.
    auto viable = [&](const Element& e) {
      if (hi < 0xd800 || lo > 0xdfff) return e.MatchesAnyIn(lo, hi);
      return (lo < 0xd800 && e.MatchesAnyIn(lo, 0xd7ff)) ||
             (hi > 0xdfff && e.MatchesAnyIn(0xe000, hi));
    };
    for (const Stack& s : stacks_) {
      if (s != nullptr && viable(*s->pos)) n.stacks_.push_back(s);
    }
    return n;
  }
  Expander ex(*grammar_, &n.stacks_);
  for (const Stack& s : stacks_) {
    if (s != nullptr && s->pos->Matches(cp)) ex.Expand(s->pos + 1, s->parent, 0);
  }
  if (ex.overflow()) n.stacks_.clear();
  return n;
}

GrammarState GrammarState::AdvanceBytes(std::string_view bytes) const {
  GrammarState s = *this;
  for (const char c : bytes) {
    s = s.AdvanceByte(static_cast<uint8_t>(c));
    if (s.dead()) break;
  }
  return s;
}

uint64_t GrammarState::Fingerprint() const {
  std::vector<uint64_t> h;
  h.reserve(stacks_.size());
  for (const Stack& st : stacks_) h.push_back(st ? st->hash : 0x51ed270b27c5a1f3ull);
  std::sort(h.begin(), h.end());
  uint64_t f = Mix(static_cast<uint64_t>(partial_) << 8 | static_cast<uint64_t>(pending_) << 4 |
                       static_cast<uint64_t>(partial_len_),
                   h.size());
  for (const uint64_t x : h) f = Mix(f, x);
  return f;
}

bool GrammarState::CanEnd() const {
  if (pending_ != 0) return false;
  for (const Stack& s : stacks_) {
    if (s == nullptr) return true;
  }
  return false;
}

bool GrammarState::CanContinue() const {
  for (const Stack& s : stacks_) {
    if (s != nullptr) return true;
  }
  return false;
}

}  // namespace jetserve::grammar
