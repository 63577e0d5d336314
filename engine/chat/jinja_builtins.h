// Jinja's built-in operations with Python semantics: operators, attribute and item access,
// slicing, filters, tests and the methods of str/dict/list. Internal to engine/chat.
#ifndef JETSERVE_ENGINE_CHAT_JINJA_BUILTINS_H_
#define JETSERVE_ENGINE_CHAT_JINJA_BUILTINS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/chat/jinja_ast.h"
#include "engine/chat/value.h"

namespace jetserve::chat::jinja {

// What builtins need from the evaluator: calling values (macros as map() arguments) and
// counting steps against the limits.
class Interpreter {
 public:
  virtual ~Interpreter() = default;
  virtual absl::StatusOr<Value> CallValue(const Value& fn, const CallArgs& args) = 0;
  virtual absl::Status Step() = 0;
  virtual const Limits& limits() const = 0;
};

Value MakeUndefined(std::string name);
// "'name'" of an undefined value, for messages.
std::string UndefinedName(const Value& v);

// The items a for loop visits: list items, dict keys, string characters.
absl::StatusOr<ValueList> Iterate(const Value& v);

absl::StatusOr<Value> GetAttr(Interpreter& in, const Value& obj, const std::string& name);
absl::StatusOr<Value> GetItem(Interpreter& in, const Value& obj, const Value& key);
absl::StatusOr<Value> Slice(const Value& obj, const Value& start, const Value& stop,
                            const Value& step);
// + - * / // % ** ~
absl::StatusOr<Value> BinaryOp(Interpreter& in, const std::string& op, const Value& l,
                               const Value& r);
// == != < <= > >= in "not in"
absl::StatusOr<bool> Compare(const std::string& op, const Value& l, const Value& r);

absl::StatusOr<Value> ApplyFilter(Interpreter& in, const std::string& name, const Value& input,
                                  const CallArgs& args);
absl::StatusOr<bool> ApplyTest(Interpreter& in, const std::string& name, const Value& input,
                               const CallArgs& args);

}  // namespace jetserve::chat::jinja

#endif  // JETSERVE_ENGINE_CHAT_JINJA_BUILTINS_H_
