#include "gateway/http/json_fields.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace jetserve::gateway::http {

absl::StatusOr<Json> ParseJsonObject(absl::string_view body) {
  if (body.empty()) return absl::InvalidArgumentError("request body: expected a JSON object");
  Json value = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    // JSON text is UTF-8 (RFC 8259); say so when that is what is wrong.
    const size_t bad = FirstInvalidUtf8({body.data(), body.size()});
    if (bad != std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("request body: not valid UTF-8 (byte ", bad, ")"));
    }
    return absl::InvalidArgumentError("request body: not valid JSON");
  }
  if (!value.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request body: expected a JSON object, got ", JsonTypeName(value)));
  }
  return value;
}

std::string DumpJson(const Json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

Json FloatJson(float value) {
  if (!std::isfinite(value)) return Json(nullptr);
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return Json(static_cast<double>(value));
  *end = '\0';
  // The double nearest to the float's shortest decimal prints as that decimal.
  return Json(std::strtod(buffer, nullptr));
}

const char* JsonTypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "a number";
    default:
      return "an unsupported value";
  }
}

JsonFields::JsonFields(const Json& object, std::string prefix)
    : object_(object), prefix_(std::move(prefix)) {}

void JsonFields::Fail(absl::string_view field, absl::string_view message) {
  if (status_.ok()) status_ = absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

const Json* JsonFields::Get(absl::string_view key) const {
  if (!object_.is_object()) return nullptr;
  auto it = object_.find(std::string(key));
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> JsonFields::String(absl::string_view key) {
  const Json* v = Get(key);
  if (v == nullptr || !ok()) return std::nullopt;
  if (!v->is_string()) {
    Fail(Name(key), absl::StrCat("expected a string, got ", JsonTypeName(*v)));
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<bool> JsonFields::Bool(absl::string_view key) {
  const Json* v = Get(key);
  if (v == nullptr || !ok()) return std::nullopt;
  if (!v->is_boolean()) {
    Fail(Name(key), absl::StrCat("expected true or false, got ", JsonTypeName(*v)));
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<double> JsonFields::Number(absl::string_view key, double lo, double hi) {
  const Json* v = Get(key);
  if (v == nullptr || !ok()) return std::nullopt;
  if (!v->is_number()) {
    Fail(Name(key), absl::StrCat("expected a number, got ", JsonTypeName(*v)));
    return std::nullopt;
  }
  const double d = v->get<double>();
  if (!(d >= lo && d <= hi)) {
    Fail(Name(key), absl::StrCat("must be in [", lo, ", ", hi, "], got ", d));
    return std::nullopt;
  }
  return d;
}

std::optional<int64_t> JsonFields::Int(absl::string_view key, int64_t lo, int64_t hi) {
  const Json* v = Get(key);
  if (v == nullptr || !ok()) return std::nullopt;
  int64_t value = 0;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) {
      Fail(Name(key), absl::StrCat("must be in [", lo, ", ", hi, "], got ", u));
      return std::nullopt;
    }
    value = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    value = v->get<int64_t>();
  } else if (v->is_number_float()) {
    const double d = v->get<double>();
    if (d != std::floor(d) || !(d >= static_cast<double>(lo) && d <= static_cast<double>(hi))) {
      Fail(Name(key), absl::StrCat("expected an integer in [", lo, ", ", hi, "], got ", d));
      return std::nullopt;
    }
    value = static_cast<int64_t>(d);
  } else {
    Fail(Name(key), absl::StrCat("expected an integer, got ", JsonTypeName(*v)));
    return std::nullopt;
  }
  if (value < lo || value > hi) {
    Fail(Name(key), absl::StrCat("must be in [", lo, ", ", hi, "], got ", value));
    return std::nullopt;
  }
  return value;
}

std::optional<std::vector<std::string>> JsonFields::StringOrStrings(absl::string_view key) {
  const Json* v = Get(key);
  if (v == nullptr || !ok()) return std::nullopt;
  std::vector<std::string> out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
    return out;
  }
  if (!v->is_array()) {
    Fail(Name(key),
         absl::StrCat("expected a string or an array of strings, got ", JsonTypeName(*v)));
    return std::nullopt;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& e = (*v)[i];
    if (!e.is_string()) {
      Fail(absl::StrCat(Name(key), "[", i, "]"),
           absl::StrCat("expected a string, got ", JsonTypeName(e)));
      return std::nullopt;
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

const Json* JsonFields::Object(absl::string_view key) {
  const Json* v = Get(key);
  if (v == nullptr || !ok()) return nullptr;
  if (!v->is_object()) {
    Fail(Name(key), absl::StrCat("expected an object, got ", JsonTypeName(*v)));
    return nullptr;
  }
  return v;
}

const Json* JsonFields::Array(absl::string_view key) {
  const Json* v = Get(key);
  if (v == nullptr || !ok()) return nullptr;
  if (!v->is_array()) {
    Fail(Name(key), absl::StrCat("expected an array, got ", JsonTypeName(*v)));
    return nullptr;
  }
  return v;
}

}  // namespace jetserve::gateway::http
