// Exact GBNF for bounded JSON terminals of JSON Schema: integers in a range (minimum /
// maximum and their exclusive forms), numbers in a range, and the string formats date,
// time, date-time and uuid.
//
//   IntegerRangeGbnf(-5, 120)  // "-" [1-5] | [0-9] | [1-9] [0-9] | "1" [01] [0-9] | "120"
//
// The grammars are unambiguous (alternatives start with different characters), write
// integers without leading zeros and never as "-0".
#ifndef JETSERVE_ENGINE_GRAMMAR_JSON_TERMINALS_H_
#define JETSERVE_ENGINE_GRAMMAR_JSON_TERMINALS_H_

#include <cstdint>
#include <optional>
#include <string>

namespace jetserve::grammar {

// Largest magnitude a bound may have (18 digits: fits int64).
inline constexpr int64_t kMaxIntegerBound = 999'999'999'999'999'999;
// Digits of an integer with no bound on that side (as JSON mode's `integer` rule).
inline constexpr int kUnboundedIntegerDigits = 16;

// Integers in [lo, hi]; lo <= hi, both within +-kMaxIntegerBound.
std::string IntegerRangeGbnf(int64_t lo, int64_t hi);

// Decimal numbers (no exponent, up to 16 fraction digits) v with lo <= v <= hi where lo
// and hi are integers; `lo_open`/`hi_open` make a bound exclusive. Either bound may be
// absent (then the integer part has up to 16 digits on that side).
std::string NumberRangeGbnf(std::optional<int64_t> lo, bool lo_open, std::optional<int64_t> hi,
                            bool hi_open);

// The GBNF of a JSON string (with its quotes) in a known format, or nullopt when the format
// is not one of date, time, date-time, uuid.
std::optional<std::string> FormatGbnf(const std::string& format);

}  // namespace jetserve::grammar

#endif  // JETSERVE_ENGINE_GRAMMAR_JSON_TERMINALS_H_
