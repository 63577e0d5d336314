#include "engine/chat/jinja_builtins.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model/status_macros.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::chat::jinja {
namespace {

absl::Status Error(std::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("chat template: ", Sv(msg)));
}

bool IsPySpace(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
         (c >= 0x1c && c <= 0x1f) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
         c == 0x3000;
}

bool IsAscii(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Python str.strip family. chars == nullptr strips whitespace.
std::string Strip(const std::string& s, const Value* chars, bool left, bool right) {
  std::u32string u = Utf8ToCodepoints(s);
  std::u32string set;
  const bool ws = chars == nullptr || chars->is_none() || chars->is_undefined();
  if (!ws) set = Utf8ToCodepoints(chars->Str());
  auto strip = [&](char32_t c) { return ws ? IsPySpace(c) : set.find(c) != std::u32string::npos; };
  size_t b = 0, e = u.size();
  if (left) {
    while (b < e && strip(u[b])) ++b;
  }
  if (right) {
    while (e > b && strip(u[e - 1])) --e;
  }
  return CodepointsToUtf8(std::u32string_view(u).substr(b, e - b));
}

ValueList Split(const std::string& s, const Value* sep, int64_t maxsplit) {
  ValueList out;
  if (sep == nullptr || sep->is_none() || sep->is_undefined()) {
    std::u32string u = Utf8ToCodepoints(s);
    size_t i = 0;
    while (true) {
      while (i < u.size() && IsPySpace(u[i])) ++i;
      if (i >= u.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
        size_t e = u.size();
        while (e > i && IsPySpace(u[e - 1])) --e;
        out.push_back(Value::String(CodepointsToUtf8(std::u32string_view(u).substr(i, e - i))));
        break;
      }
      size_t j = i;
      while (j < u.size() && !IsPySpace(u[j])) ++j;
      out.push_back(Value::String(CodepointsToUtf8(std::u32string_view(u).substr(i, j - i))));
      i = j;
    }
    return out;
  }
  const std::string d = sep->Str();
  size_t start = 0;
  while (true) {
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) break;
    const size_t p = s.find(d, start);
    if (p == std::string::npos) break;
    out.push_back(Value::String(s.substr(start, p - start)));
    start = p + d.size();
  }
  out.push_back(Value::String(s.substr(start)));
  return out;
}

std::string ReplaceAll(const std::string& s, const std::string& from, const std::string& to,
                       int64_t count) {
  std::string out;
  if (from.empty()) {  // Python inserts `to` around every character
    std::u32string u = Utf8ToCodepoints(s);
    int64_t n = 0;
    for (const char32_t c : u) {
      if (count < 0 || n < count) {
        out += to;
        ++n;
      }
      out += CodepointsToUtf8(std::u32string(1, c));
    }
    if (count < 0 || n < count) out += to;
    return out;
  }
  size_t start = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    const size_t p = s.find(from, start);
    if (p == std::string::npos) break;
    out.append(s, start, p - start);
    out += to;
    start = p + from.size();
    ++n;
  }
  out.append(s, start, std::string::npos);
  return out;
}

char32_t Upper(char32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if ((c >= 0xe0 && c <= 0xfe && c != 0xf7)) return c - 32;
  if (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2) return c - 32;
  if (c >= 0x430 && c <= 0x44f) return c - 32;
  return c;
}
char32_t Lower(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if ((c >= 0xc0 && c <= 0xde && c != 0xd7)) return c + 32;
  if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) return c + 32;
  if (c >= 0x410 && c <= 0x42f) return c + 32;
  return c;
}
bool IsAlpha(char32_t c) { return Upper(c) != c || Lower(c) != c; }

std::string MapCase(const std::string& s, int mode) {  // 0 upper, 1 lower, 2 title, 3 capitalize
  std::u32string u = Utf8ToCodepoints(s);
  bool prev_cased = false;
  for (size_t i = 0; i < u.size(); ++i) {
    const char32_t c = u[i];
    switch (mode) {
      case 0:
        u[i] = Upper(c);
        break;
      case 1:
        u[i] = Lower(c);
        break;
      case 2:
        u[i] = prev_cased ? Lower(c) : Upper(c);
        prev_cased = IsAlpha(c);
        break;
      default:
        u[i] = i == 0 ? Upper(c) : Lower(c);
    }
  }
  return CodepointsToUtf8(u);
}

int64_t Len(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kString:
      return IsAscii(v.AsString()) ? static_cast<int64_t>(v.AsString().size())
                                   : static_cast<int64_t>(Utf8ToCodepoints(v.AsString()).size());
    case Value::Kind::kList:
      return static_cast<int64_t>(v.AsList().size());
    case Value::Kind::kDict:
      return static_cast<int64_t>(v.AsDict().size());
    default:
      return -1;
  }
}

Value Method(std::function<absl::StatusOr<Value>(const CallArgs&)> fn) {
  return Value::Function(std::move(fn));
}

absl::StatusOr<Value> StringMethod(const Value& obj, const std::string& name) {
  const std::string s = obj.AsString();
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool l = name != "rstrip", r = name != "lstrip";
    return Method([s, l, r](const CallArgs& a) -> absl::StatusOr<Value> {
      return Value::String(Strip(s, a.Get("chars", 0), l, r));
    });
  }
  if (name == "split") {
    return Method([s](const CallArgs& a) -> absl::StatusOr<Value> {
      const Value* m = a.Get("maxsplit", 1);
      return Value::List(Split(s, a.Get("sep", 0), m ? m->AsInt() : -1));
    });
  }
  if (name == "startswith" || name == "endswith") {
    const bool start = name == "startswith";
    return Method([s, start](const CallArgs& a) -> absl::StatusOr<Value> {
      const Value* p = a.Get("prefix", 0);
      if (p == nullptr) return Error("startswith/endswith need an argument");
      std::vector<std::string> options;
      if (p->is_list()) {
        for (const Value& v : p->AsList()) options.push_back(v.Str());
      } else if (p->is_string()) {
        options.push_back(p->AsString());
      } else {
        return Error("startswith/endswith need a string");
      }
      for (const std::string& o : options) {
        if (o.size() <= s.size() && (start ? s.compare(0, o.size(), o) == 0
                                           : s.compare(s.size() - o.size(), o.size(), o) == 0)) {
          return Value::Bool(true);
        }
      }
      return Value::Bool(false);
    });
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    const int mode = name == "upper" ? 0 : name == "lower" ? 1 : name == "title" ? 2 : 3;
    return Method([s, mode](const CallArgs&) -> absl::StatusOr<Value> {
      return Value::String(MapCase(s, mode));
    });
  }
  if (name == "replace") {
    return Method([s](const CallArgs& a) -> absl::StatusOr<Value> {
      const Value* f = a.Get("old", 0);
      const Value* t = a.Get("new", 1);
      const Value* c = a.Get("count", 2);
      if (f == nullptr || t == nullptr || !f->is_string() || !t->is_string()) {
        return Error("replace() needs two strings");
      }
      return Value::String(ReplaceAll(s, f->AsString(), t->AsString(), c ? c->AsInt() : -1));
    });
  }
  if (name == "find") {
    return Method([s](const CallArgs& a) -> absl::StatusOr<Value> {
      const Value* f = a.Get("sub", 0);
      if (f == nullptr || !f->is_string()) return Error("find() needs a string");
      const size_t p = s.find(f->AsString());
      if (p == std::string::npos) return Value::Int(-1);
      return Value::Int(static_cast<int64_t>(Utf8ToCodepoints(s.substr(0, p)).size()));
    });
  }
  if (name == "count") {
    return Method([s](const CallArgs& a) -> absl::StatusOr<Value> {
      const Value* f = a.Get("sub", 0);
      if (f == nullptr || !f->is_string() || f->AsString().empty()) {
        return Error("count() needs a non-empty string");
      }
      int64_t n = 0;
      for (size_t p = s.find(f->AsString()); p != std::string::npos;
           p = s.find(f->AsString(), p + f->AsString().size())) {
        ++n;
      }
      return Value::Int(n);
    });
  }
  if (name == "join") {
    return Method([s](const CallArgs& a) -> absl::StatusOr<Value> {
      const Value* l = a.Get("iterable", 0);
      if (l == nullptr) return Error("join() needs a list");
      JS_ASSIGN_OR_RETURN(ValueList items, Iterate(*l));
      std::string out;
      for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i].is_string()) return Error("join() needs strings");
        if (i > 0) out += s;
        out += items[i].AsString();
      }
      return Value::String(std::move(out));
    });
  }
  if (name == "splitlines") {
    return Method([s](const CallArgs&) -> absl::StatusOr<Value> {
      ValueList out;
      size_t start = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\n' || s[i] == '\r') {
          out.push_back(Value::String(s.substr(start, i - start)));
          if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
          start = i + 1;
        }
      }
      if (start < s.size()) out.push_back(Value::String(s.substr(start)));
      return Value::List(std::move(out));
    });
  }
  if (name == "isdigit" || name == "isalpha" || name == "isspace" || name == "isupper" ||
      name == "islower") {
    return Method([s, name](const CallArgs&) -> absl::StatusOr<Value> {
      if (s.empty()) return Value::Bool(false);
      std::u32string u = Utf8ToCodepoints(s);
      bool ok = true, cased = false;
      for (const char32_t c : u) {
        if (name == "isdigit") ok &= c >= '0' && c <= '9';
        if (name == "isalpha") ok &= IsAlpha(c);
        if (name == "isspace") ok &= IsPySpace(c);
        if (name == "isupper") ok &= Upper(c) == c, cased |= Lower(c) != c;
        if (name == "islower") ok &= Lower(c) == c, cased |= Upper(c) != c;
      }
      if (name == "isupper" || name == "islower") ok &= cased;
      return Value::Bool(ok);
    });
  }
  return MakeUndefined(name);
}

ValueList DictItems(const Value& d) {
  ValueList out;
  for (const auto& [k, v] : d.AsDict()) out.push_back(Value::List({Value::String(k), v}));
  return out;
}

absl::StatusOr<Value> DictMethod(const Value& obj, const std::string& name, bool* found) {
  *found = true;
  if (name == "items") {
    return Method(
        [obj](const CallArgs&) -> absl::StatusOr<Value> { return Value::List(DictItems(obj)); });
  }
  if (name == "keys") {
    return Method([obj](const CallArgs&) -> absl::StatusOr<Value> {
      ValueList out;
      for (const auto& kv : obj.AsDict()) out.push_back(Value::String(kv.first));
      return Value::List(std::move(out));
    });
  }
  if (name == "values") {
    return Method([obj](const CallArgs&) -> absl::StatusOr<Value> {
      ValueList out;
      for (const auto& kv : obj.AsDict()) out.push_back(kv.second);
      return Value::List(std::move(out));
    });
  }
  if (name == "get") {
    return Method([obj](const CallArgs& a) -> absl::StatusOr<Value> {
      const Value* k = a.Get("key", 0);
      if (k == nullptr) return Error("get() needs a key");
      if (k->is_string()) {
        const Value* v = obj.Find(k->AsString());
        if (v != nullptr) return *v;
      }
      const Value* d = a.Get("default", 1);
      return d ? *d : Value::None();
    });
  }
  *found = false;
  return Value();
}

int64_t NormIndex(int64_t i, int64_t n) { return i < 0 ? i + n : i; }

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Attribute path "a.b" lookup used by map/selectattr/sort/join.
absl::StatusOr<Value> AttrPath(Interpreter& in, const Value& v, const std::string& path) {
  Value cur = v;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!part.empty() &&
        std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      JS_ASSIGN_OR_RETURN(cur, GetItem(in, cur, Value::Int(std::atoll(part.c_str()))));
    } else {
      JS_ASSIGN_OR_RETURN(cur, GetItem(in, cur, Value::String(part)));
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

absl::StatusOr<int> CompareOrder(const Value& l, const Value& r) {
  if (l.is_number() || l.kind() == Value::Kind::kBool) {
    if (!(r.is_number() || r.kind() == Value::Kind::kBool)) {
      return Error(absl::StrCat("cannot compare '", l.TypeName(), "' and '", r.TypeName(), "'"));
    }
    const double a = l.kind() == Value::Kind::kBool ? (l.AsBool() ? 1 : 0) : l.AsFloat();
    const double b = r.kind() == Value::Kind::kBool ? (r.AsBool() ? 1 : 0) : r.AsFloat();
    if (l.kind() == Value::Kind::kInt && r.kind() == Value::Kind::kInt) {
      return l.AsInt() < r.AsInt() ? -1 : l.AsInt() > r.AsInt() ? 1 : 0;
    }
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (l.is_string() && r.is_string()) {
    const int c = l.AsString().compare(r.AsString());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (l.is_list() && r.is_list()) {
    const ValueList& a = l.AsList();
    const ValueList& b = r.AsList();
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      if (a[i].Equals(b[i])) continue;
      return CompareOrder(a[i], b[i]);
    }
    return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
  }
  return Error(absl::StrCat("cannot compare '", l.TypeName(), "' and '", r.TypeName(), "'"));
}

absl::StatusOr<Value> ToJsonFilter(const Value& v, const CallArgs& a) {
  int indent = -1;
  const Value* ind = a.Get("indent", 0);
  if (ind != nullptr && !ind->is_none()) {
    if (ind->kind() != Value::Kind::kInt) return Error("tojson indent must be an integer");
    indent = static_cast<int>(std::clamp<int64_t>(ind->AsInt(), 0, 64));
  }
  const Value* sort = a.Get("sort_keys", 99);
  std::string item_sep, key_sep;
  const Value* seps = a.Get("separators", 99);
  if (seps != nullptr && seps->is_list() && seps->AsList().size() == 2) {
    item_sep = seps->AsList()[0].Str();
    key_sep = seps->AsList()[1].Str();
  }
  const bool custom = seps != nullptr && seps->is_list() && seps->AsList().size() == 2;
  JS_ASSIGN_OR_RETURN(std::string s,
                      v.ToJson(indent, sort != nullptr && sort->Truthy(),
                               custom ? &item_sep : nullptr, custom ? &key_sep : nullptr));
  const Value* ascii = a.Get("ensure_ascii", 99);
  if (ascii != nullptr && ascii->Truthy() && !IsAscii(s)) {
    std::u32string u = Utf8ToCodepoints(s);
    std::string out;
    for (const char32_t c : u) {
      if (c < 0x80) {
        out += static_cast<char>(c);
        continue;
      }
      auto put = [&](uint32_t x) {
        char b[16];
        std::snprintf(b, sizeof(b), "\\u%04x", x);
        out += b;
      };
      if (c >= 0x10000) {
        const uint32_t x = static_cast<uint32_t>(c) - 0x10000;
        put(0xd800 + (x >> 10));
        put(0xdc00 + (x & 0x3ff));
      } else {
        put(static_cast<uint32_t>(c));
      }
    }
    s = std::move(out);
  }
  return Value::String(std::move(s));
}

}  // namespace

Value MakeUndefined(std::string name) { return Value::Undefined(std::move(name)); }

std::string UndefinedName(const Value& v) {
  const std::string* h = v.undefined_hint();
  return h ? absl::StrCat("'", *h, "'") : "a value";
}

absl::StatusOr<ValueList> Iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return ValueList{};
    case Value::Kind::kList:
      return v.AsList();
    case Value::Kind::kDict: {
      ValueList keys;
      for (const auto& kv : v.AsDict()) keys.push_back(Value::String(kv.first));
      return keys;
    }
    case Value::Kind::kString: {
      ValueList chars;
      for (const char32_t c : Utf8ToCodepoints(v.AsString())) {
        chars.push_back(Value::String(CodepointsToUtf8(std::u32string(1, c))));
      }
      return chars;
    }
    default:
      return Error(absl::StrCat("'", v.TypeName(), "' object is not iterable"));
  }
}

absl::StatusOr<Value> GetAttr(Interpreter& in, const Value& obj, const std::string& name) {
  if (obj.is_undefined()) {
    return Error(
        absl::StrCat(UndefinedName(obj), " is undefined (reading attribute '", name, "')"));
  }
  if (obj.is_dict()) {
    if (!obj.is_namespace()) {
      bool found = false;
      absl::StatusOr<Value> m = DictMethod(obj, name, &found);
      if (found) return m;
    }
    const Value* v = obj.Find(name);
    return v ? *v : MakeUndefined(name);
  }
  if (obj.is_string()) return StringMethod(obj, name);
  (void)in;
  return MakeUndefined(name);
}

absl::StatusOr<Value> GetItem(Interpreter& in, const Value& obj, const Value& key) {
  if (obj.is_undefined()) {
    return Error(absl::StrCat(UndefinedName(obj), " is undefined (reading item ", key.Repr(), ")"));
  }
  if (obj.is_dict()) {
    if (key.is_string()) {
      const Value* v = obj.Find(key.AsString());
      if (v != nullptr) return *v;
      return GetAttr(in, obj, key.AsString());
    }
    return MakeUndefined(key.Str());
  }
  if ((obj.is_list() || obj.is_string()) && key.kind() == Value::Kind::kInt) {
    if (obj.is_list()) {
      const int64_t n = static_cast<int64_t>(obj.AsList().size());
      const int64_t i = NormIndex(key.AsInt(), n);
      if (i < 0 || i >= n) return MakeUndefined(key.Str());
      return obj.AsList()[static_cast<size_t>(i)];
    }
    std::u32string u = Utf8ToCodepoints(obj.AsString());
    const int64_t n = static_cast<int64_t>(u.size());
    const int64_t i = NormIndex(key.AsInt(), n);
    if (i < 0 || i >= n) return MakeUndefined(key.Str());
    return Value::String(CodepointsToUtf8(std::u32string(1, u[static_cast<size_t>(i)])));
  }
  if (key.is_string()) return GetAttr(in, obj, key.AsString());
  return MakeUndefined(key.Str());
}

absl::StatusOr<Value> Slice(const Value& obj, const Value& start, const Value& stop,
                            const Value& step) {
  auto as_int = [](const Value& v, int64_t dflt, int64_t* out) {
    if (v.is_undefined() || v.is_none()) {
      *out = dflt;
      return true;
    }
    if (v.kind() != Value::Kind::kInt) return false;
    *out = v.AsInt();
    return true;
  };
  int64_t st = 1;
  if (!as_int(step, 1, &st)) return Error("slice indices must be integers");
  if (st == 0) return Error("slice step cannot be zero");
  std::u32string u;
  int64_t n;
  if (obj.is_list()) {
    n = static_cast<int64_t>(obj.AsList().size());
  } else if (obj.is_string()) {
    u = Utf8ToCodepoints(obj.AsString());
    n = static_cast<int64_t>(u.size());
  } else if (obj.is_undefined()) {
    return Error(absl::StrCat(UndefinedName(obj), " is undefined (slicing)"));
  } else {
    return Error(absl::StrCat("'", obj.TypeName(), "' object is not subscriptable"));
  }
  int64_t b, e;
  if (!as_int(start, st > 0 ? 0 : n - 1, &b) || !as_int(stop, st > 0 ? n : -n - 1, &e)) {
    return Error("slice indices must be integers");
  }
  auto clamp = [&](int64_t i, bool is_start_or_stop) {
    (void)is_start_or_stop;
    if (i < 0) i += n;
    if (st > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  if (!(start.is_undefined() || start.is_none())) b = clamp(b, true);
  if (!(stop.is_undefined() || stop.is_none())) {
    e = clamp(e, false);
  } else {
    e = st > 0 ? n : -1;
  }
  std::vector<int64_t> idx;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) idx.push_back(i);
  if (obj.is_list()) {
    ValueList out;
    for (const int64_t i : idx) out.push_back(obj.AsList()[static_cast<size_t>(i)]);
    return Value::List(std::move(out));
  }
  std::u32string out;
  for (const int64_t i : idx) out.push_back(u[static_cast<size_t>(i)]);
  return Value::String(CodepointsToUtf8(out));
}

absl::StatusOr<Value> BinaryOp(Interpreter& in, const std::string& op, const Value& l,
                               const Value& r) {
  if (op == "~") {
    const std::string s = l.Str() + r.Str();
    if (s.size() > in.limits().max_output_bytes) return Error("string too long");
    return Value::String(s);
  }
  auto type_error = [&]() {
    return Error(absl::StrCat("unsupported operand types for ", op, ": '", l.TypeName(), "' and '",
                              r.TypeName(), "'"));
  };
  auto num = [](const Value& v) { return v.is_number() || v.kind() == Value::Kind::kBool; };
  auto ival = [](const Value& v) {
    return v.kind() == Value::Kind::kBool ? (v.AsBool() ? 1 : 0) : v.AsInt();
  };
  auto fval = [](const Value& v) {
    return v.kind() == Value::Kind::kBool ? (v.AsBool() ? 1.0 : 0.0) : v.AsFloat();
  };
  if (op == "+") {
    if (l.is_string() && r.is_string()) {
      if (l.AsString().size() + r.AsString().size() > in.limits().max_output_bytes) {
        return Error("string too long");
      }
      return Value::String(l.AsString() + r.AsString());
    }
    if (l.is_list() && r.is_list()) {
      ValueList out = l.AsList();
      out.insert(out.end(), r.AsList().begin(), r.AsList().end());
      return Value::List(std::move(out));
    }
  }
  if (op == "*") {
    const Value* s = l.is_string() || l.is_list()   ? &l
                     : r.is_string() || r.is_list() ? &r
                                                    : nullptr;
    const Value* n = s == &l ? &r : &l;
    if (s != nullptr && n->kind() == Value::Kind::kInt) {
      const int64_t times = std::max<int64_t>(0, n->AsInt());
      const int64_t len = s->is_string() ? static_cast<int64_t>(s->AsString().size())
                                         : static_cast<int64_t>(s->AsList().size());
      if (len > 0 && times > static_cast<int64_t>(in.limits().max_output_bytes) / len) {
        return Error("repetition too long");
      }
      if (s->is_string()) {
        std::string out;
        for (int64_t i = 0; i < times; ++i) out += s->AsString();
        return Value::String(std::move(out));
      }
      ValueList out;
      for (int64_t i = 0; i < times; ++i) {
        out.insert(out.end(), s->AsList().begin(), s->AsList().end());
      }
      return Value::List(std::move(out));
    }
  }
  if (!num(l) || !num(r)) return type_error();
  const bool ints = l.kind() != Value::Kind::kFloat && r.kind() != Value::Kind::kFloat;
  if (op == "+") return ints ? Value::Int(ival(l) + ival(r)) : Value::Float(fval(l) + fval(r));
  if (op == "-") return ints ? Value::Int(ival(l) - ival(r)) : Value::Float(fval(l) - fval(r));
  if (op == "*") return ints ? Value::Int(ival(l) * ival(r)) : Value::Float(fval(l) * fval(r));
  if (op == "/") {
    if (fval(r) == 0) return Error("division by zero");
    return Value::Float(fval(l) / fval(r));
  }
  if (op == "//" || op == "%") {
    if (fval(r) == 0) return Error("integer division or modulo by zero");
    if (ints) {
      const int64_t a = ival(l), b = ival(r);
      int64_t q = a / b, m = a % b;
      if (m != 0 && ((m < 0) != (b < 0))) {
        q -= 1;
        m += b;
      }
      return Value::Int(op == "//" ? q : m);
    }
    const double a = fval(l), b = fval(r);
    const double q = std::floor(a / b);
    return Value::Float(op == "//" ? q : a - q * b);
  }
  if (op == "**") {
    if (ints && ival(r) >= 0) {
      int64_t out = 1;
      for (int64_t i = 0; i < ival(r) && i < 64; ++i) out *= ival(l);
      return Value::Int(out);
    }
    return Value::Float(std::pow(fval(l), fval(r)));
  }
  return type_error();
}

absl::StatusOr<bool> Compare(const std::string& op, const Value& l, const Value& r) {
  if (op == "==") return l.Equals(r);
  if (op == "!=") return !l.Equals(r);
  if (op == "in" || op == "not in") {
    bool found = false;
    if (r.is_string()) {
      if (!l.is_string()) {
        return Error(absl::StrCat("'in <string>' requires a string, not '", l.TypeName(), "'"));
      }
      found = r.AsString().find(l.AsString()) != std::string::npos;
    } else if (r.is_list()) {
      for (const Value& v : r.AsList()) found = found || v.Equals(l);
    } else if (r.is_dict()) {
      found = l.is_string() && r.Find(l.AsString()) != nullptr;
    } else if (!r.is_undefined()) {
      return Error(absl::StrCat("argument of type '", r.TypeName(), "' is not iterable"));
    }
    return op == "in" ? found : !found;
  }
  JS_ASSIGN_OR_RETURN(int c, CompareOrder(l, r));
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  if (op == ">=") return c >= 0;
  return Error(absl::StrCat("unknown operator ", op));
}

absl::StatusOr<bool> ApplyTest(Interpreter& in, const std::string& name, const Value& v,
                               const CallArgs& a) {
  const Value* arg = a.Get("value", 0);
  auto need_arg = [&]() -> absl::Status {
    return arg ? absl::OkStatus() : Error(absl::StrCat("test '", name, "' needs an argument"));
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.kind() == Value::Kind::kBool;
  if (name == "true") return v.kind() == Value::Kind::kBool && v.AsBool();
  if (name == "false") return v.kind() == Value::Kind::kBool && !v.AsBool();
  if (name == "integer") return v.kind() == Value::Kind::kInt;
  if (name == "float") return v.kind() == Value::Kind::kFloat;
  if (name == "number") return v.is_number() || v.kind() == Value::Kind::kBool;
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string();
  if (name == "callable") return v.kind() == Value::Kind::kCallable;
  if (name == "lower") return v.is_string() && MapCase(v.AsString(), 1) == v.AsString();
  if (name == "upper") return v.is_string() && MapCase(v.AsString(), 0) == v.AsString();
  if (name == "odd" || name == "even") {
    if (v.kind() != Value::Kind::kInt) return Error("odd/even need an integer");
    return (v.AsInt() % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    JS_RETURN_IF_ERROR(need_arg());
    if (v.kind() != Value::Kind::kInt || arg->kind() != Value::Kind::kInt || arg->AsInt() == 0) {
      return Error("divisibleby needs non-zero integers");
    }
    return v.AsInt() % arg->AsInt() == 0;
  }
  static const std::pair<const char*, const char*> kCompare[] = {
      {"equalto", "=="}, {"eq", "=="},         {"==", "=="},      {"ne", "!="},
      {"!=", "!="},      {"lt", "<"},          {"lessthan", "<"}, {"le", "<="},
      {"gt", ">"},       {"greaterthan", ">"}, {"ge", ">="},      {"in", "in"}};
  for (const auto& [tn, op] : kCompare) {
    if (name == tn) {
      JS_RETURN_IF_ERROR(need_arg());
      return Compare(op, v, *arg);
    }
  }
  if (name == "sameas") {
    JS_RETURN_IF_ERROR(need_arg());
    return v.Equals(*arg) && v.kind() == arg->kind();
  }
  if (name == "escaped") return false;
  (void)in;
  return Error(absl::StrCat("unknown test '", name, "'"));
}

absl::StatusOr<Value> ApplyFilter(Interpreter& in, const std::string& name, const Value& v,
                                  const CallArgs& a) {
  auto need_string = [&]() -> absl::Status {
    if (v.is_string()) return absl::OkStatus();
    return Error(absl::StrCat("filter '", name, "' needs a string, got '", v.TypeName(), "'"));
  };
  if (name == "safe" || name == "string") {
    if (name == "safe" && !v.is_string()) return v;
    return Value::String(v.Str());
  }
  if (name == "trim") {
    return Value::String(Strip(v.Str(), a.Get("chars", 0), true, true));
  }
  if (name == "length" || name == "count") {
    if (v.is_undefined()) return Value::Int(0);
    const int64_t n = Len(v);
    if (n < 0) return Error(absl::StrCat("object of type '", v.TypeName(), "' has no len()"));
    return Value::Int(n);
  }
  if (name == "tojson") return ToJsonFilter(v, a);
  if (name == "upper" || name == "lower" || name == "capitalize") {
    const int mode = name == "upper" ? 0 : name == "lower" ? 1 : 3;
    return Value::String(MapCase(v.Str(), mode));
  }
  if (name == "title") {
    // jinja2's title(): capitalizes the first letter of each word split at spaces,
    // hyphens and opening brackets.
    std::u32string u = Utf8ToCodepoints(v.Str());
    bool start = true;
    for (char32_t& c : u) {
      const bool sep = IsPySpace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
      if (sep) {
        start = true;
        continue;
      }
      c = start ? Upper(c) : Lower(c);
      start = false;
    }
    return Value::String(CodepointsToUtf8(u));
  }
  if (name == "replace") {
    const Value* f = a.Get("old", 0);
    const Value* t = a.Get("new", 1);
    const Value* c = a.Get("count", 2);
    if (f == nullptr || t == nullptr) return Error("replace needs two arguments");
    return Value::String(
        ReplaceAll(v.Str(), f->Str(), t->Str(), c && !c->is_none() ? c->AsInt() : -1));
  }
  if (name == "default" || name == "d") {
    const Value* dv = a.Get("default_value", 0);
    const Value* boolean = a.Get("boolean", 1);
    const bool use = v.is_undefined() || (boolean != nullptr && boolean->Truthy() && !v.Truthy());
    if (use) return dv ? *dv : Value::String("");
    return v;
  }
  if (name == "first" || name == "last") {
    JS_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
    if (items.empty()) return MakeUndefined(name);
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") {
    JS_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
    return Value::List(std::move(items));
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::List();
    if (!v.is_dict()) return Error("items needs a mapping");
    return Value::List(DictItems(v));
  }
  if (name == "join") {
    JS_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
    const Value* sep = a.Get("d", 0);
    const Value* attr = a.Get("attribute", 1);
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0 && sep) out += sep->Str();
      Value item = items[i];
      if (attr != nullptr && !attr->is_none()) {
        JS_ASSIGN_OR_RETURN(item, AttrPath(in, item, attr->Str()));
      }
      out += item.Str();
      if (out.size() > in.limits().max_output_bytes) return Error("string too long");
    }
    return Value::String(std::move(out));
  }
  if (name == "int") {
    const Value* dflt = a.Get("default", 0);
    const Value fallback = dflt ? *dflt : Value::Int(0);
    if (v.kind() == Value::Kind::kInt) return v;
    if (v.kind() == Value::Kind::kBool) return Value::Int(v.AsBool() ? 1 : 0);
    if (v.kind() == Value::Kind::kFloat) {
      if (!std::isfinite(v.AsFloat())) return fallback;
      return Value::Int(static_cast<int64_t>(v.AsFloat()));
    }
    if (v.is_string()) {
      const std::string s = Strip(v.AsString(), nullptr, true, true);
      char* end = nullptr;
      const long long i = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && end == s.c_str() + s.size()) return Value::Int(i);
      const double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d)) {
        return Value::Int(static_cast<int64_t>(d));
      }
    }
    return fallback;
  }
  if (name == "float") {
    if (v.is_number()) return Value::Float(v.AsFloat());
    if (v.is_string()) {
      char* end = nullptr;
      const double d = std::strtod(v.AsString().c_str(), &end);
      if (!v.AsString().empty() && end == v.AsString().c_str() + v.AsString().size()) {
        return Value::Float(d);
      }
    }
    const Value* dflt = a.Get("default", 0);
    return dflt ? *dflt : Value::Float(0);
  }
  if (name == "abs") {
    if (v.kind() == Value::Kind::kInt) return Value::Int(std::llabs(v.AsInt()));
    if (v.kind() == Value::Kind::kFloat) return Value::Float(std::fabs(v.AsFloat()));
    return Error("abs needs a number");
  }
  if (name == "round") {
    if (!v.is_number()) return Error("round needs a number");
    const Value* p = a.Get("precision", 0);
    const Value* method = a.Get("method", 1);
    const double scale = std::pow(10.0, p ? static_cast<double>(p->AsInt()) : 0.0);
    double x = v.AsFloat() * scale;
    const std::string m = method ? method->Str() : "common";
    x = m == "floor" ? std::floor(x) : m == "ceil" ? std::ceil(x) : std::round(x);
    return Value::Float(x / scale);
  }
  if (name == "e" || name == "escape") return Value::String(HtmlEscape(v.Str()));
  if (name == "indent") {
    JS_RETURN_IF_ERROR(need_string());
    const Value* w = a.Get("width", 0);
    const Value* first = a.Get("first", 1);
    const Value* blank = a.Get("blank", 2);
    const std::string pad =
        w == nullptr ? "    "
        : w->is_string()
            ? w->AsString()
            : std::string(static_cast<size_t>(std::clamp<int64_t>(w->AsInt(), 0, 256)), ' ');
    const std::string& s = v.AsString();
    std::string out;
    size_t start = 0;
    bool first_line = true;
    while (start <= s.size()) {
      const size_t nl = s.find('\n', start);
      const std::string line =
          s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      const bool indent_it = (first_line ? (first && first->Truthy()) : true) &&
                             (!line.empty() || (blank && blank->Truthy()));
      if (indent_it) out += pad;
      out += line;
      if (nl == std::string::npos) break;
      out += '\n';
      start = nl + 1;
      first_line = false;
    }
    return Value::String(std::move(out));
  }
  if (name == "unique") {
    JS_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
    ValueList out;
    for (const Value& x : items) {
      bool seen = false;
      for (const Value& y : out) seen = seen || y.Equals(x);
      if (!seen) out.push_back(x);
    }
    return Value::List(std::move(out));
  }
  if (name == "reverse") {
    if (v.is_string()) {
      std::u32string u = Utf8ToCodepoints(v.AsString());
      std::reverse(u.begin(), u.end());
      return Value::String(CodepointsToUtf8(u));
    }
    JS_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
    std::reverse(items.begin(), items.end());
    return Value::List(std::move(items));
  }
  if (name == "sort" || name == "dictsort") {
    ValueList items;
    if (name == "dictsort") {
      if (!v.is_dict()) return Error("dictsort needs a mapping");
      items = DictItems(v);
    } else {
      JS_ASSIGN_OR_RETURN(items, Iterate(v));
    }
    const Value* rev = a.Get("reverse", 0);
    const Value* attr = a.Get("attribute", 2);
    std::vector<std::pair<Value, Value>> keyed;
    for (const Value& x : items) {
      Value key = x;
      if (name == "dictsort") key = x.AsList()[0];
      if (attr != nullptr && !attr->is_none()) {
        JS_ASSIGN_OR_RETURN(key, AttrPath(in, x, attr->Str()));
      }
      if (key.is_string()) key = Value::String(MapCase(key.AsString(), 1));
      keyed.emplace_back(key, x);
    }
    absl::Status err = absl::OkStatus();
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& p, const auto& q) {
      absl::StatusOr<int> c = CompareOrder(p.first, q.first);
      if (!c.ok()) {
        err = c.status();
        return false;
      }
      return *c < 0;
    });
    JS_RETURN_IF_ERROR(err);
    ValueList out;
    for (auto& kv : keyed) out.push_back(kv.second);
    if (rev != nullptr && rev->Truthy()) std::reverse(out.begin(), out.end());
    return Value::List(std::move(out));
  }
  if (name == "sum") {
    JS_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
    const Value* attr = a.Get("attribute", 0);
    const Value* start = a.Get("start", 1);
    Value total = start ? *start : Value::Int(0);
    for (const Value& x : items) {
      Value item = x;
      if (attr != nullptr && !attr->is_none()) {
        JS_ASSIGN_OR_RETURN(item, AttrPath(in, x, attr->Str()));
      }
      JS_ASSIGN_OR_RETURN(total, BinaryOp(in, "+", total, item));
    }
    return total;
  }
  if (name == "min" || name == "max") {
    JS_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
    if (items.empty()) return MakeUndefined(name);
    Value best = items[0];
    for (const Value& x : items) {
      JS_ASSIGN_OR_RETURN(int c, CompareOrder(x, best));
      if (name == "min" ? c < 0 : c > 0) best = x;
    }
    return best;
  }
  if (name == "wordcount")
    return Value::Int(static_cast<int64_t>(Split(v.Str(), nullptr, -1).size()));
  if (name == "map") {
    JS_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
    ValueList out;
    const Value* attr = nullptr;
    for (const auto& [k, val] : a.keyword) {
      if (k == "attribute") attr = &val;
    }
    if (attr != nullptr) {
      const Value* dflt = nullptr;
      for (const auto& [k, val] : a.keyword) {
        if (k == "default") dflt = &val;
      }
      for (const Value& x : items) {
        JS_RETURN_IF_ERROR(in.Step());
        JS_ASSIGN_OR_RETURN(Value r, AttrPath(in, x, attr->Str()));
        if (r.is_undefined() && dflt != nullptr) r = *dflt;
        out.push_back(std::move(r));
      }
      return Value::List(std::move(out));
    }
    if (a.positional.empty() || !a.positional[0].is_string()) {
      return Error("map needs a filter name or attribute=");
    }
    CallArgs rest;
    rest.positional.assign(a.positional.begin() + 1, a.positional.end());
    rest.keyword = a.keyword;
    for (const Value& x : items) {
      JS_RETURN_IF_ERROR(in.Step());
      JS_ASSIGN_OR_RETURN(Value r, ApplyFilter(in, a.positional[0].AsString(), x, rest));
      out.push_back(std::move(r));
    }
    return Value::List(std::move(out));
  }
  if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
    JS_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
    const bool by_attr = name == "selectattr" || name == "rejectattr";
    const bool keep = name == "selectattr" || name == "select";
    size_t next = 0;
    std::string attr;
    if (by_attr) {
      if (a.positional.empty()) return Error(absl::StrCat(name, " needs an attribute name"));
      attr = a.positional[0].Str();
      next = 1;
    }
    std::string test;
    CallArgs targs;
    if (next < a.positional.size()) {
      test = a.positional[next].Str();
      targs.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(next) + 1,
                              a.positional.end());
    }
    ValueList out;
    for (const Value& x : items) {
      JS_RETURN_IF_ERROR(in.Step());
      Value subject = x;
      if (by_attr) {
        JS_ASSIGN_OR_RETURN(subject, AttrPath(in, x, attr));
      }
      bool r;
      if (test.empty()) {
        r = subject.Truthy();
      } else {
        JS_ASSIGN_OR_RETURN(r, ApplyTest(in, test, subject, targs));
      }
      if (r == keep) out.push_back(x);
    }
    return Value::List(std::move(out));
  }
  if (name == "attr") {
    const Value* n = a.Get("name", 0);
    if (n == nullptr) return Error("attr needs a name");
    return GetAttr(in, v, n->Str());
  }
  if (name == "center") {
    const Value* w = a.Get("width", 0);
    const int64_t width = std::clamp<int64_t>(w ? w->AsInt() : 80, 0, 4096);
    std::string s = v.Str();
    const int64_t len = static_cast<int64_t>(Utf8ToCodepoints(s).size());
    if (len >= width) return Value::String(s);
    const int64_t total = width - len;
    const int64_t left = total / 2 + (total & width & 1);
    return Value::String(std::string(static_cast<size_t>(left), ' ') + s +
                         std::string(static_cast<size_t>(total - left), ' '));
  }
  return Error(absl::StrCat("unknown filter '", name, "'"));
}

}  // namespace jetserve::chat::jinja
