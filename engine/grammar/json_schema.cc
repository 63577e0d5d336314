#include "engine/grammar/json_schema.h"

#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/grammar/json_terminals.h"
#include "engine/grammar/regex_gbnf.h"
#include "nlohmann/json.hpp"

namespace jetserve::grammar {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kPrimitives[] =
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,8}\n"
    "char ::= [^\"\\\\\\x00-\\x1f] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" char-u)\n"
    // \u escapes of UTF-16 surrogates only as a high-low pair (strict parsers reject others).
    "char-u ::= [0-9a-cA-CefEF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} | [dD] [89abAB] "
    "[0-9a-fA-F]{2} \"\\\\u\" [dD] [c-fC-F] [0-9a-fA-F]{2}\n"
    "string ::= \"\\\"\" char* \"\\\"\"\n"
    "integer ::= \"-\"? (\"0\" | [1-9] [0-9]{0,15})\n"
    "number ::= integer (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?\n"
    "boolean ::= \"true\" | \"false\"\n"
    "null ::= \"null\"\n"
    "value ::= object | array | string | number | boolean | null\n"
    "object ::= \"{\" ws (string ws \":\" ws value (ws \",\" ws string ws \":\" ws value)*)? ws "
    "\"}\"\n"
    "array ::= \"[\" ws (value (ws \",\" ws value)*)? ws \"]\"\n";

// Assertions a grammar cannot (or does not yet) express; refused by name.
constexpr const char* kRefused[] = {"multipleOf",
                                    "not",
                                    "if",
                                    "then",
                                    "else",
                                    "patternProperties",
                                    "propertyNames",
                                    "contains",
                                    "minContains",
                                    "maxContains",
                                    "dependentRequired",
                                    "dependentSchemas",
                                    "dependencies",
                                    "unevaluatedProperties",
                                    "unevaluatedItems"};

absl::Status Refuse(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("json schema ", what));
}

std::string Literal(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      out += b;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

bool Has(const Json& s, const char* k) { return s.is_object() && s.contains(k); }

class Converter {
 public:
  Converter(const Json& root, const JsonSchemaGbnfOptions& o) : root_(root), o_(o) {}

  absl::StatusOr<std::string> Run() {
    absl::StatusOr<std::string> r = Visit(root_, "root", 0);
    if (!r.ok()) return r;
    if (o_.require_object && !IsObjectRule(*r)) {
      return Refuse("must describe an object (\"type\": \"object\")");
    }
    std::string out = absl::StrCat(o_.root_name, " ::= ", *r, "\n");
    if (o_.primitives) out += kPrimitives;
    for (const auto& [name, body] : rules_) absl::StrAppend(&out, name, " ::= ", body, "\n");
    return out;
  }

 private:
  bool IsObjectRule(const std::string& r) const {
    return r == "object" || object_rules_.count(r) > 0;
  }

  std::string NewRule(const std::string& hint, std::string body) {
    std::string name;
    for (const char c : hint) {
      name += (std::isalnum(static_cast<unsigned char>(c)) ? c : '-');
    }
    if (name.size() > 40) name.resize(40);
    name = absl::StrCat(o_.rule_prefix, "-", name, "-", rules_.size());
    rules_.emplace_back(name, std::move(body));
    return name;
  }

  // The schema a local $ref points to, or an error.
  absl::StatusOr<const Json*> Resolve(const std::string& ref) {
    if (ref == "#") return &root_;
    std::string path;
    if (ref.rfind("#/$defs/", 0) == 0) {
      path = "$defs";
    } else if (ref.rfind("#/definitions/", 0) == 0) {
      path = "definitions";
    } else {
      return Refuse(absl::StrCat("$ref '", ref, "' is not \"#\" or a local #/$defs/ reference"));
    }
    const std::string key = ref.substr(path.size() + 3);
    if (!Has(root_, path.c_str()) || !root_[path].is_object() || !root_[path].contains(key)) {
      return Refuse(absl::StrCat("$ref '", ref, "' not found"));
    }
    return &root_[path][key];
  }

  absl::StatusOr<std::string> Visit(const Json& s, const std::string& hint, int depth) {
    if (depth > 64) return Refuse("nested too deeply");
    if (s.is_boolean()) {
      if (s.get<bool>()) return std::string("value");
      return Refuse("'false' allows no value");
    }
    if (!s.is_object()) return Refuse("must be an object");
    for (const char* k : kRefused) {
      if (s.contains(k)) return Refuse(absl::StrCat("keyword '", k, "' is not supported"));
    }
    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) return Refuse("$ref must be a string");
      const std::string ref = s["$ref"].get<std::string>();
      auto it = refs_.find(ref);
      if (it != refs_.end()) return it->second;
      absl::StatusOr<const Json*> target = Resolve(ref);
      if (!target.ok()) return target.status();
      const std::string name = NewRule(ref.size() > 1 ? ref.substr(ref.rfind('/') + 1) : "self",
                                       "");  // filled below (recursion)
      const size_t index = rules_.size() - 1;
      refs_[ref] = name;
      absl::StatusOr<std::string> body = Visit(**target, name, depth + 1);
      if (!body.ok()) return body;
      if (IsObjectRule(*body)) object_rules_.insert(name);
      rules_[index].second = *body;
      return name;
    }
    if (s.contains("const")) return Literal(s["const"].dump());
    if (s.contains("enum")) {
      if (!s["enum"].is_array() || s["enum"].empty()) {
        return Refuse("enum must be a non-empty array");
      }
      std::string alts;
      bool objects = true;
      for (const Json& v : s["enum"]) {
        if (!alts.empty()) alts += " | ";
        alts += Literal(v.dump());
        objects &= v.is_object();
      }
      const std::string name = NewRule(hint, alts);
      if (objects) object_rules_.insert(name);
      return name;
    }
    for (const char* k : {"anyOf", "oneOf"}) {
      if (s.contains(k)) {
        if (!s[k].is_array() || s[k].empty()) {
          return Refuse(absl::StrCat(k, " must be a non-empty array"));
        }
        std::string alts;
        int i = 0;
        bool objects = true;
        for (const Json& sub : s[k]) {
          absl::StatusOr<std::string> r = Visit(sub, absl::StrCat(hint, "-", i++), depth + 1);
          if (!r.ok()) return r;
          if (!alts.empty()) alts += " | ";
          alts += *r;
          objects &= IsObjectRule(*r);
        }
        const std::string name = NewRule(hint, alts);
        if (objects) object_rules_.insert(name);
        return name;
      }
    }
    if (s.contains("allOf")) return AllOf(s, hint, depth);
    std::vector<std::string> types;
    if (s.contains("type")) {
      if (s["type"].is_string()) {
        types.push_back(s["type"].get<std::string>());
      } else if (s["type"].is_array()) {
        for (const Json& t : s["type"]) {
          if (t.is_string()) types.push_back(t.get<std::string>());
        }
      }
      if (types.empty()) return Refuse("type must be a string or a list");
    } else {
      // The keywords of one type imply it (a value of another type would pass them, but
      // generating only this type keeps every output valid).
      auto any = [&](std::initializer_list<const char*> keys) {
        for (const char* k : keys) {
          if (s.contains(k)) return true;
        }
        return false;
      };
      if (any({"properties", "additionalProperties", "minProperties", "maxProperties",
               "required"})) {
        types.push_back("object");
      } else if (any({"items", "prefixItems", "additionalItems", "minItems", "maxItems",
                      "uniqueItems"})) {
        types.push_back("array");
      } else if (any({"pattern", "minLength", "maxLength", "format"})) {
        types.push_back("string");
      } else if (any({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})) {
        types.push_back("number");
      } else if (o_.require_object && depth == 0) {
        types.push_back("object");
      } else {
        return std::string("value");
      }
    }
    std::string alts;
    bool objects = true;
    for (const std::string& t : types) {
      absl::StatusOr<std::string> r = VisitType(s, t, hint, depth);
      if (!r.ok()) return r;
      if (!alts.empty()) alts += " | ";
      alts += *r;
      objects &= t == "object";
    }
    if (types.size() == 1) {
      if (objects && alts != "object") object_rules_.insert(alts);
      return alts;
    }
    const std::string name = NewRule(hint, alts);
    if (objects) object_rules_.insert(name);
    return name;
  }

  // allOf: one member, or object schemas whose properties and required lists merge.
  absl::StatusOr<std::string> AllOf(const Json& s, const std::string& hint, int depth) {
    if (!s["allOf"].is_array() || s["allOf"].empty()) {
      return Refuse("allOf must be a non-empty array");
    }
    if (s["allOf"].size() == 1 && s.size() == 1) return Visit(s["allOf"][0], hint, depth + 1);
    Json merged = Json::object();
    merged["type"] = "object";
    merged["properties"] = Json::object();
    merged["required"] = Json::array();
    std::vector<const Json*> members{&s};
    for (const Json& m : s["allOf"]) members.push_back(&m);
    for (size_t i = 0; i < members.size(); ++i) {
      const Json* m = members[i];
      int hops = 0;
      while (Has(*m, "$ref") && (*m)["$ref"].is_string() && hops++ < 16) {
        absl::StatusOr<const Json*> t = Resolve((*m)["$ref"].get<std::string>());
        if (!t.ok()) return t.status();
        m = *t;
      }
      if (!m->is_object()) return Refuse("allOf members must be objects");
      for (auto it = m->begin(); it != m->end(); ++it) {
        const std::string& k = it.key();
        if (k == "properties" && it->is_object()) {
          for (auto p = it->begin(); p != it->end(); ++p) {
            if (merged["properties"].contains(p.key())) {
              return Refuse(absl::StrCat("allOf members both define property '", p.key(),
                                         "' (only disjoint object members merge)"));
            }
            merged["properties"][p.key()] = *p;
          }
        } else if (k == "required" && it->is_array()) {
          for (const Json& r : *it) merged["required"].push_back(r);
        } else if (k == "type" && it->is_string() && it->get<std::string>() == "object") {
        } else if (k == "allOf" && i == 0) {
        } else if (k == "additionalProperties" || k == "title" || k == "description" ||
                   k == "$defs" || k == "definitions" || k == "$schema" || k == "$id" ||
                   k == "$comment" || k == "examples" || k == "default") {
        } else {
          return Refuse(
              absl::StrCat("allOf is supported with one member or with object members (properties, "
                           "required); '",
                           k, "' does not merge"));
        }
      }
    }
    merged_.push_back(std::move(merged));
    return Visit(merged_.back(), hint, depth + 1);
  }

  absl::StatusOr<int64_t> Count(const Json& s, const char* key, int64_t dflt) {
    if (!s.contains(key)) return dflt;
    if (!s[key].is_number_integer() || s[key].get<int64_t>() < 0 || s[key].get<int64_t>() > 1000) {
      return Refuse(absl::StrCat(key, " must be an integer in [0, 1000]"));
    }
    return s[key].get<int64_t>();
  }

  // A numeric bound; nullopt when absent.
  absl::StatusOr<std::optional<double>> Bound(const Json& s, const char* key) {
    if (!s.contains(key) || s[key].is_boolean()) return std::optional<double>();
    if (!s[key].is_number()) return Refuse(absl::StrCat(key, " must be a number"));
    const double v = s[key].get<double>();
    if (!std::isfinite(v) || std::fabs(v) > static_cast<double>(kMaxIntegerBound)) {
      return Refuse(absl::StrCat(key, " must be within +-", kMaxIntegerBound));
    }
    return std::optional<double>(v);
  }

  struct Range {
    std::optional<double> lo, hi;
    bool lo_open = false, hi_open = false;
  };

  // minimum/maximum and the exclusive forms (numbers since draft 6, booleans in draft 4).
  absl::StatusOr<Range> Bounds(const Json& s) {
    Range r;
    absl::StatusOr<std::optional<double>> mn = Bound(s, "minimum"), mx = Bound(s, "maximum"),
                                          emn = Bound(s, "exclusiveMinimum"),
                                          emx = Bound(s, "exclusiveMaximum");
    for (const auto* b : {&mn, &mx, &emn, &emx}) {
      if (!b->ok()) return b->status();
    }
    r.lo = *mn;
    r.hi = *mx;
    if (Has(s, "exclusiveMinimum") && s["exclusiveMinimum"].is_boolean()) {
      r.lo_open = s["exclusiveMinimum"].get<bool>();
    }
    if (Has(s, "exclusiveMaximum") && s["exclusiveMaximum"].is_boolean()) {
      r.hi_open = s["exclusiveMaximum"].get<bool>();
    }
    if (emn->has_value() && (!r.lo || **emn >= *r.lo)) {
      r.lo = *emn;
      r.lo_open = true;
    }
    if (emx->has_value() && (!r.hi || **emx <= *r.hi)) {
      r.hi = *emx;
      r.hi_open = true;
    }
    return r;
  }

  absl::StatusOr<std::string> IntegerType(const Json& s, const std::string& hint) {
    absl::StatusOr<Range> r = Bounds(s);
    if (!r.ok()) return r.status();
    if (!r->lo && !r->hi) return std::string("integer");
    const int64_t unbounded = 9'999'999'999'999'999;  // kUnboundedIntegerDigits digits
    int64_t lo = -unbounded, hi = unbounded;
    if (r->lo) {
      lo = r->lo_open ? static_cast<int64_t>(std::floor(*r->lo)) + 1
                      : static_cast<int64_t>(std::ceil(*r->lo));
    }
    if (r->hi) {
      hi = r->hi_open ? static_cast<int64_t>(std::ceil(*r->hi)) - 1
                      : static_cast<int64_t>(std::floor(*r->hi));
    }
    if (!r->lo && hi < lo) lo = -kMaxIntegerBound;
    if (!r->hi && hi < lo) hi = kMaxIntegerBound;
    if (lo > hi) return Refuse("integer range (minimum/maximum) is empty");
    return NewRule(hint, IntegerRangeGbnf(lo, hi));
  }

  absl::StatusOr<std::string> NumberType(const Json& s, const std::string& hint) {
    absl::StatusOr<Range> r = Bounds(s);
    if (!r.ok()) return r.status();
    if (!r->lo && !r->hi) return std::string("number");
    for (const std::optional<double>& b : {r->lo, r->hi}) {
      if (b && *b != std::floor(*b)) {
        return Refuse(
            "minimum/maximum/exclusiveMinimum/exclusiveMaximum of a number must be whole "
            "numbers (use type integer, or scale the value)");
      }
    }
    std::optional<int64_t> lo, hi;
    if (r->lo) lo = static_cast<int64_t>(*r->lo);
    if (r->hi) hi = static_cast<int64_t>(*r->hi);
    if (lo && hi && (*lo > *hi || (*lo == *hi && (r->lo_open || r->hi_open)))) {
      return Refuse("number range (minimum/maximum) is empty");
    }
    return NewRule(hint, NumberRangeGbnf(lo, r->lo_open, hi, r->hi_open));
  }

  absl::StatusOr<std::string> StringType(const Json& s, const std::string& hint) {
    absl::StatusOr<int64_t> lo = Count(s, "minLength", 0);
    absl::StatusOr<int64_t> hi = Count(s, "maxLength", -1);
    if (!lo.ok()) return lo.status();
    if (!hi.ok()) return hi.status();
    const bool lengths = *lo > 0 || *hi >= 0;
    std::optional<std::string> format;
    if (s.contains("format")) {
      if (!s["format"].is_string()) return Refuse("format must be a string");
      format = FormatGbnf(s["format"].get<std::string>());
    }
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) return Refuse("pattern must be a string");
      if (lengths) return Refuse("pattern combined with minLength/maxLength is not supported");
      if (format) return Refuse("pattern combined with format is not supported");
      absl::StatusOr<std::string> body = RegexToGbnf(
          s["pattern"].get<std::string>(), absl::StrCat(o_.rule_prefix, "-re"), "char", &rules_);
      if (!body.ok()) return body.status();
      return NewRule(hint, absl::StrCat("\"\\\"\" ", *body, " \"\\\"\""));
    }
    if (format) {
      if (lengths) return Refuse("format combined with minLength/maxLength is not supported");
      return NewRule(hint, *format);
    }
    if (!lengths) return std::string("string");
    if (*hi >= 0 && *hi < *lo) return Refuse("maxLength < minLength");
    return NewRule(hint, absl::StrCat("\"\\\"\" char{", *lo, ",", *hi >= 0 ? absl::StrCat(*hi) : "",
                                      "} \"\\\"\""));
  }

  absl::StatusOr<std::string> ArrayType(const Json& s, const std::string& hint, int depth) {
    // Positional items (prefixItems, or draft 7's items list) and the schema of the rest
    // (nullopt: no more items allowed).
    const Json* prefix = nullptr;
    const Json* rest = nullptr;
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) return Refuse("prefixItems must be an array");
      prefix = &s["prefixItems"];
      if (s.contains("items")) rest = &s["items"];
    } else if (s.contains("items") && s["items"].is_array()) {
      prefix = &s["items"];
      if (s.contains("additionalItems")) rest = &s["additionalItems"];
    } else if (s.contains("items")) {
      rest = &s["items"];
    }
    const bool closed = rest != nullptr && rest->is_boolean() && !rest->get<bool>();
    std::string item = "value";
    if (rest != nullptr && !closed) {
      absl::StatusOr<std::string> r = Visit(*rest, hint + "-item", depth + 1);
      if (!r.ok()) return r;
      item = *r;
    }
    std::vector<std::string> positional;
    if (prefix != nullptr) {
      for (size_t i = 0; i < prefix->size(); ++i) {
        absl::StatusOr<std::string> r = Visit((*prefix)[i], absl::StrCat(hint, "-", i), depth + 1);
        if (!r.ok()) return r;
        positional.push_back(*r);
      }
    }
    absl::StatusOr<int64_t> lo = Count(s, "minItems", 0);
    absl::StatusOr<int64_t> hi = Count(s, "maxItems", -1);
    if (!lo.ok()) return lo.status();
    if (!hi.ok()) return hi.status();
    int64_t max = *hi;
    const auto k = static_cast<int64_t>(positional.size());
    if (closed) max = max < 0 ? k : std::min(max, k);
    if (max >= 0 && max < *lo) {
      return Refuse(closed && *hi != max ? "minItems exceeds the items allowed (items: false)"
                                         : "maxItems < minItems");
    }
    if (Has(s, "uniqueItems") && s["uniqueItems"].is_boolean() && s["uniqueItems"].get<bool>() &&
        (max < 0 || max > 1)) {
      return Refuse(
          "keyword 'uniqueItems' is not supported (a grammar cannot keep items distinct) unless "
          "maxItems <= 1");
    }
    if (max == 0) return NewRule(hint, "\"[\" ws \"]\"");
    // Tail(i): what may follow once i items are written.
    std::string tail;  // Tail(k): the rest items
    {
      const int64_t more_lo = std::max<int64_t>(0, *lo - std::max<int64_t>(k, 1));
      const int64_t written = std::max<int64_t>(k, 1);
      if (closed || (max >= 0 && max <= written)) {
        tail = "";
      } else {
        tail = absl::StrCat("(ws \",\" ws ", item, "){", more_lo, ",",
                            max >= 0 ? absl::StrCat(max - written) : "", "}");
      }
    }
    for (int64_t i = k - 1; i >= 1; --i) {
      std::string next = absl::StrCat("ws \",\" ws ", positional[static_cast<size_t>(i)],
                                      tail.empty() ? "" : " ", tail);
      if (max >= 0 && i + 1 > max) next.clear();
      std::string body = next;
      if (i >= *lo) body = next.empty() ? "" : absl::StrCat("(", next, ")?");
      tail = body.empty() ? "" : NewRule(absl::StrCat(hint, "-t", i), body);
    }
    const std::string first = k > 0 ? positional[0] : item;
    std::string items = absl::StrCat(first, tail.empty() ? "" : " ", tail);
    if (*lo == 0) items = absl::StrCat("(", items, ")?");
    return NewRule(hint, absl::StrCat("\"[\" ws ", items, " ws \"]\""));
  }

  absl::StatusOr<std::string> ObjectType(const Json& s, const std::string& hint, int depth) {
    absl::StatusOr<int64_t> min = Count(s, "minProperties", 0);
    absl::StatusOr<int64_t> max = Count(s, "maxProperties", -1);
    if (!min.ok()) return min.status();
    if (!max.ok()) return max.status();
    if (*max >= 0 && *max < *min) return Refuse("maxProperties < minProperties");
    if (!s.contains("properties")) {
      std::string value = "value";
      if (s.contains("additionalProperties")) {
        const Json& ap = s["additionalProperties"];
        if (ap.is_boolean() && !ap.get<bool>()) {
          if (*min > 0) return Refuse("minProperties > 0 with additionalProperties false");
          return NewRule(hint, "\"{\" ws \"}\"");
        }
        absl::StatusOr<std::string> v = Visit(ap, hint + "-value", depth + 1);
        if (!v.ok()) return v;
        value = *v;
      }
      if (value == "value" && *min == 0 && *max < 0) return std::string("object");
      if (*max == 0) return NewRule(hint, "\"{\" ws \"}\"");
      const std::string kv = absl::StrCat("string ws \":\" ws ", value);
      std::string members =
          absl::StrCat(kv, " (ws \",\" ws ", kv, "){", std::max<int64_t>(0, *min - 1), ",",
                       *max >= 0 ? absl::StrCat(*max - 1) : "", "}");
      if (*min == 0) members = absl::StrCat("(", members, ")?");
      return NewRule(hint, absl::StrCat("\"{\" ws ", members, " ws \"}\""));
    }
    if (!s["properties"].is_object()) return Refuse("properties must be an object");
    std::set<std::string> req;
    if (s.contains("required")) {
      if (!s["required"].is_array()) return Refuse("required must be an array");
      for (const Json& r : s["required"]) {
        if (r.is_string()) req.insert(r.get<std::string>());
      }
    }
    for (const std::string& k : req) {
      if (!s["properties"].contains(k)) {
        return Refuse(absl::StrCat("requires '", k, "', which is not in properties"));
      }
    }
    Props p;
    for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) {
      absl::StatusOr<std::string> v = Visit(*it, hint + "-" + it.key(), depth + 1);
      if (!v.ok()) return v;
      p.kv.push_back(absl::StrCat(Literal(Json(it.key()).dump()), " ws \":\" ws ", *v));
      p.required.push_back(req.count(it.key()) > 0);
    }
    const auto n = static_cast<int64_t>(p.kv.size());
    if (*min > n) {
      return Refuse(absl::StrCat("minProperties ", *min, " exceeds the ", n,
                                 " properties generated (other keys are not generated)"));
    }
    if (*max >= 0 && static_cast<int64_t>(req.size()) > *max) {
      return Refuse("maxProperties is less than the number of required properties");
    }
    p.min = *min;
    p.max = *max;
    p.bounded = *min > 0 || *max >= 0;
    p.hint = hint;
    std::optional<std::string> body = Members(&p, 0, 0);
    if (!body) return Refuse("no object meets required/minProperties/maxProperties");
    if (*body == "\"\"") return NewRule(hint, "\"{\" ws \"}\"");
    return NewRule(hint, absl::StrCat("\"{\" ws ", *body, " ws \"}\""));
  }

  struct Props {
    std::vector<std::string> kv;  // key ws ":" ws value
    std::vector<bool> required;
    int64_t min = 0, max = -1;
    bool bounded = false;
    std::string hint;
    std::map<std::pair<int64_t, int64_t>, std::optional<std::string>> memo;
  };

  // Properties i.. once c are written (c counts exactly when min/maxProperties are set,
  // else only "none" or "some", which decides the comma); nullopt when none can complete.
  std::optional<std::string> Members(Props* p, int64_t i, int64_t c) {
    const auto n = static_cast<int64_t>(p->kv.size());
    if (i == n) {
      if (c < p->min || (p->max >= 0 && c > p->max)) return std::nullopt;
      return std::string("\"\"");
    }
    auto key = std::make_pair(i, c);
    auto it = p->memo.find(key);
    if (it != p->memo.end()) return it->second;
    std::vector<std::string> alts;
    if (p->max < 0 || c + 1 <= p->max) {
      const int64_t next_c = p->bounded ? c + 1 : 1;
      std::optional<std::string> next = Members(p, i + 1, next_c);
      if (next) {
        alts.push_back(absl::StrCat(c > 0 ? "ws \",\" ws " : "", p->kv[static_cast<size_t>(i)],
                                    *next == "\"\"" ? "" : " " + *next));
      }
    }
    if (!p->required[static_cast<size_t>(i)]) {
      std::optional<std::string> next = Members(p, i + 1, c);
      if (next) alts.push_back(*next);
    }
    std::optional<std::string> out;
    if (!alts.empty()) {
      std::string body;
      for (const std::string& a : alts) absl::StrAppend(&body, body.empty() ? "" : " | ", a);
      out = NewRule(absl::StrCat(p->hint, "-p", i, "c", c), body);
    }
    p->memo[key] = out;
    return out;
  }

  absl::StatusOr<std::string> VisitType(const Json& s, const std::string& t,
                                        const std::string& hint, int depth) {
    if (t == "string") return StringType(s, hint);
    if (t == "integer") return IntegerType(s, hint);
    if (t == "number") return NumberType(s, hint);
    if (t == "boolean") return std::string("boolean");
    if (t == "null") return std::string("null");
    if (t == "array") return ArrayType(s, hint, depth);
    if (t == "object") return ObjectType(s, hint, depth);
    return Refuse(absl::StrCat("type '", t, "' is unknown"));
  }

  const Json& root_;
  const JsonSchemaGbnfOptions& o_;
  std::vector<std::pair<std::string, std::string>> rules_;
  std::map<std::string, std::string> refs_;
  std::set<std::string> object_rules_;  // rules whose values are all objects
  std::deque<Json> merged_;             // allOf merges (stable addresses)
};

}  // namespace

absl::StatusOr<std::string> JsonSchemaToGbnf(std::string_view schema_json,
                                             const JsonSchemaGbnfOptions& options) {
  Json j = Json::parse(schema_json.begin(), schema_json.end(), nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError("json schema is not valid JSON");
  Converter c(j, options);
  return c.Run();
}

std::string JsonPrimitivesGbnf() { return kPrimitives; }

std::string JsonObjectGbnf() { return absl::StrCat("root ::= object\n", kPrimitives); }

std::string GbnfLiteral(std::string_view text) { return Literal(text); }

std::string GbnfJsonString(std::string_view value) {
  return Literal(Json(std::string(value)).dump(-1, ' ', false, Json::error_handler_t::replace));
}

}  // namespace jetserve::grammar
