// The values a Jinja template computes with, following Python's semantics as jinja2 has
// them: undefined, None, bool, int, float, str, list, dict (insertion-ordered, string
// keys), and callables (macros, bound methods, globals). Lists and dicts are shared by
// reference like Python objects (namespace() attributes change in place).
//
//   Value v = Value::FromJson(nlohmann::ordered_json::parse(text));
//   std::string s = v.Str();          // Python str(): "None", "True", "['a', 1]"
//   std::string j = v.ToJson(-1);     // json.dumps(v, ensure_ascii=False)
#ifndef JETSERVE_ENGINE_CHAT_VALUE_H_
#define JETSERVE_ENGINE_CHAT_VALUE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace jetserve::chat {

class Value;
using ValueList = std::vector<Value>;
using ValueDict = std::vector<std::pair<std::string, Value>>;

// Positional and keyword arguments of a call.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  // The keyword `name` or the positional argument at `index`, else nullptr.
  const Value* Get(std::string_view name, size_t index) const;
};
using Callable = std::function<absl::StatusOr<Value>(const CallArgs&)>;

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kCallable };

  Value() = default;  // undefined
  // An undefined value that remembers the name it came from (for error messages).
  static Value Undefined(std::string hint);
  const std::string* undefined_hint() const {
    return kind_ == Kind::kUndefined ? s_.get() : nullptr;
  }
  static Value None();
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Float(double d);
  static Value String(std::string s);
  static Value List(ValueList items = {});
  static Value Dict(ValueDict items = {});
  static Value Function(Callable fn);
  // A namespace(): a dict whose attributes `set ns.x = ...` may assign.
  static Value Namespace(ValueDict items = {});
  static Value FromJson(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat; }
  bool is_namespace() const { return kind_ == Kind::kDict && namespace_; }

  bool AsBool() const { return b_; }
  int64_t AsInt() const { return kind_ == Kind::kFloat ? static_cast<int64_t>(d_) : i_; }
  double AsFloat() const { return kind_ == Kind::kInt ? static_cast<double>(i_) : d_; }
  const std::string& AsString() const { return *s_; }
  ValueList& AsList() const { return *list_; }
  ValueDict& AsDict() const { return *dict_; }
  const Callable& AsCallable() const { return *fn_; }

  // Dict lookup: nullptr when absent.
  const Value* Find(std::string_view key) const;
  void Set(const std::string& key, Value v) const;  // dicts only

  bool Truthy() const;
  // Python str() / repr().
  std::string Str() const;
  std::string Repr() const;
  // json.dumps(v, ensure_ascii=False, indent=indent (<0: none), sort_keys); errors for
  // values JSON cannot hold (callables).
  absl::StatusOr<std::string> ToJson(int indent, bool sort_keys = false,
                                     const std::string* item_sep = nullptr,
                                     const std::string* key_sep = nullptr) const;
  // Python ==.
  bool Equals(const Value& o) const;
  const char* TypeName() const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool b_ = false;
  bool namespace_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::shared_ptr<const std::string> s_;
  std::shared_ptr<ValueList> list_;
  std::shared_ptr<ValueDict> dict_;
  std::shared_ptr<const Callable> fn_;
};

// Python's repr() of a float ("1.0", "0.1", "1e-05", "inf").
std::string PythonFloat(double d);
// Unicode code points of UTF-8 text (invalid bytes map to themselves) and back.
std::u32string Utf8ToCodepoints(std::string_view s);
std::string CodepointsToUtf8(std::u32string_view s);

}  // namespace jetserve::chat

#endif  // JETSERVE_ENGINE_CHAT_VALUE_H_
