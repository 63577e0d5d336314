// Runs the ONNX backend node tests against the executor: every test folder
// (<dir>/<test>/model.onnx + test_data_set_*/input_*.pb, output_*.pb) whose graph uses only
// operators the executor supports. A test passes when every data set's outputs match the
// expected ones (same element type and shape; integers and booleans exactly, floats within
// the ONNX backend runner's tolerance rtol 1e-3 plus a small absolute term). A model the
// executor refuses at load with Unimplemented (an element type it does not compute with,
// such as FLOAT16 or STRING, or an attribute value it does not implement) is counted as
// refused, listed, and does not fail the run; any other error or a wrong value fails.
// The executor runs with verify_shapes: a node whose outputs differ from the shapes inferred
// at load fails its test too.
//
//   onnx_node_tests DIR...     prints one line per failure, then "N passed, M failed, K refused"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/onnx/onnx_executor.h"
#include "engine/util/string_view_compat.h"

namespace fs = std::filesystem;
using jetserve::OnnxExecutor;
using jetserve::OnnxModel;
using jetserve::OnnxValue;
using TP = onnx::TensorProto;

namespace {

bool ReadTensor(const fs::path& p, onnx::TensorProto* t) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return t->ParseFromString(ss.str());
}

template <typename T>
bool Close(T got, T want) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(want)) return std::isnan(got);
    if (std::isinf(want)) return got == want;
    return std::fabs(static_cast<double>(got) - static_cast<double>(want)) <=
           1e-6 + 1e-3 * std::fabs(static_cast<double>(want));
  } else {
    return got == want;
  }
}

// "" if equal, else what differs.
std::string Compare(const OnnxValue& got, const OnnxValue& want) {
  if (got.dtype != want.dtype) {
    return absl::StrCat("type ", jetserve::OnnxTypeName(got.dtype), " vs expected ",
                        jetserve::OnnxTypeName(want.dtype));
  }
  if (got.shape != want.shape) {
    return absl::StrCat("shape [", absl::StrJoin(got.shape, ","), "] vs expected [",
                        absl::StrJoin(want.shape, ","), "]");
  }
  std::string diff;
  auto cmp = [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < got.numel(); ++i) {
      const T g = got.data<T>()[i], w = want.data<T>()[i];
      if (!Close(g, w)) {
        diff = absl::StrCat("element ", i, ": ", static_cast<double>(g), " vs expected ",
                            static_cast<double>(w));
        return;
      }
    }
  };
  switch (got.dtype) {
    case TP::FLOAT:
      cmp(float{});
      break;
    case TP::DOUBLE:
      cmp(double{});
      break;
    case TP::INT8:
      cmp(int8_t{});
      break;
    case TP::UINT8:
      cmp(uint8_t{});
      break;
    case TP::INT16:
      cmp(int16_t{});
      break;
    case TP::UINT16:
      cmp(uint16_t{});
      break;
    case TP::INT32:
      cmp(int32_t{});
      break;
    case TP::UINT32:
      cmp(uint32_t{});
      break;
    case TP::INT64:
      cmp(int64_t{});
      break;
    case TP::UINT64:
      cmp(uint64_t{});
      break;
    case TP::BOOL:
      cmp(bool{});
      break;
    default:
      diff = "unexpected type";
  }
  return diff;
}

enum class Result { kSkip, kPass, kFail, kRefused };

Result RunTest(const fs::path& dir, std::string* why, std::set<std::string>* ops) {
  const fs::path model_path = dir / "model.onnx";
  if (!fs::exists(model_path)) return Result::kSkip;
  absl::StatusOr<std::unique_ptr<OnnxModel>> model = OnnxModel::Load(model_path.string());
  if (!model.ok()) {
    // Models the loader cannot read at all (e.g. string initializers) fall outside our set
    // only when one of their operators is unsupported; we cannot tell, so report them.
    *why = std::string(jetserve::Sv(model.status().ToString()));
    return Result::kRefused;
  }
  for (const onnx::NodeProto& n : (*model)->graph().node()) {
    if (!(n.domain().empty() || n.domain() == "ai.onnx") || !OnnxExecutor::Supports(n.op_type())) {
      return Result::kSkip;
    }
  }
  for (const onnx::NodeProto& n : (*model)->graph().node()) ops->insert(n.op_type());
  // Every node's outputs are also checked against the shapes inferred at load.
  jetserve::OnnxExecutorOptions options;
  options.verify_shapes = true;
  absl::StatusOr<std::unique_ptr<OnnxExecutor>> x = OnnxExecutor::Create(**model, options);
  if (!x.ok()) {
    *why = std::string(jetserve::Sv(x.status().ToString()));
    return x.status().code() == absl::StatusCode::kUnimplemented ? Result::kRefused : Result::kFail;
  }
  std::vector<fs::path> sets;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) {
      sets.push_back(e.path());
    }
  }
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return Result::kSkip;
  for (const fs::path& set : sets) {
    std::vector<OnnxValue> inputs((*x)->inputs().size());
    std::vector<bool> fed(inputs.size(), false);
    for (int i = 0;; ++i) {
      const fs::path p = set / absl::StrCat("input_", i, ".pb");
      if (!fs::exists(p)) break;
      onnx::TensorProto t;
      if (!ReadTensor(p, &t)) {
        *why = absl::StrCat(p.string(), ": not a TensorProto (sequence or optional input)");
        return Result::kRefused;
      }
      absl::StatusOr<OnnxValue> v = jetserve::OnnxValueFromProto(t);
      if (!v.ok()) {
        *why = absl::StrCat(p.string(), ": ", jetserve::Sv(v.status().ToString()));
        return v.status().code() == absl::StatusCode::kUnimplemented ? Result::kRefused
                                                                     : Result::kFail;
      }
      int k = t.name().empty() ? -1 : (*x)->InputIndex(t.name());
      if (k < 0) k = i;
      if (k >= static_cast<int>(inputs.size())) {
        *why = absl::StrCat(p.string(), ": no graph input for it");
        return Result::kFail;
      }
      inputs[static_cast<size_t>(k)] = std::move(*v);
      fed[static_cast<size_t>(k)] = true;
    }
    std::vector<OnnxValue> outputs;
    absl::Status s = (*x)->Run(std::move(inputs), &outputs);
    if (!s.ok()) {
      *why = absl::StrCat(set.filename().string(), ": ", jetserve::Sv(s.ToString()));
      return s.code() == absl::StatusCode::kUnimplemented ? Result::kRefused : Result::kFail;
    }
    for (size_t i = 0;; ++i) {
      const fs::path p = set / absl::StrCat("output_", i, ".pb");
      if (!fs::exists(p)) break;
      onnx::TensorProto t;
      if (!ReadTensor(p, &t)) {
        *why = absl::StrCat(p.string(), ": not a TensorProto");
        return Result::kRefused;
      }
      absl::StatusOr<OnnxValue> want = jetserve::OnnxValueFromProto(t);
      if (!want.ok()) {
        *why = absl::StrCat(p.string(), ": ", jetserve::Sv(want.status().ToString()));
        return Result::kRefused;
      }
      int k = t.name().empty() ? -1 : (*x)->OutputIndex(t.name());
      if (k < 0) k = static_cast<int>(i);
      if (k >= static_cast<int>(outputs.size())) {
        *why = absl::StrCat(p.string(), ": no graph output for it");
        return Result::kFail;
      }
      const std::string d = Compare(outputs[static_cast<size_t>(k)], *want);
      if (!d.empty()) {
        *why = absl::StrCat(set.filename().string(), " output ", k, ": ", d);
        return Result::kFail;
      }
    }
  }
  return Result::kPass;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "onnx_node_tests: no node test folders given; install Debian's "
                 "libonnx-testdata and the onnx PyPI package (deploy/install-deps.sh --python) "
                 "and re-run cmake\n");
    return 1;
  }
  int passed = 0, failed = 0, refused = 0;
  std::set<std::string> ops;
  std::map<std::string, int> refusals;
  for (int a = 1; a < argc; ++a) {
    std::vector<fs::path> tests;
    for (const fs::directory_entry& e : fs::directory_iterator(argv[a])) {
      if (e.is_directory()) tests.push_back(e.path());
    }
    std::sort(tests.begin(), tests.end());
    int dir_pass = 0, dir_fail = 0, dir_ref = 0;
    for (const fs::path& t : tests) {
      std::string why;
      switch (RunTest(t, &why, &ops)) {
        case Result::kSkip:
          break;
        case Result::kPass:
          ++dir_pass;
          break;
        case Result::kFail:
          ++dir_fail;
          std::printf("FAIL %s: %s\n", t.string().c_str(), why.c_str());
          break;
        case Result::kRefused:
          ++dir_ref;
          std::printf("refused %s: %s\n", t.string().c_str(), why.c_str());
          break;
      }
    }
    std::printf("%s: %d passed, %d failed, %d refused\n", argv[a], dir_pass, dir_fail, dir_ref);
    passed += dir_pass;
    failed += dir_fail;
    refused += dir_ref;
  }
  std::printf("operators covered (%zu): %s\n", ops.size(), absl::StrJoin(ops, " ").c_str());
  std::printf("%d passed, %d failed, %d refused\n", passed, failed, refused);
  return failed == 0 && passed > 0 ? 0 : 1;
}
