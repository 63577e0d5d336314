// JSON Schema -> GBNF grammar, and the grammar of JSON mode (any JSON object).
//
// Supported: type (incl. a list of types), properties + required (properties are emitted in
// the schema's order; optional ones may be left out; no other keys are generated),
// additionalProperties (only for objects without properties: any keys), items, minItems,
// maxItems, minLength, maxLength, enum, const, anyOf, oneOf, allOf with one member, $ref to
// "#/$defs/..." or "#/definitions/..." (recursion allowed), and untyped {} (any value).
// Rejected with InvalidArgument naming the keyword: pattern, minimum/maximum and the
// exclusive/multipleOf bounds, prefixItems, uniqueItems, not, if/then/else,
// patternProperties, and remote $refs.
// Numbers are bounded (up to 16 integer digits, 16 fraction digits, 2 exponent digits) and
// whitespace between tokens is at most a newline and 8 spaces or tabs, so every output of a
// bounded schema ends.
#ifndef JETSERVE_ENGINE_GRAMMAR_JSON_SCHEMA_H_
#define JETSERVE_ENGINE_GRAMMAR_JSON_SCHEMA_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace jetserve::grammar {

absl::StatusOr<std::string> JsonSchemaToGbnf(std::string_view schema_json);

// JSON mode: root is any JSON object.
std::string JsonObjectGbnf();

}  // namespace jetserve::grammar

#endif  // JETSERVE_ENGINE_GRAMMAR_JSON_SCHEMA_H_
