// Typed, checked access to the fields of a JSON request object (nlohmann::json, parsed
// without exceptions). The first wrong field is kept as an INVALID_ARGUMENT status naming
// it ("options.temperature: expected a number, got a string"); later reads are no-ops.
// JSON null reads as absent, as the OpenAI and Ollama clients send it for unset fields.
//
//   JsonFields f(body, "");
//   std::optional<std::string> model = f.String("model");
//   std::optional<double> t = f.Number("temperature", 0, 100);
//   if (!f.ok()) return f.status();
#ifndef JETSERVE_GATEWAY_HTTP_JSON_FIELDS_H_
#define JETSERVE_GATEWAY_HTTP_JSON_FIELDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace jetserve::gateway::http {

using Json = nlohmann::json;

// Parses a request body; INVALID_ARGUMENT when it is not UTF-8 (naming the first bad
// byte), not JSON, or not an object.
absl::StatusOr<Json> ParseJsonObject(absl::string_view body);

// Serializes without throwing (invalid UTF-8 becomes U+FFFD).
std::string DumpJson(const Json& value);

// A float as the shortest decimal that reads back as the same float (0.1f prints 0.1, not
// 0.10000000149011612).
Json FloatJson(float value);

// JSON type name for messages: "a string", "an array", ...
const char* JsonTypeName(const Json& value);

class JsonFields {
 public:
  // `object` must outlive this; `prefix` is prepended to field names in errors ("options.").
  JsonFields(const Json& object, std::string prefix);

  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }
  // Records an error for `field` (the first one wins).
  void Fail(absl::string_view field, absl::string_view message);

  // The raw value, null when absent or JSON null.
  const Json* Get(absl::string_view key) const;
  bool Has(absl::string_view key) const { return Get(key) != nullptr; }

  std::optional<std::string> String(absl::string_view key);
  std::optional<bool> Bool(absl::string_view key);
  // A number in [lo, hi].
  std::optional<double> Number(absl::string_view key, double lo, double hi);
  // An integer in [lo, hi] (a float with an integral value is accepted, as JavaScript
  // clients send them).
  std::optional<int64_t> Int(absl::string_view key, int64_t lo, int64_t hi);
  // A string or an array of strings (OpenAI's `stop`, Ollama's `input`).
  std::optional<std::vector<std::string>> StringOrStrings(absl::string_view key);
  // An object (returned as a pointer into the document).
  const Json* Object(absl::string_view key);
  const Json* Array(absl::string_view key);

  std::string Name(absl::string_view key) const { return prefix_ + std::string(key); }

 private:
  const Json& object_;
  const std::string prefix_;
  absl::Status status_;
};

}  // namespace jetserve::gateway::http

#endif  // JETSERVE_GATEWAY_HTTP_JSON_FIELDS_H_
