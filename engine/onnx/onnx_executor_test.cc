// OnnxExecutor: the static plan (refusals at load by operator name, constant folding, input
// checks against declared and symbolic dims), values derived by hand, and hostile graphs
// (absurd shapes, bad indices, division by zero) failing with errors that name the node.
// Operator semantics are checked against the ONNX node tests (onnx_node_tests).
#include "engine/onnx/onnx_executor.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

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
  b.Node("Transpose", {"x"}, {"y"}, "tp")->add_attribute()->CopyFrom([] {
    onnx::AttributeProto a;
    a.set_name("perm");
    a.set_type(onnx::AttributeProto::INTS);
    a.add_ints(0);
    a.add_ints(0);
    return a;
  }());
  b.Node("MatMul", {"x", "x"}, {"z"}, "mm");
  b.Output("y");
  b.Output("z");
  ASSERT_OK_AND_ASSIGN(auto m, b.Model());
  ASSERT_OK_AND_ASSIGN(auto x, OnnxExecutor::Create(*m));
  std::vector<OnnxValue> out;
  EXPECT_THAT(x->Run({OnnxValue::Float({2, 3}, std::vector<float>(6))}, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a permutation")));
}

}  // namespace
}  // namespace jetserve
