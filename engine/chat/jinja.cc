// The evaluator: walks the syntax tree with Python/jinja2 semantics. Filters, tests and
// methods live in jinja_builtins.cc.
#include "engine/chat/jinja.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/chat/jinja_builtins.h"
#include "engine/model/status_macros.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::chat {
namespace {

using jinja::Body;
using jinja::Expr;
using jinja::Stmt;

enum class Flow { kNormal, kBreak, kContinue };

class Renderer final : public jinja::Interpreter {
 public:
  Renderer(const jinja::Limits& limits, const RenderOptions& options)
      : limits_(limits), options_(options) {}

  absl::StatusOr<std::string> Run(const Body& body, const Value& context) {
    scopes_.emplace_back();
    Scope& globals = scopes_.back();
    AddGlobals(&globals);
    if (context.is_dict()) {
      for (const auto& [k, v] : context.AsDict()) globals[k] = v;
    }
    std::string out;
    out_ = &out;
    absl::StatusOr<Flow> f = Exec(body);
    if (!f.ok()) return f.status();
    return out;
  }

  absl::StatusOr<Value> CallValue(const Value& fn, const CallArgs& args) override {
    if (fn.kind() != Value::Kind::kCallable) {
      return Error(absl::StrCat("'", fn.TypeName(), "' object is not callable"));
    }
    return fn.AsCallable()(args);
  }

  absl::Status Step() override {
    if (++steps_ > limits_.max_steps) {
      return Error(absl::StrCat("the template ran more than ", limits_.max_steps, " steps"));
    }
    return absl::OkStatus();
  }
  const jinja::Limits& limits() const override { return limits_; }

 private:
  using Scope = std::unordered_map<std::string, Value>;

  static absl::Status Error(std::string_view msg) {
    return absl::InvalidArgumentError(absl::StrCat("chat template: ", Sv(msg)));
  }

  void AddGlobals(Scope* g) {
    (*g)["raise_exception"] = Value::Function([](const CallArgs& a) -> absl::StatusOr<Value> {
      const Value* m = a.Get("message", 0);
      return absl::InvalidArgumentError(
          absl::StrCat("chat template raised an exception: ", m ? m->Str() : ""));
    });
    (*g)["strftime_now"] = Value::Function([this](const CallArgs& a) -> absl::StatusOr<Value> {
      const Value* f = a.Get("format", 0);
      if (f == nullptr || !f->is_string()) return Error("strftime_now() needs a format string");
      const std::time_t t = options_.now ? options_.now() : std::time(nullptr);
      std::tm tm{};
      gmtime_r(&t, &tm);
      char buf[256];
      const size_t n = std::strftime(buf, sizeof(buf), f->AsString().c_str(), &tm);
      return Value::String(std::string(buf, n));
    });
    (*g)["range"] = Value::Function([this](const CallArgs& a) -> absl::StatusOr<Value> {
      int64_t start = 0, stop = 0, step = 1;
      for (const Value& v : a.positional) {
        if (v.kind() != Value::Kind::kInt) return Error("range() needs integers");
      }
      if (a.positional.size() == 1) {
        stop = a.positional[0].AsInt();
      } else if (a.positional.size() >= 2) {
        start = a.positional[0].AsInt();
        stop = a.positional[1].AsInt();
        if (a.positional.size() >= 3) step = a.positional[2].AsInt();
      } else {
        return Error("range() needs arguments");
      }
      if (step == 0) return Error("range() step must not be zero");
      ValueList items;
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (static_cast<int64_t>(items.size()) >= limits_.max_range) {
          return Error(absl::StrCat("range() longer than ", limits_.max_range));
        }
        items.push_back(Value::Int(i));
      }
      return Value::List(std::move(items));
    });
    (*g)["namespace"] = Value::Function([](const CallArgs& a) -> absl::StatusOr<Value> {
      ValueDict d;
      for (const Value& p : a.positional) {
        if (p.is_dict()) {
          for (const auto& kv : p.AsDict()) d.push_back(kv);
        }
      }
      for (const auto& kv : a.keyword) d.push_back(kv);
      return Value::Namespace(std::move(d));
    });
    (*g)["dict"] = Value::Function([](const CallArgs& a) -> absl::StatusOr<Value> {
      ValueDict d;
      for (const Value& p : a.positional) {
        if (p.is_dict()) {
          for (const auto& kv : p.AsDict()) d.push_back(kv);
        }
      }
      for (const auto& kv : a.keyword) d.push_back(kv);
      return Value::Dict(std::move(d));
    });
  }

  const Value* Lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end()) return &f->second;
    }
    return nullptr;
  }

  absl::Status Write(std::string_view s) {
    if (out_->size() + s.size() > limits_.max_output_bytes) {
      return Error(absl::StrCat("output exceeds ", limits_.max_output_bytes, " bytes"));
    }
    out_->append(s);
    return absl::OkStatus();
  }

  absl::StatusOr<Flow> Exec(const Body& body) {
    for (const jinja::StmtPtr& st : body) {
      JS_RETURN_IF_ERROR(Step());
      JS_ASSIGN_OR_RETURN(Flow f, ExecOne(*st));
      if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
  }

  absl::StatusOr<std::string> Capture(const Body& body) {
    std::string buf;
    std::string* saved = out_;
    out_ = &buf;
    absl::StatusOr<Flow> f = Exec(body);
    out_ = saved;
    if (!f.ok()) return f.status();
    return buf;
  }

  absl::Status Assign(const std::vector<std::string>& targets, const Value& v) {
    if (targets.size() == 1) {
      scopes_.back()[targets[0]] = v;
      return absl::OkStatus();
    }
    JS_ASSIGN_OR_RETURN(ValueList items, jinja::Iterate(v));
    if (items.size() != targets.size()) {
      return Error(
          absl::StrCat("cannot unpack ", items.size(), " values into ", targets.size(), " names"));
    }
    for (size_t i = 0; i < items.size(); ++i) scopes_.back()[targets[i]] = items[i];
    return absl::OkStatus();
  }

  absl::StatusOr<Flow> ExecOne(const Stmt& st) {
    switch (st.kind) {
      case Stmt::Kind::kText:
        JS_RETURN_IF_ERROR(Write(st.text));
        return Flow::kNormal;
      case Stmt::Kind::kOutput: {
        JS_ASSIGN_OR_RETURN(Value v, Eval(*st.expr));
        JS_RETURN_IF_ERROR(Write(v.Str()));
        return Flow::kNormal;
      }
      case Stmt::Kind::kIf:
        for (size_t i = 0; i < st.conds.size(); ++i) {
          JS_ASSIGN_OR_RETURN(Value c, Eval(*st.conds[i]));
          if (c.Truthy()) return Exec(st.bodies[i]);
        }
        return Exec(st.else_body);
      case Stmt::Kind::kFor:
        return ExecFor(st);
      case Stmt::Kind::kSet: {
        JS_ASSIGN_OR_RETURN(Value v, Eval(*st.expr));
        if (!st.attr.empty()) {
          const Value* ns = Lookup(st.targets[0]);
          if (ns == nullptr || !ns->is_namespace()) {
            return Error(absl::StrCat("cannot assign an attribute of '", st.targets[0],
                                      "', which is not a namespace()"));
          }
          ns->Set(st.attr, std::move(v));
          return Flow::kNormal;
        }
        JS_RETURN_IF_ERROR(Assign(st.targets, v));
        return Flow::kNormal;
      }
      case Stmt::Kind::kSetBlock: {
        JS_ASSIGN_OR_RETURN(std::string s, Capture(st.body));
        scopes_.back()[st.targets[0]] = Value::String(std::move(s));
        return Flow::kNormal;
      }
      case Stmt::Kind::kMacro:
        scopes_.back()[st.name] = MakeMacro(st, Value());
        return Flow::kNormal;
      case Stmt::Kind::kCallBlock: {
        // caller() renders the block body with the call block's parameters.
        Stmt caller_macro;
        caller_macro.params = st.params;
        caller_macro.body = st.body;
        caller_macro.name = "caller";
        auto holder = std::make_shared<Stmt>(std::move(caller_macro));
        Value caller = MakeMacro(*holder, Value());
        caller_holders_.push_back(holder);
        const Expr& call = *st.expr;
        JS_ASSIGN_OR_RETURN(Value fn, Eval(*call.kids[0]));
        JS_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(call, 1));
        args.keyword.emplace_back("caller", caller);
        JS_ASSIGN_OR_RETURN(Value r, CallValue(fn, args));
        JS_RETURN_IF_ERROR(Write(r.Str()));
        return Flow::kNormal;
      }
      case Stmt::Kind::kFilterBlock: {
        JS_ASSIGN_OR_RETURN(std::string s, Capture(st.body));
        const Expr& f = *st.expr;
        JS_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(f, 1));
        JS_ASSIGN_OR_RETURN(Value r, jinja::ApplyFilter(*this, f.name, Value::String(s), args));
        JS_RETURN_IF_ERROR(Write(r.Str()));
        return Flow::kNormal;
      }
      case Stmt::Kind::kBreak:
        return Flow::kBreak;
      case Stmt::Kind::kContinue:
        return Flow::kContinue;
    }
    return Flow::kNormal;
  }

  absl::StatusOr<Flow> ExecFor(const Stmt& st) {
    JS_ASSIGN_OR_RETURN(Value seq, Eval(*st.expr));
    if (seq.is_undefined()) seq = Value::List();
    JS_ASSIGN_OR_RETURN(ValueList all, jinja::Iterate(seq));
    ValueList items;
    if (st.cond != nullptr) {
      for (const Value& v : all) {
        scopes_.emplace_back();
        absl::Status s = Assign(st.targets, v);
        absl::StatusOr<Value> c = s.ok() ? Eval(*st.cond) : absl::StatusOr<Value>(s);
        scopes_.pop_back();
        if (!c.ok()) return c.status();
        if (c->Truthy()) items.push_back(v);
      }
    } else {
      items = std::move(all);
    }
    if (items.empty()) return Exec(st.else_body);
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      JS_RETURN_IF_ERROR(Step());
      scopes_.emplace_back();
      ValueDict loop{
          {"index", Value::Int(i + 1)},
          {"index0", Value::Int(i)},
          {"revindex", Value::Int(n - i)},
          {"revindex0", Value::Int(n - i - 1)},
          {"first", Value::Bool(i == 0)},
          {"last", Value::Bool(i == n - 1)},
          {"length", Value::Int(n)},
          {"depth", Value::Int(1)},
          {"depth0", Value::Int(0)},
          {"previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value()},
          {"nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value()},
      };
      loop.emplace_back("cycle", Value::Function([i](const CallArgs& a) -> absl::StatusOr<Value> {
                          if (a.positional.empty()) return Value();
                          return a.positional[static_cast<size_t>(i) % a.positional.size()];
                        }));
      scopes_.back()["loop"] = Value::Dict(std::move(loop));
      absl::Status s = Assign(st.targets, items[static_cast<size_t>(i)]);
      absl::StatusOr<Flow> f = s.ok() ? Exec(st.body) : absl::StatusOr<Flow>(s);
      scopes_.pop_back();
      if (!f.ok()) return f.status();
      if (*f == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  Value MakeMacro(const Stmt& st, Value) {
    const Stmt* def = &st;
    return Value::Function([this, def](const CallArgs& args) -> absl::StatusOr<Value> {
      if (++call_depth_ > limits_.max_call_depth) {
        --call_depth_;
        return Error(absl::StrCat("macro calls nested deeper than ", limits_.max_call_depth));
      }
      Scope frame;
      size_t used = 0;
      for (size_t i = 0; i < def->params.size(); ++i) {
        const std::string& p = def->params[i].name;
        const Value* v = args.Get(p, i);
        if (v != nullptr) {
          frame[p] = *v;
          if (i < args.positional.size()) ++used;
        } else if (def->params[i].default_value != nullptr) {
          absl::StatusOr<Value> d = Eval(*def->params[i].default_value);
          if (!d.ok()) {
            --call_depth_;
            return d.status();
          }
          frame[p] = *d;
        } else {
          frame[p] = Value();
        }
      }
      for (const auto& [k, v] : args.keyword) {
        if (k == "caller") frame["caller"] = v;
      }
      if (args.positional.size() > def->params.size()) {
        --call_depth_;
        return Error(absl::StrCat("macro '", def->name, "' takes ", def->params.size(),
                                  " arguments, got ", args.positional.size()));
      }
      (void)used;
      // A macro sees the template's globals and its own arguments, not its caller's locals.
      std::vector<Scope> saved;
      saved.swap(scopes_);
      scopes_.push_back(saved.front());
      scopes_.push_back(std::move(frame));
      absl::StatusOr<std::string> out = Capture(def->body);
      saved.front() = std::move(scopes_.front());
      scopes_.swap(saved);
      --call_depth_;
      if (!out.ok()) return out.status();
      return Value::String(std::move(*out));
    });
  }

  absl::StatusOr<CallArgs> EvalArgs(const Expr& e, size_t first) {
    CallArgs args;
    const size_t n_kw = e.kw_names.size();
    const size_t n_pos = e.kids.size() - first - n_kw;
    for (size_t i = 0; i < n_pos; ++i) {
      JS_ASSIGN_OR_RETURN(Value v, Eval(*e.kids[first + i]));
      args.positional.push_back(std::move(v));
    }
    for (size_t i = 0; i < n_kw; ++i) {
      JS_ASSIGN_OR_RETURN(Value v, Eval(*e.kids[first + n_pos + i]));
      args.keyword.emplace_back(e.kw_names[i], std::move(v));
    }
    return args;
  }

  absl::StatusOr<Value> Eval(const Expr& e) {
    if (++eval_depth_ > limits_.max_parse_depth * 8) {
      --eval_depth_;
      return Error("expression evaluation nested too deeply");
    }
    absl::StatusOr<Value> r = EvalInner(e);
    --eval_depth_;
    return r;
  }

  absl::StatusOr<Value> EvalInner(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return e.value;
      case Expr::Kind::kName: {
        const Value* v = Lookup(e.name);
        if (v == nullptr) return jinja::MakeUndefined(e.name);
        return *v;
      }
      case Expr::Kind::kList:
      case Expr::Kind::kTuple: {
        ValueList items;
        for (const jinja::ExprPtr& k : e.kids) {
          JS_ASSIGN_OR_RETURN(Value v, Eval(*k));
          items.push_back(std::move(v));
        }
        return Value::List(std::move(items));
      }
      case Expr::Kind::kDict: {
        ValueDict items;
        for (size_t i = 0; i + 1 < e.kids.size(); i += 2) {
          JS_ASSIGN_OR_RETURN(Value k, Eval(*e.kids[i]));
          JS_ASSIGN_OR_RETURN(Value v, Eval(*e.kids[i + 1]));
          if (!k.is_string()) return Error("dict keys must be strings");
          bool replaced = false;
          for (auto& kv : items) {
            if (kv.first == k.AsString()) {
              kv.second = v;
              replaced = true;
            }
          }
          if (!replaced) items.emplace_back(k.AsString(), std::move(v));
        }
        return Value::Dict(std::move(items));
      }
      case Expr::Kind::kGetAttr: {
        JS_ASSIGN_OR_RETURN(Value obj, Eval(*e.kids[0]));
        return jinja::GetAttr(*this, obj, e.name);
      }
      case Expr::Kind::kGetItem: {
        JS_ASSIGN_OR_RETURN(Value obj, Eval(*e.kids[0]));
        JS_ASSIGN_OR_RETURN(Value key, Eval(*e.kids[1]));
        return jinja::GetItem(*this, obj, key);
      }
      case Expr::Kind::kSlice: {
        JS_ASSIGN_OR_RETURN(Value obj, Eval(*e.kids[0]));
        Value parts[3];
        for (int i = 0; i < 3; ++i) {
          if (e.kids[static_cast<size_t>(i + 1)] != nullptr) {
            JS_ASSIGN_OR_RETURN(parts[i], Eval(*e.kids[static_cast<size_t>(i + 1)]));
          }
        }
        return jinja::Slice(obj, parts[0], parts[1], parts[2]);
      }
      case Expr::Kind::kCall: {
        JS_ASSIGN_OR_RETURN(Value fn, Eval(*e.kids[0]));
        if (fn.is_undefined()) {
          return Error(absl::StrCat(jinja::UndefinedName(fn), " is undefined and not callable"));
        }
        JS_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
        return CallValue(fn, args);
      }
      case Expr::Kind::kFilter: {
        JS_ASSIGN_OR_RETURN(Value in, Eval(*e.kids[0]));
        JS_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
        return jinja::ApplyFilter(*this, e.name, in, args);
      }
      case Expr::Kind::kTest: {
        JS_ASSIGN_OR_RETURN(Value in, Eval(*e.kids[0]));
        JS_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
        JS_ASSIGN_OR_RETURN(bool r, jinja::ApplyTest(*this, e.name, in, args));
        return Value::Bool(r != e.negated);
      }
      case Expr::Kind::kUnary: {
        JS_ASSIGN_OR_RETURN(Value v, Eval(*e.kids[0]));
        if (e.name == "not") return Value::Bool(!v.Truthy());
        if (v.kind() == Value::Kind::kInt)
          return Value::Int(e.name == "-" ? -v.AsInt() : v.AsInt());
        if (v.kind() == Value::Kind::kFloat) {
          return Value::Float(e.name == "-" ? -v.AsFloat() : v.AsFloat());
        }
        return Error(absl::StrCat("bad operand type for unary ", e.name, ": '", v.TypeName(), "'"));
      }
      case Expr::Kind::kBinary: {
        JS_ASSIGN_OR_RETURN(Value l, Eval(*e.kids[0]));
        if (e.name == "and") {
          if (!l.Truthy()) return l;
          return Eval(*e.kids[1]);
        }
        if (e.name == "or") {
          if (l.Truthy()) return l;
          return Eval(*e.kids[1]);
        }
        JS_ASSIGN_OR_RETURN(Value r, Eval(*e.kids[1]));
        return jinja::BinaryOp(*this, e.name, l, r);
      }
      case Expr::Kind::kCompare: {
        JS_ASSIGN_OR_RETURN(Value l, Eval(*e.kids[0]));
        for (size_t i = 0; i < e.ops.size(); ++i) {
          JS_ASSIGN_OR_RETURN(Value r, Eval(*e.kids[i + 1]));
          JS_ASSIGN_OR_RETURN(bool ok, jinja::Compare(e.ops[i], l, r));
          if (!ok) return Value::Bool(false);
          l = std::move(r);
        }
        return Value::Bool(true);
      }
      case Expr::Kind::kCondition: {
        JS_ASSIGN_OR_RETURN(Value c, Eval(*e.kids[0]));
        if (c.Truthy()) return Eval(*e.kids[1]);
        if (e.kids[2] == nullptr) return Value();
        return Eval(*e.kids[2]);
      }
    }
    return Value();
  }

  const jinja::Limits& limits_;
  const RenderOptions& options_;
  std::vector<Scope> scopes_;
  std::string* out_ = nullptr;
  int64_t steps_ = 0;
  int call_depth_ = 0;
  int eval_depth_ = 0;
  std::vector<std::shared_ptr<Stmt>> caller_holders_;
};

}  // namespace

absl::StatusOr<Template> Template::Parse(std::string_view source, const jinja::Limits& limits) {
  absl::StatusOr<jinja::Body> body = jinja::Parse(source, limits);
  if (!body.ok()) return body.status();
  Template t;
  t.body_ = std::make_shared<const jinja::Body>(std::move(*body));
  t.limits_ = limits;
  return t;
}

absl::StatusOr<std::string> Template::Render(const Value& context,
                                             const RenderOptions& options) const {
  Renderer r(limits_, options);
  return r.Run(*body_, context);
}

}  // namespace jetserve::chat
