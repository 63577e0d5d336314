// JSON Schema -> GBNF grammar, and the grammar of JSON mode (any JSON object).
//
// Supported:
//   any type    type (a name or a list), enum, const, anyOf, oneOf (as anyOf: an output may
//               match several branches), allOf (one member, or object members that merge:
//               properties, required), $ref to "#", "#/$defs/..." or "#/definitions/..."
//               (recursion allowed), untyped {} (any value)
//   string      minLength, maxLength, pattern (ECMA-262 subset, see regex_gbnf.h), format
//               date, time, date-time, uuid (other formats are annotations: not enforced)
//   integer     minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers, or draft 4's
//               booleans): an exact digit-range grammar
//   number      the same bounds when they are whole numbers (values then have no exponent)
//   array       items, prefixItems (and draft 7's items list + additionalItems), minItems,
//               maxItems, uniqueItems when maxItems <= 1
//   object      properties + required (emitted in the schema's order; optional ones may be
//               left out; no other keys are generated), additionalProperties (a schema for
//               the values of an object without properties), minProperties, maxProperties
// Without "type", the keywords say it: properties -> object, items -> array,
// pattern/minLength/format -> string, minimum... -> number.
// Rejected with InvalidArgument naming the keyword: multipleOf, not, if/then/else,
// patternProperties, propertyNames, contains, dependentRequired/-Schemas, unevaluated*,
// uniqueItems (unless maxItems <= 1), non-integer bounds on numbers, pattern combined with
// minLength/maxLength or format, remote $refs.
// Numbers are bounded (up to 16 integer digits, 16 fraction digits, 2 exponent digits) and
// whitespace between tokens is at most a newline and 8 spaces or tabs, so every output of a
// bounded schema ends.
#ifndef JETSERVE_ENGINE_GRAMMAR_JSON_SCHEMA_H_
#define JETSERVE_ENGINE_GRAMMAR_JSON_SCHEMA_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace jetserve::grammar {

struct JsonSchemaGbnfOptions {
  std::string root_name = "root";  // the rule of the schema's value
  std::string rule_prefix = "s";   // the other rules' names start with it (and "-")
  bool primitives = true;          // append JsonPrimitivesGbnf()
  bool require_object = false;     // the value must be an object (tool arguments)
};

absl::StatusOr<std::string> JsonSchemaToGbnf(std::string_view schema_json,
                                             const JsonSchemaGbnfOptions& options = {});

// The shared rules schema grammars use: ws, char, string, integer, number, boolean, null,
// value, object, array.
std::string JsonPrimitivesGbnf();

// JSON mode: root is any JSON object.
std::string JsonObjectGbnf();

// A GBNF literal that matches exactly `text`.
std::string GbnfLiteral(std::string_view text);
// A GBNF literal of `value` written as a JSON string (with its quotes and escapes).
std::string GbnfJsonString(std::string_view value);

}  // namespace jetserve::grammar

#endif  // JETSERVE_ENGINE_GRAMMAR_JSON_SCHEMA_H_
