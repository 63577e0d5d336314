// Checks against llama.cpp, from references its own code produced offline
// (tests/oracles/gguf/llama_cpp_reference.py, committed under tests/data/gguf/):
//  - our quantization RMSE is no worse than llama.cpp's quantizer, per type and input;
//  - our Q4_K_M / Q6_K / ... mixes give every tensor the type llama-quantize gives it.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "engine/format/gguf_reader.h"
#include "engine/quant/dequantize.h"
#include "engine/quant/quantize.h"
#include "engine/quant/quantize_mix.h"
#include "engine/util/half.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::quant {
namespace {

std::string DataPath(const std::string& name) {
  const char* src = std::getenv("JETSERVE_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/data/gguf/" + name;
}

TEST(QuantReferenceTest, RmseNoWorseThanLlamaCpp) {
  ASSERT_OK_AND_ASSIGN(auto f, GgufFile::Open(DataPath("quant_rmse_reference.gguf")));
  int compared = 0;
  for (const GgufTensorInfo& t : f->tensors()) {
    const std::string input(t.name.substr(std::string("input.").size()));
    ASSERT_EQ(t.type, GgmlType::kF16);
    ASSERT_EQ(t.dims.size(), 2u);
    const int64_t cols = t.dims[0];
    const int64_t rows = t.dims[1];
    ASSERT_OK_AND_ASSIGN(std::vector<float> x, DequantizeBytes(t.type, t.data, t.num_elements));
    for (GgmlType type :
         {GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ8_0,
          GgmlType::kQ2_K, GgmlType::kQ3_K, GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K}) {
      const std::string name(GgmlTypeName(type));
      ASSERT_OK_AND_ASSIGN(double llama, f->GetFloat("rmse." + input + "." + name));
      std::vector<uint8_t> q(RowBytes(type, cols) * rows);
      std::vector<float> back(x.size());
      for (int64_t r = 0; r < rows; ++r) {
        ASSERT_OK(
            QuantizeRow(type, x.data() + r * cols, q.data() + r * RowBytes(type, cols), cols));
        ASSERT_OK(
            DequantizeRow(type, q.data() + r * RowBytes(type, cols), back.data() + r * cols, cols));
      }
      double err = 0;
      for (size_t i = 0; i < x.size(); ++i)
        err += (double{x[i]} - back[i]) * (double{x[i]} - back[i]);
      const double ours = std::sqrt(err / x.size());
      std::printf("rmse %-18s %-5s ours %.6g llama.cpp %.6g ratio %.4f\n", input.c_str(),
                  name.c_str(), ours, llama, ours / llama);
      // Legacy types are bit-exact with the reference; allow rounding of the RMSE sum.
      EXPECT_LE(ours, llama * (1 + 1e-6)) << input << " " << name;
      ++compared;
    }
  }
  EXPECT_GE(compared, 40);  // 10 types x (4 synthetic + trained-weight) inputs
}

TEST(QuantReferenceTest, MixesMatchLlamaQuantize) {
  std::ifstream in(DataPath("mix_reference.txt"));
  ASSERT_TRUE(in.good()) << DataPath("mix_reference.txt");
  struct Row {
    std::string name;
    std::vector<int64_t> dims;
    std::string want;
  };
  // (shape, mix) -> tensors in file order.
  std::vector<std::pair<std::string, std::vector<Row>>> groups;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> p = absl::StrSplit(line, ' ');
    ASSERT_EQ(p.size(), 5u) << line;
    Row row{p[2], {}, p[4]};
    for (absl::string_view d : absl::StrSplit(p[3], ','))
      row.dims.push_back(std::stoll(std::string(d)));
    const std::string key = p[0] + " " + p[1];
    if (groups.empty() || groups.back().first != key) groups.push_back({key, {}});
    groups.back().second.push_back(row);
  }
  ASSERT_GE(groups.size(), 4u);
  int mismatches = 0;
  for (const auto& [key, rows] : groups) {
    const std::string mix_name = key.substr(key.find(' ') + 1);
    ASSERT_OK_AND_ASSIGN(QuantMix mix, ParseQuantMix(mix_name));
    // llama.cpp writes tensors in its own order; the counters follow the source file's order,
    // which for our gen-model files is the llama layout: sort by the source order.
    std::vector<std::string_view> names;
    for (const Row& r : rows) names.push_back(r.name);
    QuantMixPlanner planner(mix, names);
    // Feed tensors in source (gen-model) order: token_embd, blk.i.*, output_norm, output.
    std::vector<const Row*> order;
    for (const Row& r : rows) order.push_back(&r);
    auto rank = [](const std::string& n) -> std::pair<int, std::string> {
      if (n == "token_embd.weight") return {-1, n};
      if (n.rfind("blk.", 0) == 0) return {std::stoi(n.substr(4)), n};
      return {1 << 20, n};
    };
    std::stable_sort(order.begin(), order.end(), [&](const Row* a, const Row* b) {
      return rank(a->name).first < rank(b->name).first;
    });
    for (const Row* r : order) {
      const GgmlType got = planner.TypeFor(r->name, r->dims, GgmlType::kF32);
      if (GgmlTypeName(got) != r->want) {
        ++mismatches;
        ADD_FAILURE() << key << " " << r->name << ": ours " << GgmlTypeName(got) << ", llama.cpp "
                      << r->want;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace jetserve::quant
