// Symbolic shapes for the ONNX executor's static shape inference: each dimension is either
// unknown or a polynomial with integer coefficients in the symbols of the graph inputs'
// dimensions (`batch`, `sequence`, ...; symbol i's value is bound per call), such as
// 384*batch*seq or seq + 2. Sums, products and exact quotients stay symbolic, so
// [batch, seq, 384] reshaped with a -1 to [batch, 12, -1, 32] infers [batch, 12, seq, 32];
// minima, maxima and data-dependent sizes are unknown. Inference is conservative: a known
// dimension is what the node produces whenever it runs without error and every symbol is
// >= 1 (an empty batch or sequence is outside what it claims).
//
//   OnnxDim b = OnnxDim::Symbol(0), s = OnnxDim::Symbol(1);
//   OnnxDim n = b * s * OnnxDim::Const(384);      // 384*batch*seq
//   n.DivExact(b * OnnxDim::Const(12)).ToString(names);   // "32*seq"
//   n.Eval({2, 7});                                // 5376
//   (s + OnnxDim::Const(2)) - OnnxDim::Const(2)    // seq: RoBERTa's Range(2, seq + 2)
#ifndef JETSERVE_ENGINE_ONNX_ONNX_SHAPE_H_
#define JETSERVE_ENGINE_ONNX_ONNX_SHAPE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/types/span.h"

namespace jetserve {

class OnnxDim {
 public:
  OnnxDim() = default;  // unknown
  static OnnxDim Const(int64_t v);
  static OnnxDim Symbol(int id);

  bool known() const { return known_; }
  bool is_const() const {
    return known_ && (terms_.empty() || terms_[0].factors.empty()) && terms_.size() <= 1;
  }
  // The value of a constant (is_const()).
  int64_t value() const { return terms_.empty() ? 0 : terms_[0].coeff; }
  // Known to be >= 0 (>= 1) whenever every symbol is >= 1: the coefficients of all
  // non-constant terms are >= 0 and the value with every symbol 1 is >= 0 (>= 1).
  bool nonnegative() const { return known_ && MinValue() >= 0; }
  bool positive() const { return known_ && MinValue() >= 1; }

  // Sum, difference and product; unknown if either operand is, on overflow, or past a small
  // number of terms.
  OnnxDim operator+(const OnnxDim& o) const;
  OnnxDim operator-(const OnnxDim& o) const;
  OnnxDim operator*(const OnnxDim& o) const;
  // q with q * d == *this as polynomials (so also in value whenever d != 0): every term
  // divided by a one-term d, or the constant ratio of two proportional sums; else unknown.
  OnnxDim DivExact(const OnnxDim& d) const;

  // Same polynomial (so same value for every binding); false if either is unknown.
  bool SameAs(const OnnxDim& o) const;
  // Known to differ whenever every symbol is >= 1 (their difference is >= 1 or <= -1).
  bool DiffersFrom(const OnnxDim& o) const;

  // The value with symbol i = values[i]; nullopt if unknown, a symbol is out of range, or
  // on overflow.
  std::optional<int64_t> Eval(absl::Span<const int64_t> values) const;
  // "384", "batch", "12*batch*seq", "seq^2", "seq + 2", "seq - 1", "?".
  std::string ToString(absl::Span<const std::string> names) const;

 private:
  struct Term {
    int64_t coeff = 0;                         // != 0
    std::vector<std::pair<int, int>> factors;  // (symbol, exponent >= 1), by symbol
    bool operator==(const Term& o) const { return coeff == o.coeff && factors == o.factors; }
  };
  // The least value with every symbol >= 1, or INT64_MIN when unbounded (or on overflow).
  int64_t MinValue() const;
  static OnnxDim Of(std::vector<Term> terms);  // sorts, merges like terms, drops zeros

  bool known_ = false;
  std::vector<Term> terms_;  // sorted by factors; empty: 0
};

// A tensor's shape as inference knows it: its rank may be unknown, and any dim.
struct OnnxShape {
  bool has_rank = false;
  std::vector<OnnxDim> dims;

  static OnnxShape Unknown() { return {}; }
  static OnnxShape Of(std::vector<OnnxDim> d) { return {true, std::move(d)}; }
  static OnnxShape Concrete(const std::vector<int64_t>& d);
  // Rank and every dim known.
  bool fully_known() const;
  // The number of elements, unknown unless fully_known().
  OnnxDim numel() const;
  // "[batch, seq, 384]"; "[?, 4]"; "?" without a rank.
  std::string ToString(absl::Span<const std::string> names) const;
};

}  // namespace jetserve

#endif  // JETSERVE_ENGINE_ONNX_ONNX_SHAPE_H_
