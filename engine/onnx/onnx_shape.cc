#include "engine/onnx/onnx_shape.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/util/checked_math.h"

namespace jetserve {

namespace {

constexpr size_t kMaxTerms = 16;  // past this a dimension is unknown (never in real graphs)

bool AddTo(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

}  // namespace

OnnxDim OnnxDim::Of(std::vector<Term> terms) {
  std::sort(terms.begin(), terms.end(),
            [](const Term& x, const Term& y) { return x.factors < y.factors; });
  OnnxDim d;
  d.known_ = true;
  for (Term& t : terms) {
    if (!d.terms_.empty() && d.terms_.back().factors == t.factors) {
      if (!AddTo(d.terms_.back().coeff, t.coeff, &d.terms_.back().coeff)) return {};
    } else {
      if (!d.terms_.empty() && d.terms_.back().coeff == 0) d.terms_.pop_back();
      d.terms_.push_back(std::move(t));
    }
  }
  if (!d.terms_.empty() && d.terms_.back().coeff == 0) d.terms_.pop_back();
  if (d.terms_.size() > kMaxTerms) return {};
  return d;
}

OnnxDim OnnxDim::Const(int64_t v) {
  OnnxDim d;
  d.known_ = true;
  if (v != 0) d.terms_.push_back({v, {}});
  return d;
}

OnnxDim OnnxDim::Symbol(int id) {
  OnnxDim d;
  d.known_ = true;
  d.terms_.push_back({1, {{id, 1}}});
  return d;
}

OnnxDim OnnxDim::operator+(const OnnxDim& o) const {
  if (!known_ || !o.known_) return {};
  std::vector<Term> t = terms_;
  t.insert(t.end(), o.terms_.begin(), o.terms_.end());
  return Of(std::move(t));
}

OnnxDim OnnxDim::operator-(const OnnxDim& o) const { return *this + o * Const(-1); }

OnnxDim OnnxDim::operator*(const OnnxDim& o) const {
  if (!known_ || !o.known_) return {};
  if (terms_.size() * o.terms_.size() > kMaxTerms * kMaxTerms) return {};
  std::vector<Term> out;
  for (const Term& x : terms_) {
    for (const Term& y : o.terms_) {
      Term t;
      if (!CheckedMulSigned(x.coeff, y.coeff, &t.coeff)) return {};
      size_t i = 0, j = 0;
      while (i < x.factors.size() || j < y.factors.size()) {
        if (j == y.factors.size() ||
            (i < x.factors.size() && x.factors[i].first < y.factors[j].first)) {
          t.factors.push_back(x.factors[i++]);
        } else if (i == x.factors.size() || y.factors[j].first < x.factors[i].first) {
          t.factors.push_back(y.factors[j++]);
        } else {
          t.factors.push_back({x.factors[i].first, x.factors[i].second + y.factors[j].second});
          ++i;
          ++j;
        }
      }
      out.push_back(std::move(t));
    }
  }
  return Of(std::move(out));
}

OnnxDim OnnxDim::DivExact(const OnnxDim& d) const {
  if (!known_ || !d.known_ || d.terms_.empty()) return {};
  if (terms_.empty()) return Const(0);
  if (d.terms_.size() == 1) {
    const Term& q = d.terms_[0];
    std::vector<Term> out;
    for (const Term& t : terms_) {
      if (q.coeff == -1 && t.coeff == std::numeric_limits<int64_t>::min()) return {};
      if (t.coeff % q.coeff != 0) return {};
      Term r;
      r.coeff = t.coeff / q.coeff;
      size_t j = 0;
      for (const auto& [sym, exp] : t.factors) {
        int e = exp;
        if (j < q.factors.size() && q.factors[j].first < sym) return {};  // a symbol t lacks
        if (j < q.factors.size() && q.factors[j].first == sym) {
          e -= q.factors[j++].second;
          if (e < 0) return {};
        }
        if (e > 0) r.factors.push_back({sym, e});
      }
      if (j != q.factors.size()) return {};
      out.push_back(std::move(r));
    }
    return Of(std::move(out));
  }
  // Proportional sums: the same monomials, one ratio.
  if (terms_.size() != d.terms_.size()) return {};
  int64_t k = 0;
  for (size_t i = 0; i < terms_.size(); ++i) {
    const Term &t = terms_[i], &q = d.terms_[i];
    if (t.factors != q.factors || t.coeff % q.coeff != 0) return {};
    if (q.coeff == -1 && t.coeff == std::numeric_limits<int64_t>::min()) return {};
    if (i == 0) k = t.coeff / q.coeff;
    if (t.coeff / q.coeff != k) return {};
  }
  return Const(k);
}

bool OnnxDim::SameAs(const OnnxDim& o) const { return known_ && o.known_ && terms_ == o.terms_; }

bool OnnxDim::DiffersFrom(const OnnxDim& o) const {
  const OnnxDim d = *this - o;
  return d.positive() || (o - *this).positive();
}

int64_t OnnxDim::MinValue() const {
  // Every symbol >= 1: with no negative coefficient outside the constant term the least
  // value is at all symbols 1, the sum of the coefficients.
  int64_t m = 0;
  for (const Term& t : terms_) {
    if (!t.factors.empty() && t.coeff < 0) return std::numeric_limits<int64_t>::min();
    if (!AddTo(m, t.coeff, &m)) return std::numeric_limits<int64_t>::min();
  }
  return m;
}

std::optional<int64_t> OnnxDim::Eval(absl::Span<const int64_t> values) const {
  if (!known_) return std::nullopt;
  int64_t sum = 0;
  for (const Term& t : terms_) {
    int64_t v = t.coeff;
    for (const auto& [sym, exp] : t.factors) {
      if (sym < 0 || static_cast<size_t>(sym) >= values.size()) return std::nullopt;
      for (int e = 0; e < exp; ++e) {
        if (!CheckedMulSigned(v, values[static_cast<size_t>(sym)], &v)) return std::nullopt;
      }
    }
    if (!AddTo(sum, v, &sum)) return std::nullopt;
  }
  return sum;
}

std::string OnnxDim::ToString(absl::Span<const std::string> names) const {
  if (!known_) return "?";
  if (terms_.empty()) return "0";
  // Highest degree first, the constant last: "seq + 2", "seq - 1".
  std::vector<const Term*> order;
  for (const Term& t : terms_) order.push_back(&t);
  auto degree = [](const Term* t) {
    int d = 0;
    for (const auto& f : t->factors) d += f.second;
    return d;
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](const Term* x, const Term* y) { return degree(x) > degree(y); });
  std::string out;
  for (const Term* t : order) {
    std::vector<std::string> parts;
    const bool negative =
        t->coeff < 0 && !out.empty() && t->coeff != std::numeric_limits<int64_t>::min();
    const int64_t c = negative ? -t->coeff : t->coeff;
    if (c != 1 || t->factors.empty()) parts.push_back(absl::StrCat(c));
    for (const auto& [sym, exp] : t->factors) {
      std::string n = sym >= 0 && static_cast<size_t>(sym) < names.size()
                          ? names[static_cast<size_t>(sym)]
                          : absl::StrCat("s", sym);
      if (exp > 1) absl::StrAppend(&n, "^", exp);
      parts.push_back(std::move(n));
    }
    if (!out.empty()) absl::StrAppend(&out, negative ? " - " : " + ");
    absl::StrAppend(&out, absl::StrJoin(parts, "*"));
  }
  return out;
}

OnnxShape OnnxShape::Concrete(const std::vector<int64_t>& d) {
  OnnxShape s;
  s.has_rank = true;
  for (int64_t v : d) s.dims.push_back(OnnxDim::Const(v));
  return s;
}

bool OnnxShape::fully_known() const {
  if (!has_rank) return false;
  for (const OnnxDim& d : dims) {
    if (!d.known()) return false;
  }
  return true;
}

OnnxDim OnnxShape::numel() const {
  if (!has_rank) return {};
  OnnxDim n = OnnxDim::Const(1);
  for (const OnnxDim& d : dims) n = n * d;
  return n;
}

std::string OnnxShape::ToString(absl::Span<const std::string> names) const {
  if (!has_rank) return "?";
  std::vector<std::string> parts;
  for (const OnnxDim& d : dims) parts.push_back(d.ToString(names));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

}  // namespace jetserve
