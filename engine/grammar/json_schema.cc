#include "engine/grammar/json_schema.h"

#include <cstdio>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace jetserve::grammar {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kPrimitives[] =
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,8}\n"
    "char ::= [^\"\\\\\\x00-\\x1f] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})\n"
    "string ::= \"\\\"\" char* \"\\\"\"\n"
    "integer ::= \"-\"? (\"0\" | [1-9] [0-9]{0,15})\n"
    "number ::= integer (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?\n"
    "boolean ::= \"true\" | \"false\"\n"
    "null ::= \"null\"\n"
    "value ::= object | array | string | number | boolean | null\n"
    "object ::= \"{\" ws (string ws \":\" ws value (ws \",\" ws string ws \":\" ws value)*)? ws "
    "\"}\"\n"
    "array ::= \"[\" ws (value (ws \",\" ws value)*)? ws \"]\"\n";

// GBNF string literal of raw text.
std::string Literal(const std::string& s) {
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

class Converter {
 public:
  explicit Converter(const Json& root) : root_(root) {}

  absl::StatusOr<std::string> Run() {
    absl::StatusOr<std::string> r = Visit(root_, "root", 0);
    if (!r.ok()) return r;
    std::string out = absl::StrCat("root ::= ", *r, "\n", kPrimitives);
    for (const auto& [name, body] : rules_) absl::StrAppend(&out, name, " ::= ", body, "\n");
    return out;
  }

 private:
  std::string NewRule(const std::string& hint, std::string body) {
    std::string name;
    for (const char c : hint) {
      name += (std::isalnum(static_cast<unsigned char>(c)) ? c : '-');
    }
    name = absl::StrCat("s-", name, "-", rules_.size());
    rules_.emplace_back(name, std::move(body));
    return name;
  }

  absl::StatusOr<std::string> Visit(const Json& s, const std::string& hint, int depth) {
    if (depth > 64) return absl::InvalidArgumentError("json schema nested too deeply");
    if (s.is_boolean()) {
      if (s.get<bool>()) return std::string("value");
      return absl::InvalidArgumentError("json schema 'false' allows no value");
    }
    if (!s.is_object()) return absl::InvalidArgumentError("json schema must be an object");
    for (const char* k : {"pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                          "multipleOf", "prefixItems", "uniqueItems", "not", "if", "then", "else",
                          "patternProperties", "minProperties", "maxProperties"}) {
      if (s.contains(k)) {
        return absl::InvalidArgumentError(
            absl::StrCat("json schema keyword '", k, "' is not supported"));
      }
    }
    if (s.contains("$ref")) {
      if (!s["$ref"].is_string())
        return absl::InvalidArgumentError("json schema $ref must be a string");
      const std::string ref = s["$ref"].get<std::string>();
      auto it = refs_.find(ref);
      if (it != refs_.end()) return it->second;
      std::string path;
      if (ref.rfind("#/$defs/", 0) == 0) {
        path = "$defs";
      } else if (ref.rfind("#/definitions/", 0) == 0) {
        path = "definitions";
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("json schema $ref '", ref, "' is not a local #/$defs/ reference"));
      }
      const std::string key = ref.substr(path.size() + 3);
      if (!root_.contains(path) || !root_[path].is_object() || !root_[path].contains(key)) {
        return absl::InvalidArgumentError(absl::StrCat("json schema $ref '", ref, "' not found"));
      }
      const std::string name = NewRule(key, "");  // placeholder, filled below (recursion)
      const size_t index = rules_.size() - 1;
      refs_[ref] = name;
      absl::StatusOr<std::string> body = Visit(root_[path][key], key, depth + 1);
      if (!body.ok()) return body;
      rules_[index].second = *body;
      return name;
    }
    if (s.contains("const")) return Literal(s["const"].dump());
    if (s.contains("enum")) {
      if (!s["enum"].is_array() || s["enum"].empty()) {
        return absl::InvalidArgumentError("json schema enum must be a non-empty array");
      }
      std::string alts;
      for (const Json& v : s["enum"]) {
        if (!alts.empty()) alts += " | ";
        alts += Literal(v.dump());
      }
      return NewRule(hint, alts);
    }
    for (const char* k : {"anyOf", "oneOf"}) {
      if (s.contains(k)) {
        if (!s[k].is_array() || s[k].empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat("json schema ", k, " must be a non-empty array"));
        }
        std::string alts;
        int i = 0;
        for (const Json& sub : s[k]) {
          absl::StatusOr<std::string> r = Visit(sub, absl::StrCat(hint, "-", i++), depth + 1);
          if (!r.ok()) return r;
          if (!alts.empty()) alts += " | ";
          alts += *r;
        }
        return NewRule(hint, alts);
      }
    }
    if (s.contains("allOf")) {
      if (!s["allOf"].is_array() || s["allOf"].size() != 1) {
        return absl::InvalidArgumentError("json schema allOf is supported with one member only");
      }
      return Visit(s["allOf"][0], hint, depth + 1);
    }
    std::vector<std::string> types;
    if (s.contains("type")) {
      if (s["type"].is_string()) {
        types.push_back(s["type"].get<std::string>());
      } else if (s["type"].is_array()) {
        for (const Json& t : s["type"]) {
          if (t.is_string()) types.push_back(t.get<std::string>());
        }
      }
      if (types.empty())
        return absl::InvalidArgumentError("json schema type must be a string or a list");
    } else if (s.contains("properties")) {
      types.push_back("object");
    } else if (s.contains("items")) {
      types.push_back("array");
    } else {
      return std::string("value");
    }
    std::string alts;
    for (const std::string& t : types) {
      absl::StatusOr<std::string> r = VisitType(s, t, hint, depth);
      if (!r.ok()) return r;
      if (!alts.empty()) alts += " | ";
      alts += *r;
    }
    return types.size() == 1 ? alts : NewRule(hint, alts);
  }

  absl::StatusOr<int64_t> Count(const Json& s, const char* key, int64_t dflt) {
    if (!s.contains(key)) return dflt;
    if (!s[key].is_number_integer() || s[key].get<int64_t>() < 0 || s[key].get<int64_t>() > 1000) {
      return absl::InvalidArgumentError(
          absl::StrCat("json schema ", key, " must be an integer in [0, 1000]"));
    }
    return s[key].get<int64_t>();
  }

  absl::StatusOr<std::string> VisitType(const Json& s, const std::string& t,
                                        const std::string& hint, int depth) {
    if (t == "string") {
      absl::StatusOr<int64_t> lo = Count(s, "minLength", 0);
      absl::StatusOr<int64_t> hi = Count(s, "maxLength", -1);
      if (!lo.ok()) return lo.status();
      if (!hi.ok()) return hi.status();
      if (*lo == 0 && *hi < 0) return std::string("string");
      if (*hi >= 0 && *hi < *lo)
        return absl::InvalidArgumentError("json schema maxLength < minLength");
      return NewRule(hint, absl::StrCat("\"\\\"\" char{", *lo, ",",
                                        *hi >= 0 ? absl::StrCat(*hi) : "", "} \"\\\"\""));
    }
    if (t == "integer") return std::string("integer");
    if (t == "number") return std::string("number");
    if (t == "boolean") return std::string("boolean");
    if (t == "null") return std::string("null");
    if (t == "array") {
      std::string item = "value";
      if (s.contains("items")) {
        absl::StatusOr<std::string> r = Visit(s["items"], hint + "-item", depth + 1);
        if (!r.ok()) return r;
        item = *r;
      }
      absl::StatusOr<int64_t> lo = Count(s, "minItems", 0);
      absl::StatusOr<int64_t> hi = Count(s, "maxItems", -1);
      if (!lo.ok()) return lo.status();
      if (!hi.ok()) return hi.status();
      if (*hi >= 0 && *hi < *lo)
        return absl::InvalidArgumentError("json schema maxItems < minItems");
      if (*hi == 0) return NewRule(hint, "\"[\" ws \"]\"");
      const std::string more =
          absl::StrCat("(ws \",\" ws ", item, "){", std::max<int64_t>(0, *lo - 1), ",",
                       *hi >= 0 ? absl::StrCat(*hi - 1) : "", "}");
      std::string items = absl::StrCat(item, " ", more);
      if (*lo == 0) items = absl::StrCat("(", items, ")?");
      return NewRule(hint, absl::StrCat("\"[\" ws ", items, " ws \"]\""));
    }
    if (t == "object") {
      if (!s.contains("properties")) return std::string("object");
      if (!s["properties"].is_object())
        return absl::InvalidArgumentError("json schema properties must be an object");
      std::vector<std::pair<std::string, std::string>> props;  // key literal rule, value rule
      std::vector<bool> required;
      std::map<std::string, bool> req;
      if (s.contains("required")) {
        if (!s["required"].is_array())
          return absl::InvalidArgumentError("json schema required must be an array");
        for (const Json& r : s["required"]) {
          if (r.is_string()) req[r.get<std::string>()] = true;
        }
      }
      for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) {
        absl::StatusOr<std::string> v = Visit(*it, hint + "-" + it.key(), depth + 1);
        if (!v.ok()) return v;
        props.emplace_back(Literal(Json(it.key()).dump()), *v);
        required.push_back(req.count(it.key()) > 0);
      }
      for (const auto& [k, v] : req) {
        if (!s["properties"].contains(k)) {
          return absl::InvalidArgumentError(
              absl::StrCat("json schema requires '", k, "', which is not in properties"));
        }
      }
      // P(i, first): properties i.. with or without a comma before the next one.
      const size_t n = props.size();
      std::vector<std::string> p_first(n + 1), p_rest(n + 1);
      p_first[n] = p_rest[n] = "";
      for (size_t i = n; i-- > 0;) {
        const std::string kv = absl::StrCat(props[i].first, " ws \":\" ws ", props[i].second);
        for (const bool first : {true, false}) {
          const std::string next = p_rest[i + 1];
          std::string body =
              absl::StrCat(first ? "" : "ws \",\" ws ", kv, next.empty() ? "" : " ", next);
          if (!required[i]) {
            const std::string skip = first ? p_first[i + 1] : p_rest[i + 1];
            body = absl::StrCat("(", body, ")", skip.empty() ? " | " : absl::StrCat(" | ", skip));
            if (skip.empty()) body += "\"\"";
          }
          (first ? p_first[i] : p_rest[i]) =
              NewRule(absl::StrCat(hint, "-p", i, first ? "f" : "r"), body);
        }
      }
      return NewRule(hint, absl::StrCat("\"{\" ws ", n > 0 ? p_first[0] : "", " ws \"}\""));
    }
    return absl::InvalidArgumentError(absl::StrCat("json schema type '", t, "' is unknown"));
  }

  const Json& root_;
  std::vector<std::pair<std::string, std::string>> rules_;
  std::map<std::string, std::string> refs_;
};

}  // namespace

absl::StatusOr<std::string> JsonSchemaToGbnf(std::string_view schema_json) {
  Json j = Json::parse(schema_json.begin(), schema_json.end(), nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError("json schema is not valid JSON");
  Converter c(j);
  return c.Run();
}

std::string JsonObjectGbnf() { return absl::StrCat("root ::= object\n", kPrimitives); }

}  // namespace jetserve::grammar
