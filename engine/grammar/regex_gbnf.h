// JSON Schema "pattern" (an ECMA-262 regular expression) -> a GBNF expression for the
// JSON-encoded contents of a string that matches it (the text between the quotes).
//
//   std::vector<std::pair<std::string, std::string>> rules;  // helper rules, appended
//   ASSIGN_OR_RETURN(std::string expr, RegexToGbnf("^[A-Z]{2}-\\d+$", "s-code", &rules));
//   // root ::= "\"" <expr> "\""   plus `char` (one JSON string character) and `rules`
//
// Supported: literals and escapes (\t \n \r \v \f \0 \cX \xHH \uHHHH \u{H..} and escaped
// punctuation), classes ([...], [^...], ranges, \d \D \w \W \s \S, '.'), groups ((...),
// (?:...), (?<name>...)), alternation, ?, *, +, {m}, {m,}, {m,n} (lazy forms too), and the
// anchors ^ and $ at the start and end of the pattern or of a top-level alternative.
// A pattern is a search (as JSON Schema says): without ^ or $ any text may come before or
// after the match. Refused with InvalidArgument naming the construct: backreferences,
// lookahead/lookbehind, word boundaries, Unicode property escapes, anchors elsewhere.
//
// Each matched character is written in one canonical JSON form: itself, or \" \\ \n \r \t
// \b \f, or \u00XX for other control characters. \s and \S generate only characters that
// ECMA-262 and Python's re agree on (so Python's jsonschema accepts every output), and '.'
// excludes the ECMA line terminators.
#ifndef JETSERVE_ENGINE_GRAMMAR_REGEX_GBNF_H_
#define JETSERVE_ENGINE_GRAMMAR_REGEX_GBNF_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace jetserve::grammar {

// `char_rule` names a rule that matches one JSON string character (used for the
// unanchored ends); rule names in `rules` start with `prefix`.
absl::StatusOr<std::string> RegexToGbnf(std::string_view pattern, const std::string& prefix,
                                        const std::string& char_rule,
                                        std::vector<std::pair<std::string, std::string>>* rules);

// A GBNF string literal of a code point (for classes and literals).
std::string GbnfCodePoint(char32_t c);

}  // namespace jetserve::grammar

#endif  // JETSERVE_ENGINE_GRAMMAR_REGEX_GBNF_H_
