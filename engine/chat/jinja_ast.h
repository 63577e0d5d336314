// Syntax tree of a Jinja template: expressions and statements as the parser builds them
// and the evaluator (jinja.cc) walks them. Internal to engine/chat.
#ifndef JETSERVE_ENGINE_CHAT_JINJA_AST_H_
#define JETSERVE_ENGINE_CHAT_JINJA_AST_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/chat/value.h"

namespace jetserve::chat::jinja {

struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;

struct Expr {
  enum class Kind {
    kLiteral,   // value
    kName,      // name
    kList,      // kids
    kTuple,     // kids
    kDict,      // kids: key0, value0, key1, value1, ...
    kGetAttr,   // kids[0] . name
    kGetItem,   // kids[0] [ kids[1] ]
    kSlice,     // kids[0] [ kids[1] : kids[2] : kids[3] ] (null kids for omitted parts)
    kCall,      // kids[0] ( kids[1..] ); the last kw_names.size() arguments are keywords
    kFilter,    // kids[0] | name ( kids[1..] ), keywords as for kCall
    kTest,      // kids[0] is [not] name ( kids[1..] ); negated
    kUnary,     // op kids[0]: "-", "+", "not"
    kBinary,    // kids[0] op kids[1]: + - * / // % ** ~ and or in "not in"
    kCompare,   // kids[0] ops[0] kids[1] ops[1] kids[2] ... (Python chaining)
    kCondition  // kids[1] if kids[0] else kids[2] (kids[2] may be null)
  };
  Kind kind = Kind::kLiteral;
  Value value;
  std::string name;  // name, attribute, filter/test name, or operator
  std::vector<ExprPtr> kids;
  std::vector<std::string> kw_names;
  std::vector<std::string> ops;
  bool negated = false;
  int line = 0;
};

struct Stmt;
using StmtPtr = std::shared_ptr<const Stmt>;
using Body = std::vector<StmtPtr>;

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct Stmt {
  enum class Kind {
    kText,       // text
    kOutput,     // {{ expr }}
    kIf,         // conds[i] -> bodies[i]; else_body
    kFor,        // for targets in expr [if cond] body [else else_body]
    kSet,        // set targets = expr, or set ns.attr = expr (attr set)
    kSetBlock,   // set targets[0] %} body {% endset
    kMacro,      // macro name(params) body
    kCallBlock,  // call(params) expr %} body {% endcall
    kBreak,
    kContinue,
    kFilterBlock  // filter name(args) body: expr is a kFilter with a null input
  };
  Kind kind = Kind::kText;
  std::string text;
  ExprPtr expr;
  ExprPtr cond;
  std::vector<ExprPtr> conds;
  std::vector<Body> bodies;
  Body body;
  Body else_body;
  std::vector<std::string> targets;
  std::string attr;  // for `set ns.attr`
  std::string name;
  std::vector<MacroParam> params;
  int line = 0;
};

struct Limits {
  int max_parse_depth = 128;  // nesting of expressions and blocks
  int max_call_depth = 64;    // macro / caller recursion
  size_t max_output_bytes = 8u << 20;
  int64_t max_steps = 1'000'000;  // loop iterations + statements executed
  int64_t max_range = 1'000'000;
  size_t max_template_bytes = 1u << 20;
};

// Lexes and parses template source (jinja2 with trim_blocks and lstrip_blocks on, the
// settings Hugging Face chat templates are written for).
absl::StatusOr<Body> Parse(std::string_view source, const Limits& limits);

}  // namespace jetserve::chat::jinja

#endif  // JETSERVE_ENGINE_CHAT_JINJA_AST_H_
