// OnnxModel: graph checks, initializer forms, external data confinement, and malformed or
// hostile files (truncated, cycles, missing inputs, absurd shapes, escapes) failing cleanly.
#include "engine/onnx/onnx_model.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

onnx::ModelProto AddModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->add_input()->set_name("x");
  onnx::TensorProto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(2);
  w->add_dims(3);
  for (int i = 0; i < 6; ++i) w->add_float_data(static_cast<float>(i));
  onnx::NodeProto* n = g->add_node();
  n->set_name("add0");
  n->set_op_type("Add");
  n->add_input("x");
  n->add_input("w");
  n->add_output("y");
  onnx::NodeProto* r = g->add_node();
  r->set_name("relu0");
  r->set_op_type("Relu");
  r->add_input("y");
  r->add_output("z");
  g->add_output()->set_name("z");
  return m;
}

absl::StatusOr<std::unique_ptr<OnnxModel>> FromProto(const onnx::ModelProto& m,
                                                     const std::string& dir = ".") {
  std::string bytes = m.SerializeAsString();
  return OnnxModel::FromBytes({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, dir);
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/onnx_model_test_XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

TEST(OnnxModelTest, LoadsGraphAndTypedInitializer) {
  onnx::ModelProto m = AddModel();
  // Reverse the node order: the topological order must still put Add before Relu.
  m.mutable_graph()->mutable_node()->SwapElements(0, 1);
  auto model = FromProto(m);
  ASSERT_OK(model);
  EXPECT_EQ((*model)->opset(), 17);
  ASSERT_EQ((*model)->topo_order().size(), 2u);
  EXPECT_EQ((*model)->graph().node((*model)->topo_order()[0]).op_type(), "Add");
  EXPECT_EQ((*model)->Producer("y"), 1);
  EXPECT_EQ((*model)->Consumers("y").size(), 1u);
  const OnnxTensor* w = (*model)->FindInitializer("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->num_elements, 6);
  auto f = ToFloats(*w);
  ASSERT_OK(f);
  EXPECT_EQ((*f)[5], 5.0f);
  EXPECT_EQ((*model)->NodeLabel(0), "node 0 'relu0' (Relu)");
}

TEST(OnnxModelTest, RawDataAndItsSize) {
  onnx::ModelProto m = AddModel();
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  std::string raw(24, '\0');
  float two = 2.0f;
  std::memcpy(raw.data() + 4, &two, 4);
  w->set_raw_data(raw);
  auto model = FromProto(m);
  ASSERT_OK(model);
  EXPECT_EQ((*ToFloats(*(*model)->FindInitializer("w")))[1], 2.0f);
  w->set_raw_data(raw.substr(0, 20));
  EXPECT_THAT(FromProto(m).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("raw_data holds 20 bytes")));
}

TEST(OnnxModelTest, TruncatedAndGarbageFilesFail) {
  std::string bytes = AddModel().SerializeAsString();
  for (size_t cut : {bytes.size() - 1, bytes.size() / 2, size_t{3}}) {
    auto r = OnnxModel::FromBytes({reinterpret_cast<const uint8_t*>(bytes.data()), cut}, ".");
    EXPECT_FALSE(r.ok()) << cut;
  }
  std::string garbage(1000, '\xff');
  EXPECT_THAT(
      OnnxModel::FromBytes({reinterpret_cast<const uint8_t*>(garbage.data()), garbage.size()}, ".")
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a valid ONNX")));
  // Every prefix of a valid file fails or loads; none crashes.
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    (void)OnnxModel::FromBytes({reinterpret_cast<const uint8_t*>(bytes.data()), cut}, ".");
  }
}

TEST(OnnxModelTest, MissingInputNamesNodeAndOperator) {
  onnx::ModelProto m = AddModel();
  m.mutable_graph()->mutable_node(1)->set_input(0, "nowhere");
  EXPECT_THAT(FromProto(m).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("node 1 'relu0' (Relu): input 'nowhere' is not")));
}

TEST(OnnxModelTest, CycleAndDuplicateOutputsFail) {
  onnx::ModelProto m = AddModel();
  m.mutable_graph()->mutable_node(0)->set_input(0, "z");  // Add reads Relu's output
  EXPECT_THAT(FromProto(m).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cycle through node")));
  onnx::ModelProto d = AddModel();
  d.mutable_graph()->mutable_node(1)->set_output(0, "y");
  EXPECT_THAT(FromProto(d).status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("'relu0' (Relu): output 'y' is already")));
}

TEST(OnnxModelTest, AbsurdShapesAndTypesFail) {
  onnx::ModelProto m = AddModel();
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->set_dims(0, int64_t{1} << 40);
  w->set_dims(1, int64_t{1} << 40);
  EXPECT_THAT(FromProto(m).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than")));
  w->set_dims(0, -2);
  EXPECT_THAT(FromProto(m).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("negative dimension")));
  w->set_dims(0, 2);
  w->set_dims(1, 4);
  EXPECT_THAT(FromProto(m).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("holds 6 elements")));
  w->set_dims(1, 3);
  w->set_data_type(onnx::TensorProto::STRING);
  EXPECT_THAT(FromProto(m).status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("unsupported data type STRING")));
}

TEST(OnnxModelTest, DeepNestingIsRefused) {
  // A node attribute holding a graph holding a node holding a graph... past the limit.
  onnx::ModelProto m = AddModel();
  onnx::GraphProto* g = m.mutable_graph();
  for (int i = 0; i < 40; ++i) {
    onnx::AttributeProto* a = g->mutable_node(0)->add_attribute();
    a->set_name("body");
    g = a->mutable_g();
    g->add_node()->set_op_type("Identity");
  }
  EXPECT_THAT(FromProto(m).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nested deeper")));
}

onnx::ModelProto ExternalModel(const std::string& location, int64_t offset) {
  onnx::ModelProto m = AddModel();
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* e = w->add_external_data();
  e->set_key("location");
  e->set_value(location);
  e = w->add_external_data();
  e->set_key("offset");
  e->set_value(std::to_string(offset));
  return m;
}

TEST(OnnxModelTest, ExternalDataInsideFolderLoads) {
  TempDir dir;
  fs::create_directories(dir.path() + "/model/sub");
  std::string data(8 + 24, '\0');
  float v = 7.0f;
  std::memcpy(data.data() + 8 + 20, &v, 4);
  WriteFile(dir.path() + "/model/sub/w.bin", data);
  WriteFile(dir.path() + "/model/model.onnx", ExternalModel("sub/w.bin", 8).SerializeAsString());
  auto model = OnnxModel::Load(dir.path() + "/model/model.onnx");
  ASSERT_OK(model);
  EXPECT_EQ((*ToFloats(*(*model)->FindInitializer("w")))[5], 7.0f);
  // Past the end of the file.
  WriteFile(dir.path() + "/model/model.onnx", ExternalModel("sub/w.bin", 16).SerializeAsString());
  EXPECT_THAT(OnnxModel::Load(dir.path() + "/model/model.onnx").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("past its end")));
}

TEST(OnnxModelTest, ExternalDataEscapesAreRefused) {
  TempDir dir;
  fs::create_directories(dir.path() + "/model");
  const std::string outside = dir.path() + "/secret.bin";
  WriteFile(outside, std::string(24, '\0'));
  const std::string onnx_path = dir.path() + "/model/model.onnx";
  auto load = [&](const std::string& location) {
    WriteFile(onnx_path, ExternalModel(location, 0).SerializeAsString());
    return OnnxModel::Load(onnx_path).status();
  };
  EXPECT_THAT(load(outside), StatusIs(absl::StatusCode::kPermissionDenied,
                                      HasSubstr("not a plain relative path")));
  EXPECT_THAT(load("../secret.bin"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("('..')")));
  EXPECT_THAT(load("a/../../secret.bin"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("('..')")));
  fs::create_symlink(outside, dir.path() + "/model/link.bin");
  EXPECT_THAT(load("link.bin"), StatusIs(absl::StatusCode::kPermissionDenied,
                                         HasSubstr("outside the model's folder")));
  fs::create_directory_symlink(dir.path(), dir.path() + "/model/up");
  EXPECT_THAT(load("up/secret.bin"), StatusIs(absl::StatusCode::kPermissionDenied,
                                              HasSubstr("outside the model's folder")));
  ASSERT_EQ(link(outside.c_str(), (dir.path() + "/model/hard.bin").c_str()), 0);
  EXPECT_THAT(load("hard.bin"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("hard links")));
  EXPECT_THAT(load("missing.bin"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot resolve")));
  fs::create_directory(dir.path() + "/model/adir");
  EXPECT_THAT(load("adir"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a regular file")));
}

}  // namespace
}  // namespace jetserve
