// OnnxDim: the symbolic polynomials of static shape inference, against values worked out
// by hand (b = batch = symbol 0, s = seq = symbol 1).
#include "engine/onnx/onnx_shape.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace jetserve {
namespace {

const std::vector<std::string> kNames = {"batch", "seq"};

TEST(OnnxDimTest, ProductsPrintAndEvaluate) {
  const OnnxDim b = OnnxDim::Symbol(0), s = OnnxDim::Symbol(1);
  const OnnxDim n = b * s * OnnxDim::Const(384);
  EXPECT_EQ(n.ToString(kNames), "384*batch*seq");
  EXPECT_EQ((s * b * s).ToString(kNames), "batch*seq^2");
  EXPECT_EQ(OnnxDim::Const(7).ToString(kNames), "7");
  EXPECT_EQ(OnnxDim().ToString(kNames), "?");
  EXPECT_EQ(n.Eval({2, 7}), 2 * 7 * 384);
  EXPECT_EQ((OnnxDim::Const(0) * b).ToString(kNames), "0");
  EXPECT_FALSE((b * OnnxDim()).known());
  EXPECT_FALSE(b.Eval({}).has_value());  // symbol without a value
  // Overflow: of the coefficient at inference, of the value at evaluation.
  const OnnxDim big = OnnxDim::Const(int64_t{1} << 40);
  EXPECT_FALSE((big * big).known());
  EXPECT_FALSE((big * b * b).Eval({int64_t{1} << 20}).has_value());
}

TEST(OnnxDimTest, ExactQuotients) {
  const OnnxDim b = OnnxDim::Symbol(0), s = OnnxDim::Symbol(1);
  const OnnxDim n = b * s * OnnxDim::Const(384);
  // Reshape [batch, seq, 384] to [batch, 12, -1, 32]: -1 = 384*b*s / (12*32*b) = s.
  EXPECT_TRUE(n.DivExact(b * OnnxDim::Const(12 * 32)).SameAs(s));
  EXPECT_EQ(n.DivExact(OnnxDim::Const(12)).ToString(kNames), "32*batch*seq");
  EXPECT_EQ((n + OnnxDim::Const(48) * b).DivExact(OnnxDim::Const(48) * b).ToString(kNames),
            "8*seq + 1");
  EXPECT_FALSE(n.DivExact(OnnxDim::Const(5)).known());  // 384 / 5
  EXPECT_FALSE(n.DivExact(s * s).known());              // seq^2 does not divide
  EXPECT_FALSE(b.DivExact(s).known());
  EXPECT_FALSE(n.DivExact(OnnxDim::Const(0)).known());
  EXPECT_TRUE(OnnxDim::Const(0).DivExact(b).SameAs(OnnxDim::Const(0)));
  EXPECT_FALSE(
      OnnxDim::Const(std::numeric_limits<int64_t>::min()).DivExact(OnnxDim::Const(-1)).known());
}

TEST(OnnxDimTest, SumsAndComparisons) {
  const OnnxDim b = OnnxDim::Symbol(0), s = OnnxDim::Symbol(1), one = OnnxDim::Const(1);
  EXPECT_TRUE((OnnxDim::Const(2) + OnnxDim::Const(3)).SameAs(OnnxDim::Const(5)));
  EXPECT_EQ((b + s).ToString(kNames), "batch + seq");
  // RoBERTa's positions: Range(2, seq + 2) has (seq + 2) - 2 = seq elements.
  EXPECT_TRUE(((s + OnnxDim::Const(2)) - OnnxDim::Const(2)).SameAs(s));
  EXPECT_EQ((s - one).ToString(kNames), "seq - 1");
  EXPECT_EQ(((b + one) * (b + one)).ToString(kNames), "batch^2 + 2*batch + 1");
  EXPECT_EQ((b + one).Eval({4, 0}), 5);
  EXPECT_TRUE(
      (OnnxDim::Const(2) * b + OnnxDim::Const(2)).DivExact(b + one).SameAs(OnnxDim::Const(2)));
  EXPECT_FALSE((OnnxDim::Const(2) * b + OnnxDim::Const(3)).DivExact(b + one).known());
  EXPECT_TRUE((b * s).SameAs(s * b));
  EXPECT_FALSE(b.SameAs(s));  // may be equal per call, but not as polynomials
  EXPECT_FALSE(b.DiffersFrom(s));
  EXPECT_TRUE((OnnxDim::Const(6) * b).DiffersFrom(OnnxDim::Const(4) * b));  // b >= 1
  EXPECT_TRUE((s + OnnxDim::Const(2)).DiffersFrom(s));
  EXPECT_TRUE(b.DiffersFrom(OnnxDim::Const(-1)));  // a dimension is never -1
  EXPECT_FALSE(b.DiffersFrom(OnnxDim::Const(3)));
  EXPECT_TRUE(OnnxDim::Const(6).DiffersFrom(OnnxDim::Const(4)));
  EXPECT_FALSE(OnnxDim().SameAs(OnnxDim()));
  // Signs for symbols >= 1.
  EXPECT_TRUE(b.positive());
  EXPECT_TRUE((s - one).nonnegative());
  EXPECT_FALSE((s - one).positive());
  EXPECT_FALSE((s - OnnxDim::Const(2)).nonnegative());
  EXPECT_FALSE((OnnxDim::Const(128) - s).nonnegative());
  EXPECT_FALSE((OnnxDim::Const(-1) * b).nonnegative());
}

TEST(OnnxShapeTest, PrintsAndCounts) {
  const OnnxShape sh = OnnxShape::Of({OnnxDim::Symbol(0), OnnxDim::Symbol(1), OnnxDim::Const(384)});
  EXPECT_EQ(sh.ToString(kNames), "[batch, seq, 384]");
  EXPECT_TRUE(sh.fully_known());
  EXPECT_EQ(sh.numel().ToString(kNames), "384*batch*seq");
  EXPECT_EQ(OnnxShape::Unknown().ToString(kNames), "?");
  EXPECT_EQ(OnnxShape::Of({OnnxDim(), OnnxDim::Const(4)}).ToString(kNames), "[?, 4]");
  EXPECT_FALSE(OnnxShape::Of({OnnxDim(), OnnxDim::Const(4)}).numel().known());
  EXPECT_TRUE(OnnxShape::Of({}).numel().SameAs(OnnxDim::Const(1)));  // a scalar
}

}  // namespace
}  // namespace jetserve
