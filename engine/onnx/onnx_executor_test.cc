// OnnxExecutor: the static plan (refusals at load by operator name, constant folding, input
// checks against declared and symbolic dims, shape inference: symbolic shapes derived by
// hand and the shapes exporters declare, contradictions refused at load), values derived by
// hand, and hostile graphs (absurd shapes, bad indices, division by zero) failing with
// errors that name the node.
// Operator semantics are checked against the ONNX node tests (onnx_node_tests).
#include "engine/onnx/onnx_executor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/test_files.h"

namespace jetserve {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;
using TP = onnx::TensorProto;

struct GraphBuilder {
  onnx::ModelProto m;
  onnx::GraphProto* g;
  GraphBuilder() {
    m.set_ir_version(8);
    m.add_opset_import()->set_version(17);
    g = m.mutable_graph();
  }
  void Input(const std::string& name, int32_t type, std::vector<std::string> dims) {
    onnx::ValueInfoProto* v = g->add_input();
    v->set_name(name);
    onnx::TypeProto::Tensor* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    for (const std::string& d : dims) {
      onnx::TensorShapeProto::Dimension* dim = t->mutable_shape()->add_dim();
      if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0]))) {
        dim->set_dim_value(std::stoll(d));
      } else {
        dim->set_dim_param(d);
      }
    }
  }
  void Output(const std::string& name) { g->add_output()->set_name(name); }
  void FloatInit(const std::string& name, std::vector<int64_t> dims, std::vector<float> v) {
    TP* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(TP::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float f : v) t->add_float_data(f);
  }
  void IntInit(const std::string& name, std::vector<int64_t> dims, std::vector<int64_t> v) {
    TP* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(TP::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t i : v) t->add_int64_data(i);
  }
  onnx::NodeProto* Node(const std::string& op, std::vector<std::string> in,
                        std::vector<std::string> out, const std::string& name = "") {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + "_" + std::to_string(g->node_size()) : name);
    for (const std::string& s : in) n->add_input(s);
    for (const std::string& s : out) n->add_output(s);
    return n;
  }
  void Ints(onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t i : v) a->add_ints(i);
  }
  void Int(onnx::NodeProto* n, const std::string& name, int64_t v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  absl::StatusOr<std::unique_ptr<OnnxModel>> Model() const {
    const std::string bytes = m.SerializeAsString();
    return OnnxModel::FromBytes({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
                                ".");
  }
};

TEST(OnnxExecutorTest, ListsOperators) {
  const std::vector<std::string> ops = OnnxExecutor::SupportedOperators();
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
  EXPECT_TRUE(OnnxExecutor::Supports("MatMul"));
  EXPECT_TRUE(OnnxExecutor::Supports("MatMulInteger"));
  EXPECT_FALSE(OnnxExecutor::Supports("Conv"));
}

TEST(OnnxExecutorTest, UnsupportedOperatorIsRefusedAtLoadByName) {
  GraphBuilder b;
  b.Input("x", TP::FLOAT, {"1", "3", "8", "8"});
  b.FloatInit("w", {1, 3, 1, 1}, {1, 1, 1});
  b.Node("Conv", {"x", "w"}, {"y"}, "conv0");
  b.Output("y");
  ASSERT_OK_AND_ASSIGN(auto m, b.Model());
  EXPECT_THAT(OnnxExecutor::Create(*m).status(),
              StatusIs(absl::StatusCode::kUnimplemented,
                       HasSubstr("node 0 'conv0' (Conv): operator Conv is not supported")));
}

TEST(OnnxExecutorTest, OtherDomainsAreRefused) {
  GraphBuilder b;
  b.m.add_opset_import()->set_domain("com.microsoft");
  b.Input("x", TP::FLOAT, {"2"});
  b.Node("FastGelu", {"x"}, {"y"}, "fg")->set_domain("com.microsoft");
  b.Output("y");
  ASSERT_OK_AND_ASSIGN(auto m, b.Model());
  EXPECT_THAT(OnnxExecutor::Create(*m).status(),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("com.microsoft.FastGelu")));
}

// softmax(x W + b) over a symbolic batch, every value derived by hand.
TEST(OnnxExecutorTest, SmallGraphByHand) {
  GraphBuilder b;
  b.Input("x", TP::FLOAT, {"batch", "2"});
  b.FloatInit("w", {2, 2}, {1, 0, 0, 2});  // x W = [x0, 2 x1]
  b.FloatInit("b", {2}, {0, -1});
  b.Node("MatMul", {"x", "w"}, {"xw"});
  b.Node("Add", {"xw", "b"}, {"z"});
  b.Node("Softmax", {"z"}, {"p"});
  b.Output("p");
  ASSERT_OK_AND_ASSIGN(auto m, b.Model());
  ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m));
  std::vector<OnnxValue> out;
  // Rows: z = [1, 3] and [0, -1].
  ASSERT_OK(x->Run({OnnxValue::Float({2, 2}, std::vector<float>{1, 2, 0, 0})}, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{2, 2}));
  const float* p = out[0].data<float>();
  const double e2 = std::exp(2.0), e1 = std::exp(1.0);
  EXPECT_NEAR(p[0], 1 / (1 + e2), 1e-6);
  EXPECT_NEAR(p[1], e2 / (1 + e2), 1e-6);
  EXPECT_NEAR(p[2], e1 / (1 + e1), 1e-6);
  EXPECT_NEAR(p[3], 1 / (1 + e1), 1e-6);
  // Twice more with other batch sizes: buffers are reused, results unchanged per row.
  for (int batch : {1, 3}) {
    std::vector<float> in;
    for (int i = 0; i < batch; ++i) in.insert(in.end(), {1, 2});
    ASSERT_OK(x->Run({OnnxValue::Float({batch, 2}, in)}, &out));
    ASSERT_EQ(out[0].numel(), 2 * batch);
    EXPECT_NEAR(out[0].data<float>()[2 * batch - 1], e2 / (1 + e2), 1e-6);
  }
}

TEST(OnnxExecutorTest, ConstantSubgraphsAreFolded) {
  GraphBuilder b;
  b.Input("x", TP::FLOAT, {"n"});
  b.FloatInit("c", {3}, {1, 2, 3});
  b.Node("Shape", {"c"}, {"s"});            // [3]
  b.Node("ConstantOfShape", {"s"}, {"z"});  // [0, 0, 0]
  b.Node("Add", {"c", "z"}, {"c2"});        // still constant
  b.Node("Mul", {"x", "c2"}, {"y"});        // the only node left per call
  b.Output("y");
  ASSERT_OK_AND_ASSIGN(auto m, b.Model());
  ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m));
  EXPECT_EQ(x->num_folded_nodes(), 3);
  EXPECT_EQ(x->num_planned_nodes(), 1);
  std::vector<OnnxValue> out;
  ASSERT_OK(x->Run({OnnxValue::Float({3}, std::vector<float>{2, 2, 2})}, &out));
  EXPECT_EQ(out[0].data<float>()[2], 6.0f);
}

TEST(OnnxExecutorTest, InputsAreCheckedAgainstDeclaredAndSymbolicDims) {
  GraphBuilder b;
  b.Input("a", TP::FLOAT, {"batch", "4"});
  b.Input("c", TP::FLOAT, {"batch", "4"});
  b.Node("Add", {"a", "c"}, {"y"});
  b.Output("y");
  ASSERT_OK_AND_ASSIGN(auto m, b.Model());
  ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m));
  std::vector<OnnxValue> out;
  const std::vector<float> f8(8, 1.0f), f12(12, 1.0f);
  EXPECT_THAT(x->Run({OnnxValue::Float({2, 4}, f8), OnnxValue::Float({3, 4}, f12)}, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dimension 'batch' is 3")));
  EXPECT_THAT(x->Run({OnnxValue::Float({4, 2}, f8), OnnxValue::Float({4, 2}, f8)}, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be 4")));
  EXPECT_THAT(
      x->Run({OnnxValue::Int64({2, 4}, std::vector<int64_t>(8)), OnnxValue::Float({2, 4}, f8)},
             &out),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("element type INT64")));
  EXPECT_THAT(x->Run({OnnxValue::Float({2, 4}, f8)}, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("takes 2 inputs")));
  EXPECT_OK(x->Run({OnnxValue::Float({2, 4}, f8), OnnxValue::Float({2, 4}, f8)}, &out));
}

TEST(OnnxExecutorTest, AbsurdShapesFailBeforeAllocating) {
  {  // Folded at load: 2^40 elements.
    GraphBuilder b;
    b.IntInit("s", {2}, {1 << 20, 1 << 20});
    b.Node("ConstantOfShape", {"s"}, {"y"}, "huge");
    b.Output("y");
    ASSERT_OK_AND_ASSIGN(auto m, b.Model());
    EXPECT_THAT(OnnxExecutor::Create(*m).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("'huge' (ConstantOfShape): output shape")));
  }
  {  // At run time: Expand to a shape fed by the caller.
    GraphBuilder b;
    b.Input("x", TP::FLOAT, {"1"});
    b.Input("s", TP::INT64, {"2"});
    b.Node("Expand", {"x", "s"}, {"y"}, "ex");
    b.Output("y");
    ASSERT_OK_AND_ASSIGN(auto m, b.Model());
    ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m));
    std::vector<OnnxValue> out;
    EXPECT_THAT(x->Run({OnnxValue::Float({1}, std::vector<float>{1}),
                        OnnxValue::Int64({2}, std::vector<int64_t>{int64_t{1} << 40, 1 << 30})},
                       &out),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'ex' (Expand)")));
    EXPECT_THAT(x->Run({OnnxValue::Float({1}, std::vector<float>{1}),
                        OnnxValue::Int64({2}, std::vector<int64_t>{-5, 2})},
                       &out),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("negative")));
  }
  {  // Range with 1e18 elements.
    GraphBuilder b;
    b.Input("n", TP::INT64, {});
    b.IntInit("zero", {}, {0});
    b.IntInit("one", {}, {1});
    b.Node("Range", {"zero", "n", "one"}, {"y"}, "rg");
    b.Output("y");
    ASSERT_OK_AND_ASSIGN(auto m, b.Model());
    ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m));
    std::vector<OnnxValue> out;
    EXPECT_THAT(x->Run({OnnxValue::Int64({}, std::vector<int64_t>{int64_t{1} << 60})}, &out),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'rg' (Range)")));
  }
}

TEST(OnnxExecutorTest, BadIndicesAndShapesNameTheNode) {
  GraphBuilder b;
  b.Input("ids", TP::INT64, {"n"});
  b.FloatInit("table", {3, 2}, {0, 1, 2, 3, 4, 5});
  b.Node("Gather", {"table", "ids"}, {"rows"}, "emb");
  b.IntInit("shape", {2}, {5, -1});
  b.Node("Reshape", {"rows", "shape"}, {"y"}, "rs");
  b.Output("y");
  ASSERT_OK_AND_ASSIGN(auto m, b.Model());
  ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m));
  std::vector<OnnxValue> out;
  EXPECT_THAT(x->Run({OnnxValue::Int64({2}, std::vector<int64_t>{0, 3})}, &out),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'emb' (Gather): index 3 is out of range")));
  EXPECT_THAT(x->Run({OnnxValue::Int64({2}, std::vector<int64_t>{0, -1})}, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'rs' (Reshape)")));
  // Five rows reshape to [5, 2]; a negative index counts from the end.
  ASSERT_OK(x->Run({OnnxValue::Int64({5}, std::vector<int64_t>{0, 1, 2, -1, -3})}, &out));
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{5, 2}));
  EXPECT_EQ(out[0].data<float>()[7], 5.0f);
  EXPECT_EQ(out[0].data<float>()[9], 1.0f);
}

TEST(OnnxExecutorTest, IntegerDivisionByZeroIsAnError) {
  GraphBuilder b;
  b.Input("a", TP::INT64, {"2"});
  b.Input("d", TP::INT64, {"2"});
  b.Node("Div", {"a", "d"}, {"y"}, "div");
  b.Output("y");
  ASSERT_OK_AND_ASSIGN(auto m, b.Model());
  ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m));
  std::vector<OnnxValue> out;
  EXPECT_THAT(x->Run({OnnxValue::Int64({2}, std::vector<int64_t>{4, 5}),
                      OnnxValue::Int64({2}, std::vector<int64_t>{2, 0})},
                     &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("division by zero")));
}

TEST(OnnxExecutorTest, MalformedNodesFailCleanly) {
  GraphBuilder b;
  b.Input("x", TP::FLOAT, {"2", "3"});
  b.Ints(b.Node("Transpose", {"x"}, {"y"}, "tp"), "perm", {0, 0});
  b.Output("y");
  ASSERT_OK_AND_ASSIGN(auto m, b.Model());
  ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m));
  std::vector<OnnxValue> out;
  EXPECT_THAT(x->Run({OnnxValue::Float({2, 3}, std::vector<float>(6))}, &out),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'tp' (Transpose): perm [0,0] is not a permutation")));
}

// ---- shape inference ---------------------------------------------------------------------

std::string OutShape(const OnnxExecutor& x, int i) { return x.ShapeString(x.output_shape(i)); }

// Two-head self-attention (hidden 8 = 2 heads x 4) as torch exports it: the split shape is
// computed from Shape(x) at run time, the merge reshape uses 0 and -1. Every shape below is
// derived by hand from the graph.
TEST(OnnxShapeInferenceTest, AttentionBlockIsInferredSymbolically) {
  GraphBuilder b;
  b.Input("x", TP::FLOAT, {"batch", "seq", "8"});
  std::vector<float> w(64);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * static_cast<float>(i % 7);
  b.FloatInit("w", {8, 8}, w);
  b.IntInit("i0", {}, {0});
  b.IntInit("i1", {}, {1});
  b.IntInit("ax0", {1}, {0});
  b.IntInit("heads", {1}, {2});
  b.IntInit("dh", {1}, {4});
  b.IntInit("merge", {3}, {0, 0, -1});
  b.IntInit("flat", {2}, {-1, 8});
  b.Node("Shape", {"x"}, {"shp"});
  b.Node("Gather", {"shp", "i0"}, {"bs"});
  b.Node("Gather", {"shp", "i1"}, {"sq"});
  b.Node("Unsqueeze", {"bs", "ax0"}, {"bs1"});
  b.Node("Unsqueeze", {"sq", "ax0"}, {"sq1"});
  b.Int(b.Node("Concat", {"bs1", "sq1", "heads", "dh"}, {"split"}), "axis", 0);
  b.Node("MatMul", {"x", "w"}, {"q"});
  b.Node("Reshape", {"q", "split"}, {"q4"});
  b.Ints(b.Node("Transpose", {"q4"}, {"qh"}), "perm", {0, 2, 1, 3});
  b.Ints(b.Node("Transpose", {"q4"}, {"kh"}), "perm", {0, 2, 3, 1});
  b.Node("MatMul", {"qh", "kh"}, {"scores"});
  b.Node("Softmax", {"scores"}, {"p"});
  b.Node("MatMul", {"p", "qh"}, {"ctx"});
  b.Ints(b.Node("Transpose", {"ctx"}, {"ctx_t"}), "perm", {0, 2, 1, 3});
  b.Node("Reshape", {"ctx_t", "merge"}, {"y"});
  b.Node("Reshape", {"y", "flat"}, {"rows"});
  b.Ints(b.Node("ReduceMean", {"y"}, {"mean"}), "axes", {-1});
  b.Int(b.Node("Gather", {"y", "i0"}, {"cls"}), "axis", 1);
  for (const char* o : {"scores", "y", "rows", "mean", "cls", "split"}) b.Output(o);
  ASSERT_OK_AND_ASSIGN(auto m, b.Model());
  OnnxExecutorOptions options;
  options.verify_shapes = true;  // and every node's outputs match them as it runs
  ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m, options));
  EXPECT_EQ(x->symbols(), (std::vector<std::string>{"batch", "seq"}));
  EXPECT_EQ(OutShape(*x, 0), "[batch, 2, seq, seq]");
  EXPECT_EQ(OutShape(*x, 1), "[batch, seq, 8]");
  EXPECT_EQ(OutShape(*x, 2), "[batch*seq, 8]");
  EXPECT_EQ(OutShape(*x, 3), "[batch, seq, 1]");
  EXPECT_EQ(OutShape(*x, 4), "[batch, 8]");
  EXPECT_EQ(OutShape(*x, 5), "[4]");
  for (const auto& [bn, sn] : {std::pair<int64_t, int64_t>{1, 3}, {2, 5}}) {
    std::vector<OnnxValue> out;
    ASSERT_OK(x->Run(
        {OnnxValue::Float({bn, sn, 8}, std::vector<float>(static_cast<size_t>(bn * sn * 8), 0.5f))},
        &out));
    EXPECT_EQ(out[0].shape, (std::vector<int64_t>{bn, 2, sn, sn}));
    EXPECT_EQ(out[2].shape, (std::vector<int64_t>{bn * sn, 8}));
  }
}

TEST(OnnxShapeInferenceTest, ContradictoryShapesAreRefusedAtLoadNamingTheNode) {
  {
    GraphBuilder b;
    b.Input("x", TP::FLOAT, {"batch", "8"});
    b.FloatInit("w", {6, 4}, std::vector<float>(24));
    b.Node("MatMul", {"x", "w"}, {"y"}, "proj");
    b.Output("y");
    ASSERT_OK_AND_ASSIGN(auto m, b.Model());
    EXPECT_THAT(OnnxExecutor::Create(*m).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("node 0 'proj' (MatMul): MatMul inner dimensions differ: "
                                   "8 and 6 (shapes inferred at load: [batch, 8], [6, 4])")));
  }
  {  // [batch, 6] to [batch, 4], the 4 and the batch size computed in the graph
    GraphBuilder b;
    b.Input("x", TP::FLOAT, {"batch", "6"});
    b.IntInit("i0", {}, {0});
    b.IntInit("ax0", {1}, {0});
    b.IntInit("four", {1}, {4});
    b.Node("Shape", {"x"}, {"shp"});
    b.Node("Gather", {"shp", "i0"}, {"bs"});
    b.Node("Unsqueeze", {"bs", "ax0"}, {"bs1"});
    b.Int(b.Node("Concat", {"bs1", "four"}, {"to"}), "axis", 0);
    b.Node("Reshape", {"x", "to"}, {"y"}, "rs");
    b.Output("y");
    ASSERT_OK_AND_ASSIGN(auto m, b.Model());
    EXPECT_THAT(OnnxExecutor::Create(*m).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("'rs' (Reshape): cannot reshape [batch, 6] (6*batch elements) "
                                   "to [batch, 4] (4*batch elements)")));
  }
  {
    GraphBuilder b;
    b.Input("x", TP::FLOAT, {"batch", "3"});
    b.FloatInit("c", {4}, {1, 2, 3, 4});
    b.Node("Add", {"x", "c"}, {"y"}, "add");
    b.Output("y");
    ASSERT_OK_AND_ASSIGN(auto m, b.Model());
    EXPECT_THAT(OnnxExecutor::Create(*m).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("'add' (Add): dimensions 3 and 4 (axis 1) do not broadcast")));
  }
  {
    GraphBuilder b;
    b.Input("x", TP::FLOAT, {"batch", "3"});
    b.Input("z", TP::FLOAT, {"batch", "4"});
    b.Int(b.Node("Concat", {"x", "z"}, {"y"}, "cat"), "axis", 0);
    b.Output("y");
    ASSERT_OK_AND_ASSIGN(auto m, b.Model());
    EXPECT_THAT(OnnxExecutor::Create(*m).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("'cat' (Concat): inputs [batch, 3] and [batch, 4] differ "
                                   "outside axis 0")));
  }
}

TEST(OnnxShapeInferenceTest, RunsCheckBoundShapesBeforeRunning) {
  GraphBuilder b;
  b.Input("x", TP::FLOAT, {"batch", "seq"});
  b.Input("mask", TP::FLOAT, {"batch", "seq"});
  b.IntInit("a1", {1}, {1});
  b.IntInit("a2", {1}, {2});
  b.Node("Unsqueeze", {"x", "a2"}, {"col"});  // [batch, seq, 1]
  b.Node("Unsqueeze", {"x", "a1"}, {"row"});  // [batch, 1, seq]
  b.Node("MatMul", {"col", "row"}, {"outer"}, "outer");
  b.Node("Mul", {"x", "mask"}, {"y"});
  b.Output("outer");
  b.Output("y");
  ASSERT_OK_AND_ASSIGN(auto m, b.Model());
  OnnxExecutorOptions options;
  options.max_elements = 1000;
  ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m, options));
  EXPECT_EQ(OutShape(*x, 0), "[batch, seq, seq]");
  std::vector<OnnxValue> out;
  const std::vector<float> f20(20, 1.0f), f40(40, 1.0f), f30(30, 1.0f);
  ASSERT_OK(x->Run({OnnxValue::Float({1, 20}, f20), OnnxValue::Float({1, 20}, f20)}, &out));
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{1, 20, 20}));
  EXPECT_THAT(x->Run({OnnxValue::Float({1, 40}, f40), OnnxValue::Float({1, 40}, f40)}, &out),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'outer' (MatMul): output shape [batch, seq, seq] = [1,40,40] "
                                 "has more than 1000 elements (refused before running)")));
  EXPECT_THAT(x->Run({OnnxValue::Float({2, 10}, f20), OnnxValue::Float({2, 15}, f30)}, &out),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("input 'mask': dimension 'seq' is 15 here and 10 in input 'x'")));
  ASSERT_OK_AND_ASSIGN(const std::vector<int64_t> bound, x->BindSymbols({{2, 10}, {2, 10}}));
  EXPECT_EQ(bound, (std::vector<int64_t>{2, 10}));
  EXPECT_THAT(x->BindSymbols({{2, 10}, {2, 10, 1}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("input 'mask' has rank 3, the graph declares 2")));
  // Shapes are inferred for non-empty dims; an empty batch still runs, checked as it goes.
  ASSERT_OK(x->Run({OnnxValue::Float({0, 7}, {}), OnnxValue::Float({0, 7}, {})}, &out));
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{0, 7, 7}));
}

// Sums of dims are polynomials; a minimum is taken under an assumption, checked per call;
// data-dependent sizes stay unknown.
TEST(OnnxShapeInferenceTest, SumsAreKnownMinimaAssumedDataDependentSizesUnknown) {
  GraphBuilder b;
  b.Input("x", TP::FLOAT, {"batch", "seq"});
  b.Input("n", TP::INT64, {});
  b.Input("u", TP::FLOAT, {"batch", ""});  // an unnamed dimension is a symbol of its own
  b.IntInit("zero", {}, {0});
  b.IntInit("one", {}, {1});
  b.IntInit("two", {}, {2});
  b.IntInit("s0", {1}, {0});
  b.IntInit("s1", {1}, {1});
  b.IntInit("big", {1}, {std::numeric_limits<int64_t>::max()});
  b.IntInit("ax0", {1}, {0});
  b.FloatInit("table", {1, 16}, std::vector<float>(16));
  b.Node("Range", {"zero", "n", "one"}, {"r"});  // n's value is data: [?]
  b.Node("Shape", {"x"}, {"shp"});
  b.Node("Gather", {"shp", "one"}, {"sq"});
  b.Node("Add", {"sq", "two"}, {"sq2"});
  b.Node("Range", {"two", "sq2", "one"}, {"pos"});            // RoBERTa's positions: [seq]
  b.Node("Slice", {"x", "s1", "big", "s1"}, {"tail"});        // [batch, seq - 1]
  b.Int(b.Node("Concat", {"x", "x"}, {"twice"}), "axis", 1);  // [batch, 2*seq]
  b.Node("Unsqueeze", {"sq", "ax0"}, {"sq1"});
  b.Node("Slice", {"table", "s0", "sq1", "s1"}, {"upto"});  // [1, min(seq, 16)]
  b.Node("Add", {"x", "u"}, {"xu"});                        // seq and u[1]: either may be 1
  for (const char* o : {"r", "pos", "tail", "twice", "upto", "xu"}) b.Output(o);
  ASSERT_OK_AND_ASSIGN(auto m, b.Model());
  OnnxExecutorOptions options;
  options.verify_shapes = true;
  ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m, options));
  EXPECT_EQ(x->symbols(), (std::vector<std::string>{"batch", "seq", "u[1]"}));
  EXPECT_EQ(OutShape(*x, 0), "[?]");
  EXPECT_EQ(OutShape(*x, 1), "[seq]");
  EXPECT_EQ(OutShape(*x, 2), "[batch, seq - 1]");
  EXPECT_EQ(OutShape(*x, 3), "[batch, 2*seq]");
  EXPECT_EQ(OutShape(*x, 4), "[1, seq]");  // assuming seq <= 16
  EXPECT_EQ(x->assumptions(), (std::vector<std::string>{"seq <= 16"}));
  EXPECT_TRUE(x->InferenceHolds({2, 16, 1}));
  EXPECT_FALSE(x->InferenceHolds({2, 17, 1}));
  EXPECT_FALSE(x->InferenceHolds({0, 3, 1}));  // an empty batch
  EXPECT_EQ(OutShape(*x, 5), "[batch, ?]");
  std::vector<OnnxValue> out;
  // seq 20 breaks the assumption: that call runs unchecked by the inferred shapes.
  for (int64_t seq : {1, 3, 20}) {
    ASSERT_OK(x->Run({OnnxValue::Float({2, seq}, std::vector<float>(2 * seq, 1.0f)),
                      OnnxValue::Int64({}, std::vector<int64_t>{4}),
                      OnnxValue::Float({2, 1}, std::vector<float>(2, 1.0f))},
                     &out));
    EXPECT_EQ(out[0].shape, (std::vector<int64_t>{4}));
    EXPECT_EQ(out[1].shape, (std::vector<int64_t>{seq}));
    EXPECT_EQ(out[2].shape, (std::vector<int64_t>{2, seq - 1}));
    EXPECT_EQ(out[4].shape, (std::vector<int64_t>{1, std::min<int64_t>(seq, 16)}));
    EXPECT_EQ(out[5].shape, (std::vector<int64_t>{2, seq}));
  }
}

// The output shapes torch.onnx.export and the onnx-built test graphs declare (derived by
// their own shape inference) are the ones inferred here; every node's outputs match the
// inferred shapes when run.
TEST(OnnxShapeInferenceTest, ExportedEncodersMatchTheirDeclaredOutputShapes) {
  int checked = 0;
  for (const char* name : {"tiny_bert", "tiny_distilbert", "tiny_roberta", "torch_distilbert",
                           "torch_cross_bert", "torch_roberta"}) {
    const std::string path =
        ::jetserve::testing::SourcePath(std::string("tests/data/encoder/") + name + "/model.onnx");
    ASSERT_OK_AND_ASSIGN(auto m, OnnxModel::Load(path));
    OnnxExecutorOptions options;
    options.verify_shapes = true;
    ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m, options));
    // Every intermediate shape too, against the nodes' own as they run.
    for (const auto& [bn, sn] : {std::pair<int64_t, int64_t>{1, 2}, {3, 7}}) {
      std::vector<OnnxValue> in;
      for (const OnnxExecutor::ValueInfo& i : x->inputs()) {
        ASSERT_EQ(i.dtype, TP::INT64) << name << " " << i.name;
        in.push_back(
            OnnxValue::Int64({bn, sn}, std::vector<int64_t>(static_cast<size_t>(bn * sn),
                                                            i.name == "attention_mask" ? 1 : 0)));
      }
      std::vector<OnnxValue> out;
      ASSERT_OK(x->Run(std::move(in), &out)) << name;
    }
    for (size_t i = 0; i < x->outputs().size(); ++i) {
      const OnnxExecutor::ValueInfo& o = x->outputs()[i];
      ASSERT_TRUE(o.has_shape) << name;
      std::vector<std::string> dims;
      for (size_t d = 0; d < o.dims.size(); ++d) {
        dims.push_back(o.dims[d] >= 0 ? std::to_string(o.dims[d]) : o.dim_names[d]);
      }
      EXPECT_EQ(OutShape(*x, static_cast<int>(i)), "[" + absl::StrJoin(dims, ", ") + "]")
          << name << " output " << o.name;
      ++checked;
    }
  }
  EXPECT_GE(checked, 6);
}

// A real export when present ($JETSERVE_MODEL_DIR, as for the oracle tests): all-MiniLM-L6-v2
// int8 (torch export with Slice/GatherND/Max in its mask and position arithmetic).
TEST(OnnxShapeInferenceTest, RealMiniLmMatchesItsDeclaredShapes) {
  const std::string path = ::jetserve::testing::ModelPath("minilm-l6-int8-onnx/model.onnx");
  if (!::jetserve::testing::FileExists(path)) GTEST_SKIP() << path << " is absent";
  ASSERT_OK_AND_ASSIGN(auto m, OnnxModel::Load(path));
  OnnxExecutorOptions options;
  options.verify_shapes = true;
  ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m, options));
  EXPECT_EQ(OutShape(*x, 0), "[batch, sequence, 384]");
  EXPECT_EQ(x->assumptions(), (std::vector<std::string>{"sequence <= 512"}));
  std::vector<OnnxValue> in;
  for (const OnnxExecutor::ValueInfo& i : x->inputs()) {
    in.push_back(OnnxValue::Int64({2, 9}, std::vector<int64_t>(18, i.name == "attention_mask" ? 1
                                                                   : i.name == "input_ids"    ? 101
                                                                                           : 0)));
  }
  std::vector<OnnxValue> out;
  ASSERT_OK(x->Run(std::move(in), &out));
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{2, 9, 384}));
}

}  // namespace
}  // namespace jetserve
