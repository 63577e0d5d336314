#include "engine/grammar/json_terminals.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace jetserve::grammar {
namespace {

uint64_t Pow10(int n) {
  uint64_t v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

std::string Digits(char lo, char hi) {
  if (lo == hi) return absl::StrCat("\"", std::string(1, lo), "\"");
  if (lo == '0' && hi == '9') return "[0-9]";
  return absl::StrCat("[", std::string(1, lo), "-", std::string(1, hi), "]");
}

std::string AnyDigits(size_t n) {
  if (n == 0) return "";
  if (n == 1) return "[0-9]";
  return absl::StrCat("[0-9]{", n, "}");
}

// Digit strings of one length from x to y (x <= y, same length), as alternatives that
// start with different digits.
void SameLength(const std::string& x, const std::string& y, std::vector<std::string>* out,
                const std::string& head) {
  const size_t n = x.size();
  if (n == 0) {
    out->push_back(head.empty() ? "\"\"" : head);
    return;
  }
  auto join = [&](const std::string& a, const std::string& b) {
    if (a.empty()) return b;
    if (b.empty()) return a;
    return absl::StrCat(a, " ", b);
  };
  const std::string xr = x.substr(1), yr = y.substr(1);
  if (x[0] == y[0]) {
    SameLength(xr, yr, out, join(head, Digits(x[0], x[0])));
    return;
  }
  const bool x_low = xr.find_first_not_of('0') == std::string::npos;   // x[0]000...
  const bool y_high = yr.find_first_not_of('9') == std::string::npos;  // y[0]999...
  char mid_lo = static_cast<char>(x[0] + 1), mid_hi = static_cast<char>(y[0] - 1);
  if (x_low) {
    mid_lo = x[0];
  } else {
    SameLength(xr, std::string(n - 1, '9'), out, join(head, Digits(x[0], x[0])));
  }
  if (y_high) mid_hi = y[0];
  if (mid_lo <= mid_hi) out->push_back(join(join(head, Digits(mid_lo, mid_hi)), AnyDigits(n - 1)));
  if (!y_high) SameLength(std::string(n - 1, '0'), yr, out, join(head, Digits(y[0], y[0])));
}

// Decimal integers in [x, y] without leading zeros.
void UintRange(uint64_t x, uint64_t y, std::vector<std::string>* out) {
  if (x > y) return;
  const std::string ys = absl::StrCat(y);
  for (size_t len = absl::StrCat(x).size(); len <= ys.size(); ++len) {
    const uint64_t lo = std::max<uint64_t>(x, len == 1 ? 0 : Pow10(static_cast<int>(len) - 1));
    const uint64_t hi = std::min<uint64_t>(y, Pow10(static_cast<int>(len)) - 1);
    if (lo <= hi) SameLength(absl::StrCat(lo), absl::StrCat(hi), out, "");
  }
}

std::string Join(const std::vector<std::string>& alts) {
  std::string out;
  for (const std::string& a : alts) absl::StrAppend(&out, out.empty() ? "" : " | ", a);
  return out;
}

// Fraction kinds for one integer part.
enum Frac { kNone = 0, kZero = 1, kNonZero = 2, kAny = 3 };

constexpr char kFracAny[] = "(\".\" [0-9]{1,16})?";
constexpr char kFracZero[] = "(\".\" \"0\"{1,16})?";
constexpr char kFracNonZero[] = "\".\" \"0\"{0,15} [1-9] [0-9]{0,15}";

// Magnitudes I[.F] in [a, b] (a >= 0), either end open, as alternatives.
void Magnitudes(uint64_t a, bool a_open, uint64_t b, bool b_open, std::vector<std::string>* out) {
  if (a > b) return;
  auto kind = [&](uint64_t i) {
    int k = kAny;
    if (i == a && a_open) k &= kNonZero;
    if (i == b) k &= b_open ? kNone : kZero;
    return k;
  };
  auto add = [&](uint64_t lo, uint64_t hi, int k) {
    if (k == kNone || lo > hi) return;
    std::vector<std::string> ints;
    UintRange(lo, hi, &ints);
    const char* frac = k == kAny ? kFracAny : k == kZero ? kFracZero : kFracNonZero;
    out->push_back(absl::StrCat("(", Join(ints), ") ", frac));
  };
  add(a, a, kind(a));
  if (b > a) {
    add(a + 1, b - 1, kAny);
    add(b, b, kind(b));
  }
}

}  // namespace

std::string IntegerRangeGbnf(int64_t lo, int64_t hi) {
  std::vector<std::string> alts;
  if (lo < 0) {
    std::vector<std::string> neg;
    UintRange(static_cast<uint64_t>(std::max<int64_t>(hi < 0 ? -hi : 1, 1)),
              static_cast<uint64_t>(-lo), &neg);
    if (!neg.empty()) alts.push_back(absl::StrCat("\"-\" (", Join(neg), ")"));
  }
  if (hi >= 0) {
    UintRange(static_cast<uint64_t>(std::max<int64_t>(lo, 0)), static_cast<uint64_t>(hi), &alts);
  }
  return Join(alts);
}

std::string NumberRangeGbnf(std::optional<int64_t> lo, bool lo_open, std::optional<int64_t> hi,
                            bool hi_open) {
  const uint64_t unbounded = Pow10(kUnboundedIntegerDigits) - 1;
  std::vector<std::string> alts;
  // Negative values: "-" and a magnitude m > 0 with -hi <= m <= -lo.
  if (!lo || *lo < 0) {
    std::vector<std::string> neg;
    const bool hi_neg = hi && *hi < 0;
    Magnitudes(hi_neg ? static_cast<uint64_t>(-*hi) : 0, hi_neg ? hi_open : true,
               lo ? static_cast<uint64_t>(-*lo) : unbounded, lo ? lo_open : false, &neg);
    if (!neg.empty()) alts.push_back(absl::StrCat("\"-\" (", Join(neg), ")"));
  }
  if (!hi || *hi >= 0) {
    const bool lo_pos = lo && *lo >= 0;
    Magnitudes(lo_pos ? static_cast<uint64_t>(*lo) : 0, lo_pos ? lo_open : false,
               hi ? static_cast<uint64_t>(*hi) : unbounded, hi ? hi_open : false, &alts);
  }
  return Join(alts);
}

std::optional<std::string> FormatGbnf(const std::string& format) {
  // RFC 3339 full-date with the days each month has (29 February in leap years only);
  // years 1000-9999.
  const std::string d28 = "(\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8])";
  const std::string date = absl::StrCat(
      "([1-9] [0-9]{3} \"-\" (",  //
      "(\"0\" [13578] | \"1\" [02]) \"-\" (", d28, " | \"29\" | \"3\" [01]) | ",
      "(\"0\" [469] | \"11\") \"-\" (", d28, " | \"29\" | \"30\") | ",  //
      "\"02-\" ", d28, ") | ",
      "([1-9] [0-9] (\"0\" [48] | [2468] [048] | [13579] [26]) | ([13579] [26] | [2468] [048]) "
      "\"00\") \"-02-29\")");
  const std::string two = "[0-5] [0-9]";
  const std::string hour = "([01] [0-9] | \"2\" [0-3])";
  const std::string time =
      absl::StrCat(hour, " \":\" ", two, " \":\" ", two, " (\".\" [0-9]{1,9})? (\"Z\" | [+-] ",
                   hour, " \":\" ", two, ")");
  std::string body;
  if (format == "date") {
    body = date;
  } else if (format == "time") {
    body = time;
  } else if (format == "date-time") {
    body = absl::StrCat(date, " \"T\" ", time);
  } else if (format == "uuid") {
    body = "[0-9a-f]{8} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{12}";
  } else {
    return std::nullopt;
  }
  return absl::StrCat("\"\\\"\" ", body, " \"\\\"\"");
}

}  // namespace jetserve::grammar
