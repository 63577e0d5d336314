// Lexer and recursive-descent parser of the Jinja subset chat templates use. Whitespace
// rules follow jinja2 with trim_blocks=True, lstrip_blocks=True and
// keep_trailing_newline=False (Hugging Face's chat-template environment).
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/chat/jinja_ast.h"
#include "engine/model/status_macros.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::chat::jinja {
namespace {

struct Token {
  enum class Kind {
    kText,
    kVarBegin,
    kVarEnd,
    kBlockBegin,
    kBlockEnd,
    kName,
    kString,
    kInt,
    kFloat,
    kOp,
    kEnd
  };
  Kind kind = Kind::kEnd;
  std::string text;
  int line = 0;
};

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

absl::Status Err(int line, std::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("chat template line ", line, ": ", Sv(msg)));
}

void AppendUtf8(uint32_t cp, std::string* out) {
  *out += CodepointsToUtf8(std::u32string(1, static_cast<char32_t>(cp)));
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {}

  absl::StatusOr<std::vector<Token>> Run() {
    size_t pos = 0;
    bool line_starting = true;
    bool strip_next = false;  // after "-%}" etc.
    while (pos <= src_.size()) {
      size_t open = FindOpen(pos);
      std::string text = src_.substr(pos, (open == std::string::npos ? src_.size() : open) - pos);
      if (strip_next) {
        size_t k = 0;
        while (k < text.size() && IsSpace(text[k])) ++k;
        text.erase(0, k);
        strip_next = false;
      }
      if (open == std::string::npos) {
        Emit(Token::Kind::kText, std::move(text));
        break;
      }
      const char type = src_[open + 1];  // '{', '%' or '#'
      const char sign = open + 2 < src_.size() ? src_[open + 2] : '\0';
      if (sign == '-') {
        size_t k = text.size();
        while (k > 0 && IsSpace(text[k - 1])) --k;
        text.resize(k);
      } else if (sign != '+' && type != '{') {
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if (l_pos > 0 || line_starting) {
          bool ws = true;
          for (size_t k = l_pos; k < text.size(); ++k) {
            if (text[k] != ' ' && text[k] != '\t') ws = false;
          }
          if (ws) text.resize(l_pos);
        }
      }
      Emit(Token::Kind::kText, std::move(text));
      line_ = LineAt(open);
      size_t p = open + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      if (type == '#') {
        const size_t close = src_.find("#}", p);
        if (close == std::string::npos) return Err(line_, "unclosed comment");
        pos = close + 2;
        const bool minus = close > p && src_[close - 1] == '-';
        const bool plus = close > p && src_[close - 1] == '+';
        line_starting = false;
        if (minus) {
          strip_next = true;
          // jinja2's "-#}\s*" match ends with a newline when the stripped run does.
          size_t k = pos;
          while (k < src_.size() && IsSpace(src_[k])) ++k;
          line_starting = k > pos && src_[k - 1] == '\n';
        } else if (!plus && pos < src_.size() && src_[pos] == '\n') {
          ++pos;
          line_starting = true;
        }
        continue;
      }
      Emit(type == '{' ? Token::Kind::kVarBegin : Token::Kind::kBlockBegin, "");
      const std::string close = type == '{' ? "}}" : "%}";
      absl::StatusOr<size_t> end = LexInside(p, close);
      if (!end.ok()) return end.status();
      const bool minus = src_[*end] == '-';
      const bool plus = src_[*end] == '+' && type == '%';
      Emit(type == '{' ? Token::Kind::kVarEnd : Token::Kind::kBlockEnd, "");
      pos = *end + 2 + ((src_[*end] == '-' || src_[*end] == '+') ? 1 : 0);
      line_starting = false;
      if (minus) {
        strip_next = true;
        size_t k = pos;
        while (k < src_.size() && IsSpace(src_[k])) ++k;
        line_starting = k > pos && src_[k - 1] == '\n';
      } else if (type == '%' && !plus && pos < src_.size() && src_[pos] == '\n') {
        ++pos;
        line_starting = true;
      }
    }
    Emit(Token::Kind::kEnd, "");
    return std::move(tokens_);
  }

 private:
  size_t FindOpen(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string::npos;
  }
  int LineAt(size_t pos) {
    while (line_pos_ < pos && line_pos_ < src_.size()) {
      if (src_[line_pos_++] == '\n') ++line_count_;
    }
    return line_count_;
  }
  void Emit(Token::Kind k, std::string text) {
    if (k == Token::Kind::kText && text.empty()) return;
    tokens_.push_back({k, std::move(text), line_});
  }

  // Lexes expression tokens from p up to the closing delimiter (optionally preceded by
  // '-' or '+'); returns the position of the delimiter (or of its sign).
  absl::StatusOr<size_t> LexInside(size_t p, const std::string& close) {
    while (true) {
      while (p < src_.size() && IsSpace(src_[p])) ++p;
      if (p >= src_.size()) return Err(line_, absl::StrCat("missing '", close, "'"));
      if (src_.compare(p, 2, close) == 0) return p;
      if ((src_[p] == '-' || src_[p] == '+') && src_.compare(p + 1, 2, close) == 0) return p;
      const char c = src_[p];
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t q = p;
        while (q < src_.size() &&
               (std::isalnum(static_cast<unsigned char>(src_[q])) || src_[q] == '_')) {
          ++q;
        }
        Emit(Token::Kind::kName, src_.substr(p, q - p));
        p = q;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t q = p;
        bool is_float = false;
        while (q < src_.size() &&
               (std::isdigit(static_cast<unsigned char>(src_[q])) || src_[q] == '_'))
          ++q;
        if (q + 1 < src_.size() && src_[q] == '.' &&
            std::isdigit(static_cast<unsigned char>(src_[q + 1]))) {
          is_float = true;
          ++q;
          while (q < src_.size() && std::isdigit(static_cast<unsigned char>(src_[q]))) ++q;
        }
        if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
          size_t r = q + 1;
          if (r < src_.size() && (src_[r] == '+' || src_[r] == '-')) ++r;
          if (r < src_.size() && std::isdigit(static_cast<unsigned char>(src_[r]))) {
            is_float = true;
            q = r;
            while (q < src_.size() && std::isdigit(static_cast<unsigned char>(src_[q]))) ++q;
          }
        }
        std::string num;
        for (size_t k = p; k < q; ++k) {
          if (src_[k] != '_') num += src_[k];
        }
        Emit(is_float ? Token::Kind::kFloat : Token::Kind::kInt, std::move(num));
        p = q;
      } else if (c == '\'' || c == '"') {
        std::string s;
        size_t q = p + 1;
        bool closed = false;
        while (q < src_.size()) {
          const char d = src_[q];
          if (d == c) {
            closed = true;
            ++q;
            break;
          }
          if (d == '\\' && q + 1 < src_.size()) {
            const char e = src_[q + 1];
            q += 2;
            switch (e) {
              case 'n':
                s += '\n';
                break;
              case 't':
                s += '\t';
                break;
              case 'r':
                s += '\r';
                break;
              case '0':
                s += '\0';
                break;
              case 'a':
                s += '\a';
                break;
              case 'b':
                s += '\b';
                break;
              case 'f':
                s += '\f';
                break;
              case 'v':
                s += '\v';
                break;
              case '\\':
                s += '\\';
                break;
              case '\'':
                s += '\'';
                break;
              case '"':
                s += '"';
                break;
              case '\n':
                break;
              case 'x':
              case 'u':
              case 'U': {
                const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                if (q + n > src_.size()) return Err(line_, "truncated escape in a string");
                uint32_t cp = 0;
                for (size_t k = 0; k < n; ++k) {
                  const char h = src_[q + k];
                  if (!std::isxdigit(static_cast<unsigned char>(h))) {
                    return Err(line_, "bad escape in a string");
                  }
                  cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                           ? h - '0'
                                                           : (std::tolower(h) - 'a' + 10));
                }
                if (cp > 0x10ffff) return Err(line_, "bad escape in a string");
                AppendUtf8(cp, &s);
                q += n;
                break;
              }
              default:
                s += '\\';
                s += e;
            }
            continue;
          }
          s += d;
          ++q;
        }
        if (!closed) return Err(line_, "unterminated string");
        Emit(Token::Kind::kString, std::move(s));
        p = q;
      } else {
        static const char* kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                     "/",  "%",  "~",  "<",  ">",  "=",  "(", ")", "[",
                                     "]",  "{",  "}",  ",",  ".",  ":",  "|"};
        bool found = false;
        for (const char* op : kOps) {
          const size_t n = std::char_traits<char>::length(op);
          if (src_.compare(p, n, op) == 0) {
            Emit(Token::Kind::kOp, op);
            p += n;
            found = true;
            break;
          }
        }
        if (!found)
          return Err(line_, absl::StrCat("unexpected character '", std::string(1, c), "'"));
      }
    }
  }

  std::string src_;
  std::vector<Token> tokens_;
  int line_ = 1;
  size_t line_pos_ = 0;
  int line_count_ = 1;
};

class Parser {
 public:
  Parser(std::vector<Token> tokens, const Limits& limits)
      : toks_(std::move(tokens)), limits_(limits) {}

  absl::StatusOr<Body> ParseTemplate() {
    Body body;
    std::string end_tag;
    absl::Status s = ParseBody({}, &body, &end_tag);
    if (!s.ok()) return s;
    if (!end_tag.empty()) return Err(Cur().line, absl::StrCat("unexpected '", end_tag, "'"));
    return body;
  }

 private:
  const Token& Cur() const { return toks_[pos_]; }
  const Token& Peek(size_t k = 1) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  bool IsOp(std::string_view op) const {
    return Cur().kind == Token::Kind::kOp && Cur().text == op;
  }
  bool IsName(std::string_view n) const {
    return Cur().kind == Token::Kind::kName && Cur().text == n;
  }
  void Next() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  absl::Status Expect(std::string_view op) {
    if (!IsOp(op))
      return Err(Cur().line, absl::StrCat("expected '", Sv(op), "', found '", Cur().text, "'"));
    Next();
    return absl::OkStatus();
  }
  absl::Status ExpectBlockEnd() {
    if (Cur().kind != Token::Kind::kBlockEnd) {
      return Err(Cur().line, absl::StrCat("expected end of statement, found '", Cur().text, "'"));
    }
    Next();
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ExpectName() {
    if (Cur().kind != Token::Kind::kName) {
      return Err(Cur().line, absl::StrCat("expected a name, found '", Cur().text, "'"));
    }
    std::string n = Cur().text;
    Next();
    return n;
  }

  struct DepthGuard {
    explicit DepthGuard(int* d) : d_(d) { ++*d_; }
    ~DepthGuard() { --*d_; }
    int* d_;
  };

  // Parses statements until one of `ends` (a block tag name) or the end of input. The
  // found end tag's name is left in *end_tag with the parser after the tag name.
  absl::Status ParseBody(const std::vector<std::string_view>& ends, Body* body,
                         std::string* end_tag) {
    DepthGuard g(&depth_);
    if (depth_ > limits_.max_parse_depth) return Err(Cur().line, "blocks nested too deeply");
    end_tag->clear();
    while (Cur().kind != Token::Kind::kEnd) {
      const Token& t = Cur();
      if (t.kind == Token::Kind::kText) {
        auto st = std::make_shared<Stmt>();
        st->kind = Stmt::Kind::kText;
        st->text = t.text;
        body->push_back(st);
        Next();
      } else if (t.kind == Token::Kind::kVarBegin) {
        Next();
        auto st = std::make_shared<Stmt>();
        st->kind = Stmt::Kind::kOutput;
        st->line = t.line;
        absl::StatusOr<ExprPtr> e = ParseExpression();
        if (!e.ok()) return e.status();
        st->expr = *e;
        if (Cur().kind != Token::Kind::kVarEnd) {
          return Err(Cur().line, absl::StrCat("expected '}}', found '", Cur().text, "'"));
        }
        Next();
        body->push_back(st);
      } else if (t.kind == Token::Kind::kBlockBegin) {
        Next();
        if (Cur().kind != Token::Kind::kName) return Err(Cur().line, "expected a statement name");
        const std::string name = Cur().text;
        for (std::string_view e : ends) {
          if (name == e) {
            *end_tag = name;
            Next();
            return absl::OkStatus();
          }
        }
        Next();
        absl::StatusOr<StmtPtr> st = ParseStatement(name, t.line);
        if (!st.ok()) return st.status();
        if (*st != nullptr) body->push_back(*st);
      } else {
        return Err(t.line, absl::StrCat("unexpected '", t.text, "'"));
      }
    }
    if (!ends.empty()) {
      return Err(Cur().line, absl::StrCat("missing '{% ", Sv(ends.back()), " %}'"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<StmtPtr> ParseStatement(const std::string& name, int line) {
    auto st = std::make_shared<Stmt>();
    st->line = line;
    std::string end;
    if (name == "if") {
      st->kind = Stmt::Kind::kIf;
      while (true) {
        absl::StatusOr<ExprPtr> c = ParseExpression();
        if (!c.ok()) return c.status();
        JS_RETURN_IF_ERROR(ExpectBlockEnd());
        Body b;
        JS_RETURN_IF_ERROR(ParseBody({"elif", "else", "endif"}, &b, &end));
        st->conds.push_back(*c);
        st->bodies.push_back(std::move(b));
        if (end == "elif") continue;
        if (end == "else") {
          JS_RETURN_IF_ERROR(ExpectBlockEnd());
          JS_RETURN_IF_ERROR(ParseBody({"endif"}, &st->else_body, &end));
        }
        break;
      }
      JS_RETURN_IF_ERROR(ExpectBlockEnd());
      return StmtPtr(st);
    }
    if (name == "for") {
      st->kind = Stmt::Kind::kFor;
      while (true) {
        absl::StatusOr<std::string> n = ExpectName();
        if (!n.ok()) return n.status();
        st->targets.push_back(*n);
        if (!IsOp(",")) break;
        Next();
      }
      if (!IsName("in")) return Err(Cur().line, "expected 'in' in a for statement");
      Next();
      absl::StatusOr<ExprPtr> it = ParseOr(/*no_cond=*/true);
      if (!it.ok()) return it.status();
      st->expr = *it;
      if (IsName("if")) {
        Next();
        absl::StatusOr<ExprPtr> c = ParseOr(true);
        if (!c.ok()) return c.status();
        st->cond = *c;
      }
      if (IsName("recursive")) return Err(Cur().line, "recursive loops are not supported");
      JS_RETURN_IF_ERROR(ExpectBlockEnd());
      JS_RETURN_IF_ERROR(ParseBody({"else", "endfor"}, &st->body, &end));
      if (end == "else") {
        JS_RETURN_IF_ERROR(ExpectBlockEnd());
        JS_RETURN_IF_ERROR(ParseBody({"endfor"}, &st->else_body, &end));
      }
      JS_RETURN_IF_ERROR(ExpectBlockEnd());
      return StmtPtr(st);
    }
    if (name == "set") {
      absl::StatusOr<std::string> n = ExpectName();
      if (!n.ok()) return n.status();
      st->targets.push_back(*n);
      if (IsOp(".")) {
        Next();
        absl::StatusOr<std::string> a = ExpectName();
        if (!a.ok()) return a.status();
        st->attr = *a;
      } else {
        while (IsOp(",")) {
          Next();
          absl::StatusOr<std::string> m = ExpectName();
          if (!m.ok()) return m.status();
          st->targets.push_back(*m);
        }
      }
      if (Cur().kind == Token::Kind::kBlockEnd && st->attr.empty() && st->targets.size() == 1) {
        Next();
        st->kind = Stmt::Kind::kSetBlock;
        JS_RETURN_IF_ERROR(ParseBody({"endset"}, &st->body, &end));
        JS_RETURN_IF_ERROR(ExpectBlockEnd());
        return StmtPtr(st);
      }
      st->kind = Stmt::Kind::kSet;
      JS_RETURN_IF_ERROR(Expect("="));
      absl::StatusOr<ExprPtr> e = ParseTupleOrExpression();
      if (!e.ok()) return e.status();
      st->expr = *e;
      JS_RETURN_IF_ERROR(ExpectBlockEnd());
      return StmtPtr(st);
    }
    if (name == "macro") {
      st->kind = Stmt::Kind::kMacro;
      absl::StatusOr<std::string> n = ExpectName();
      if (!n.ok()) return n.status();
      st->name = *n;
      JS_RETURN_IF_ERROR(ParseParams(&st->params));
      JS_RETURN_IF_ERROR(ExpectBlockEnd());
      JS_RETURN_IF_ERROR(ParseBody({"endmacro"}, &st->body, &end));
      JS_RETURN_IF_ERROR(ExpectBlockEnd());
      return StmtPtr(st);
    }
    if (name == "call") {
      st->kind = Stmt::Kind::kCallBlock;
      if (IsOp("(")) JS_RETURN_IF_ERROR(ParseParams(&st->params));
      absl::StatusOr<ExprPtr> e = ParseExpression();
      if (!e.ok()) return e.status();
      if ((*e)->kind != Expr::Kind::kCall) return Err(line, "{% call %} needs a macro call");
      st->expr = *e;
      JS_RETURN_IF_ERROR(ExpectBlockEnd());
      JS_RETURN_IF_ERROR(ParseBody({"endcall"}, &st->body, &end));
      JS_RETURN_IF_ERROR(ExpectBlockEnd());
      return StmtPtr(st);
    }
    if (name == "filter") {
      st->kind = Stmt::Kind::kFilterBlock;
      auto f = std::make_shared<Expr>();
      f->kind = Expr::Kind::kFilter;
      f->kids.push_back(nullptr);
      absl::StatusOr<std::string> n = ExpectName();
      if (!n.ok()) return n.status();
      f->name = *n;
      if (IsOp("(")) JS_RETURN_IF_ERROR(ParseCallArgs(f.get()));
      st->expr = f;
      JS_RETURN_IF_ERROR(ExpectBlockEnd());
      JS_RETURN_IF_ERROR(ParseBody({"endfilter"}, &st->body, &end));
      JS_RETURN_IF_ERROR(ExpectBlockEnd());
      return StmtPtr(st);
    }
    if (name == "generation") {  // Hugging Face's assistant-mask marker: renders its body
      JS_RETURN_IF_ERROR(ExpectBlockEnd());
      st->kind = Stmt::Kind::kIf;
      auto t = std::make_shared<Expr>();
      t->value = Value::Bool(true);
      st->conds.push_back(t);
      st->bodies.emplace_back();
      JS_RETURN_IF_ERROR(ParseBody({"endgeneration"}, &st->bodies.back(), &end));
      JS_RETURN_IF_ERROR(ExpectBlockEnd());
      return StmtPtr(st);
    }
    if (name == "break" || name == "continue") {
      if (loop_depth_hint_ < 0) return Err(line, "break outside a loop");
      st->kind = name == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
      JS_RETURN_IF_ERROR(ExpectBlockEnd());
      return StmtPtr(st);
    }
    return Err(line, absl::StrCat("unknown statement '", name, "'"));
  }

  absl::Status ParseParams(std::vector<MacroParam>* params) {
    JS_RETURN_IF_ERROR(Expect("("));
    while (!IsOp(")")) {
      absl::StatusOr<std::string> n = ExpectName();
      if (!n.ok()) return n.status();
      MacroParam p{*n, nullptr};
      if (IsOp("=")) {
        Next();
        absl::StatusOr<ExprPtr> d = ParseExpression();
        if (!d.ok()) return d.status();
        p.default_value = *d;
      }
      params->push_back(std::move(p));
      if (IsOp(",")) {
        Next();
      } else if (!IsOp(")")) {
        return Err(Cur().line, "expected ',' or ')' in a parameter list");
      }
    }
    Next();
    return absl::OkStatus();
  }

  static ExprPtr Make(Expr::Kind k, std::vector<ExprPtr> kids, std::string name = "",
                      int line = 0) {
    auto e = std::make_shared<Expr>();
    e->kind = k;
    e->kids = std::move(kids);
    e->name = std::move(name);
    e->line = line;
    return e;
  }

  absl::StatusOr<ExprPtr> ParseTupleOrExpression() {
    absl::StatusOr<ExprPtr> first = ParseExpression();
    if (!first.ok() || !IsOp(",")) return first;
    std::vector<ExprPtr> items{*first};
    while (IsOp(",")) {
      Next();
      if (Cur().kind == Token::Kind::kBlockEnd) break;
      absl::StatusOr<ExprPtr> e = ParseExpression();
      if (!e.ok()) return e.status();
      items.push_back(*e);
    }
    return Make(Expr::Kind::kTuple, std::move(items));
  }

  absl::StatusOr<ExprPtr> ParseExpression() {
    DepthGuard g(&depth_);
    if (depth_ > limits_.max_parse_depth) return Err(Cur().line, "expression nested too deeply");
    absl::StatusOr<ExprPtr> e = ParseOr(false);
    if (!e.ok()) return e;
    while (IsName("if")) {
      const int line = Cur().line;
      Next();
      absl::StatusOr<ExprPtr> c = ParseOr(false);
      if (!c.ok()) return c;
      ExprPtr other;
      if (IsName("else")) {
        Next();
        absl::StatusOr<ExprPtr> o = ParseExpression();
        if (!o.ok()) return o;
        other = *o;
      }
      e = Make(Expr::Kind::kCondition, {*c, *e, other}, "", line);
    }
    return e;
  }

  absl::StatusOr<ExprPtr> ParseOr(bool no_cond) {
    absl::StatusOr<ExprPtr> l = ParseAnd(no_cond);
    while (l.ok() && IsName("or")) {
      Next();
      absl::StatusOr<ExprPtr> r = ParseAnd(no_cond);
      if (!r.ok()) return r;
      l = Make(Expr::Kind::kBinary, {*l, *r}, "or");
    }
    return l;
  }
  absl::StatusOr<ExprPtr> ParseAnd(bool no_cond) {
    absl::StatusOr<ExprPtr> l = ParseNot(no_cond);
    while (l.ok() && IsName("and")) {
      Next();
      absl::StatusOr<ExprPtr> r = ParseNot(no_cond);
      if (!r.ok()) return r;
      l = Make(Expr::Kind::kBinary, {*l, *r}, "and");
    }
    return l;
  }
  absl::StatusOr<ExprPtr> ParseNot(bool no_cond) {
    if (IsName("not")) {
      Next();
      DepthGuard g(&depth_);
      if (depth_ > limits_.max_parse_depth) return Err(Cur().line, "expression nested too deeply");
      absl::StatusOr<ExprPtr> e = ParseNot(no_cond);
      if (!e.ok()) return e;
      return Make(Expr::Kind::kUnary, {*e}, "not");
    }
    return ParseCompare();
  }
  absl::StatusOr<ExprPtr> ParseCompare() {
    absl::StatusOr<ExprPtr> l = ParseMath1();
    if (!l.ok()) return l;
    std::vector<ExprPtr> kids{*l};
    std::vector<std::string> ops;
    while (true) {
      std::string op;
      if (Cur().kind == Token::Kind::kOp &&
          (Cur().text == "==" || Cur().text == "!=" || Cur().text == "<" || Cur().text == "<=" ||
           Cur().text == ">" || Cur().text == ">=")) {
        op = Cur().text;
        Next();
      } else if (IsName("in")) {
        op = "in";
        Next();
      } else if (IsName("not") && Peek().kind == Token::Kind::kName && Peek().text == "in") {
        op = "not in";
        Next();
        Next();
      } else {
        break;
      }
      absl::StatusOr<ExprPtr> r = ParseMath1();
      if (!r.ok()) return r;
      kids.push_back(*r);
      ops.push_back(op);
    }
    if (ops.empty()) return kids[0];
    auto e = std::make_shared<Expr>();
    e->kind = Expr::Kind::kCompare;
    e->kids = std::move(kids);
    e->ops = std::move(ops);
    return ExprPtr(e);
  }
  absl::StatusOr<ExprPtr> ParseMath1() {
    absl::StatusOr<ExprPtr> l = ParseConcat();
    while (l.ok() && (IsOp("+") || IsOp("-"))) {
      const std::string op = Cur().text;
      Next();
      absl::StatusOr<ExprPtr> r = ParseConcat();
      if (!r.ok()) return r;
      l = Make(Expr::Kind::kBinary, {*l, *r}, op);
    }
    return l;
  }
  absl::StatusOr<ExprPtr> ParseConcat() {
    absl::StatusOr<ExprPtr> l = ParseMath2();
    while (l.ok() && IsOp("~")) {
      Next();
      absl::StatusOr<ExprPtr> r = ParseMath2();
      if (!r.ok()) return r;
      l = Make(Expr::Kind::kBinary, {*l, *r}, "~");
    }
    return l;
  }
  absl::StatusOr<ExprPtr> ParseMath2() {
    absl::StatusOr<ExprPtr> l = ParsePow();
    while (l.ok() && (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%"))) {
      const std::string op = Cur().text;
      Next();
      absl::StatusOr<ExprPtr> r = ParsePow();
      if (!r.ok()) return r;
      l = Make(Expr::Kind::kBinary, {*l, *r}, op);
    }
    return l;
  }
  absl::StatusOr<ExprPtr> ParsePow() {
    absl::StatusOr<ExprPtr> l = ParseUnary();
    while (l.ok() && IsOp("**")) {
      Next();
      absl::StatusOr<ExprPtr> r = ParseUnary();
      if (!r.ok()) return r;
      l = Make(Expr::Kind::kBinary, {*l, *r}, "**");
    }
    return l;
  }
  absl::StatusOr<ExprPtr> ParseUnary() {
    DepthGuard g(&depth_);
    if (depth_ > limits_.max_parse_depth) return Err(Cur().line, "expression nested too deeply");
    if (IsOp("-") || IsOp("+")) {
      const std::string op = Cur().text;
      Next();
      absl::StatusOr<ExprPtr> e = ParseUnary();
      if (!e.ok()) return e;
      return Make(Expr::Kind::kUnary, {*e}, op);
    }
    absl::StatusOr<ExprPtr> e = ParsePrimary();
    if (!e.ok()) return e;
    e = ParsePostfix(*e);
    if (!e.ok()) return e;
    return ParseFilters(*e);
  }

  absl::StatusOr<ExprPtr> ParsePrimary() {
    const Token t = Cur();
    switch (t.kind) {
      case Token::Kind::kName: {
        Next();
        if (t.text == "true" || t.text == "True") return Literal(Value::Bool(true));
        if (t.text == "false" || t.text == "False") return Literal(Value::Bool(false));
        if (t.text == "none" || t.text == "None") return Literal(Value::None());
        return Make(Expr::Kind::kName, {}, t.text, t.line);
      }
      case Token::Kind::kString: {
        std::string s = t.text;
        Next();
        while (Cur().kind == Token::Kind::kString) {  // adjacent literals concatenate
          s += Cur().text;
          Next();
        }
        return Literal(Value::String(std::move(s)));
      }
      case Token::Kind::kInt: {
        Next();
        errno = 0;
        const long long v = std::strtoll(t.text.c_str(), nullptr, 10);
        if (errno == ERANGE) return Err(t.line, "integer literal out of range");
        return Literal(Value::Int(v));
      }
      case Token::Kind::kFloat:
        Next();
        return Literal(Value::Float(std::strtod(t.text.c_str(), nullptr)));
      case Token::Kind::kOp:
        if (t.text == "(") {
          Next();
          if (IsOp(")")) {
            Next();
            return Make(Expr::Kind::kTuple, {});
          }
          absl::StatusOr<ExprPtr> e = ParseExpression();
          if (!e.ok()) return e;
          if (IsOp(",")) {
            std::vector<ExprPtr> items{*e};
            while (IsOp(",")) {
              Next();
              if (IsOp(")")) break;
              absl::StatusOr<ExprPtr> n = ParseExpression();
              if (!n.ok()) return n;
              items.push_back(*n);
            }
            JS_RETURN_IF_ERROR(Expect(")"));
            return Make(Expr::Kind::kTuple, std::move(items));
          }
          JS_RETURN_IF_ERROR(Expect(")"));
          return e;
        }
        if (t.text == "[") {
          Next();
          std::vector<ExprPtr> items;
          while (!IsOp("]")) {
            absl::StatusOr<ExprPtr> e = ParseExpression();
            if (!e.ok()) return e;
            items.push_back(*e);
            if (IsOp(",")) {
              Next();
            } else if (!IsOp("]")) {
              return Err(Cur().line, "expected ',' or ']' in a list");
            }
          }
          Next();
          return Make(Expr::Kind::kList, std::move(items));
        }
        if (t.text == "{") {
          Next();
          std::vector<ExprPtr> items;
          while (!IsOp("}")) {
            absl::StatusOr<ExprPtr> k = ParseExpression();
            if (!k.ok()) return k;
            JS_RETURN_IF_ERROR(Expect(":"));
            absl::StatusOr<ExprPtr> v = ParseExpression();
            if (!v.ok()) return v;
            items.push_back(*k);
            items.push_back(*v);
            if (IsOp(",")) {
              Next();
            } else if (!IsOp("}")) {
              return Err(Cur().line, "expected ',' or '}' in a dict");
            }
          }
          Next();
          return Make(Expr::Kind::kDict, std::move(items));
        }
        break;
      default:
        break;
    }
    return Err(t.line, absl::StrCat("unexpected '", t.text.empty() ? "end of tag" : t.text,
                                    "' in an expression"));
  }

  static absl::StatusOr<ExprPtr> Literal(Value v) {
    auto e = std::make_shared<Expr>();
    e->kind = Expr::Kind::kLiteral;
    e->value = std::move(v);
    return ExprPtr(e);
  }

  absl::StatusOr<ExprPtr> ParsePostfix(ExprPtr e) {
    while (true) {
      DepthGuard g(&depth_);
      if (depth_ > limits_.max_parse_depth * 4) return Err(Cur().line, "expression too long");
      if (IsOp(".")) {
        Next();
        if (Cur().kind == Token::Kind::kInt) {
          ExprPtr idx = *Literal(Value::Int(std::strtoll(Cur().text.c_str(), nullptr, 10)));
          Next();
          e = Make(Expr::Kind::kGetItem, {e, idx});
          continue;
        }
        absl::StatusOr<std::string> n = ExpectName();
        if (!n.ok()) return n.status();
        e = Make(Expr::Kind::kGetAttr, {e}, *n);
      } else if (IsOp("[")) {
        Next();
        ExprPtr parts[3];
        int colons = 0;
        while (true) {
          if (IsOp(":")) {
            if (++colons > 2) return Err(Cur().line, "bad slice");
            Next();
            continue;
          }
          if (IsOp("]")) break;
          absl::StatusOr<ExprPtr> p = ParseExpression();
          if (!p.ok()) return p;
          if (parts[colons] != nullptr) return Err(Cur().line, "bad subscript");
          parts[colons] = *p;
        }
        Next();
        if (colons == 0) {
          if (parts[0] == nullptr) return Err(Cur().line, "empty subscript");
          e = Make(Expr::Kind::kGetItem, {e, parts[0]});
        } else {
          e = Make(Expr::Kind::kSlice, {e, parts[0], parts[1], parts[2]});
        }
      } else if (IsOp("(")) {
        auto c = std::make_shared<Expr>();
        c->kind = Expr::Kind::kCall;
        c->line = Cur().line;
        c->kids.push_back(e);
        JS_RETURN_IF_ERROR(ParseCallArgs(c.get()));
        e = c;
      } else {
        return e;
      }
    }
  }

  // "(" args ")" into e->kids (after those present) and e->kw_names.
  absl::Status ParseCallArgs(Expr* e) {
    JS_RETURN_IF_ERROR(Expect("("));
    while (!IsOp(")")) {
      if (Cur().kind == Token::Kind::kName && Peek().kind == Token::Kind::kOp &&
          Peek().text == "=") {
        e->kw_names.push_back(Cur().text);
        Next();
        Next();
      } else if (!e->kw_names.empty()) {
        return Err(Cur().line, "positional argument after a keyword argument");
      }
      absl::StatusOr<ExprPtr> a = ParseExpression();
      if (!a.ok()) return a.status();
      e->kids.push_back(*a);
      if (IsOp(",")) {
        Next();
      } else if (!IsOp(")")) {
        return Err(Cur().line, "expected ',' or ')' in a call");
      }
    }
    Next();
    return absl::OkStatus();
  }

  absl::StatusOr<ExprPtr> ParseFilters(ExprPtr e) {
    while (true) {
      if (IsOp("|")) {
        Next();
        auto f = std::make_shared<Expr>();
        f->kind = Expr::Kind::kFilter;
        f->line = Cur().line;
        absl::StatusOr<std::string> n = ExpectName();
        if (!n.ok()) return n.status();
        f->name = *n;
        f->kids.push_back(e);
        if (IsOp("(")) JS_RETURN_IF_ERROR(ParseCallArgs(f.get()));
        e = f;
      } else if (IsName("is")) {
        Next();
        auto t = std::make_shared<Expr>();
        t->kind = Expr::Kind::kTest;
        t->line = Cur().line;
        if (IsName("not")) {
          t->negated = true;
          Next();
        }
        if (IsName("none") || IsName("true") || IsName("false")) {
          t->name = Cur().text;
          Next();
        } else {
          absl::StatusOr<std::string> n = ExpectName();
          if (!n.ok()) return n.status();
          t->name = *n;
        }
        t->kids.push_back(e);
        if (IsOp("(")) {
          JS_RETURN_IF_ERROR(ParseCallArgs(t.get()));
        } else if (Cur().kind == Token::Kind::kString || Cur().kind == Token::Kind::kInt ||
                   Cur().kind == Token::Kind::kFloat ||
                   (Cur().kind == Token::Kind::kName && !IsName("and") && !IsName("or") &&
                    !IsName("else") && !IsName("if") && !IsName("in") && !IsName("is") &&
                    !IsName("not") && !IsName("recursive"))) {
          absl::StatusOr<ExprPtr> a = ParsePrimary();
          if (!a.ok()) return a;
          a = ParsePostfix(*a);
          if (!a.ok()) return a;
          t->kids.push_back(*a);
        }
        e = t;
      } else {
        return e;
      }
    }
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  const Limits& limits_;
  int depth_ = 0;
  int loop_depth_hint_ = 0;
};

}  // namespace

absl::StatusOr<Body> Parse(std::string_view source, const Limits& limits) {
  if (source.size() > limits.max_template_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("chat template of ", source.size(),
                                                   " bytes exceeds the limit of ",
                                                   limits.max_template_bytes));
  }
  // jinja2 reads the source with splitlines(): \r\n and \r become \n, and (without
  // keep_trailing_newline) one trailing newline is dropped.
  std::string src;
  src.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      src += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      src += source[i];
    }
  }
  if (!src.empty() && src.back() == '\n') src.pop_back();
  Lexer lexer(std::move(src));
  absl::StatusOr<std::vector<Token>> tokens = lexer.Run();
  if (!tokens.ok()) return tokens.status();
  Parser parser(std::move(*tokens), limits);
  return parser.ParseTemplate();
}

}  // namespace jetserve::chat::jinja
