// `jetserve run --embed / --classify` on encoder models: output lines against ONNX Runtime's
// references (tests/oracles/encoder/make_refs.py); on a decoder GGUF against llama.cpp's
// (tests/oracles/decoder/make_task_refs.py); usage errors.
#include "tools/jetserve/run_command.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testutil/test_files.h"

namespace jetserve::cli {
namespace {

using ::jetserve::testing::ModelPath;
using ::jetserve::testing::ReadJson;
using Json = nlohmann::json;

std::string DataDir() { return ::jetserve::testing::SourcePath("tests/data/encoder"); }

int RunCli(const std::vector<std::string>& args, const std::string& input, std::string* out,
           std::string* err) {
  std::istringstream in(input);
  std::ostringstream o, e;
  const int rc = RunRunCommand(args, in, o, e);
  *out = o.str();
  *err = e.str();
  return rc;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

TEST(RunCommandEncoderTest, ClassifyPrintsLabelProbabilitiesPerLine) {
  const Json refs = ReadJson(DataDir() + "/tiny_bert/text_refs.json");
  const Json cfg = ReadJson(DataDir() + "/tiny_bert/config.json");
  ASSERT_FALSE(refs.is_discarded());
  std::string input;
  std::vector<const Json*> cases;
  for (const Json& c : refs["classify"]) {
    if (!c["text_pair"].is_null()) continue;
    input += c["text"].get<std::string>() + "\n";
    cases.push_back(&c);
  }
  ASSERT_GE(cases.size(), 2u);
  std::string out, err;
  ASSERT_EQ(
      RunCli({"-m", DataDir() + "/tiny_bert", "--classify", "--threads", "1"}, input, &out, &err),
      0)
      << err;
  const std::vector<std::string> lines = Lines(out);
  ASSERT_EQ(lines.size(), cases.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const Json row = Json::parse(lines[i], nullptr, false);
    ASSERT_TRUE(row.is_object()) << lines[i];
    const std::vector<double> probs = (*cases[i])["probs"].get<std::vector<double>>();
    ASSERT_EQ(row.size(), probs.size());
    for (size_t k = 0; k < probs.size(); ++k) {
      const std::string label = cfg["id2label"][std::to_string(k)].get<std::string>();
      ASSERT_TRUE(row.contains(label)) << lines[i];
      EXPECT_NEAR(row[label].get<double>(), probs[k], 1e-4) << label << " in " << lines[i];
    }
  }
}

TEST(RunCommandEncoderTest, EmbedPrintsOneNormalizedArrayPerLine) {
  // Real MiniLM when present (references by onnxruntime + HF tokenizers).
  const std::string dir = ModelPath("paraphrase-minilm-l3-onnx");
  if (!std::ifstream(dir + "/model.onnx")) GTEST_SKIP() << dir << "/model.onnx absent";
  const Json refs = ReadJson(DataDir() + "/paraphrase-minilm-l3-onnx.json");
  std::string input;
  std::vector<std::vector<double>> want;
  for (size_t i = 0; i < 5; ++i) {
    input += refs["cases"][i]["text"].get<std::string>() + "\n";
    want.push_back(refs["cases"][i]["embedding"].get<std::vector<double>>());
  }
  std::string out, err;
  ASSERT_EQ(RunCli({"--embed", "-m", dir}, input, &out, &err), 0) << err;
  const std::vector<std::string> lines = Lines(out);
  ASSERT_EQ(lines.size(), want.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::vector<double> got = Json::parse(lines[i]).get<std::vector<double>>();
    ASSERT_EQ(got.size(), want[i].size());
    for (size_t k = 0; k < got.size(); ++k) EXPECT_NEAR(got[k], want[i][k], 1e-4);
  }
}

// A decoder GGUF: Embed (last-token pooling, normalized) and zero-shot Classify by label
// log-likelihood, against llama.cpp.
TEST(RunCommandEncoderTest, DecoderModelEmbedsAndClassifiesZeroShot) {
  const std::string model = ModelPath("SmolLM2-135M-Instruct.Q4_1.gguf");
  if (!::jetserve::testing::FileExists(model)) GTEST_SKIP() << model << " is absent";
  const Json refs = ReadJson(
      ::jetserve::testing::SourcePath("tests/data/decoder/SmolLM2-135M-Instruct.Q4_1.tasks.json"));
  ASSERT_FALSE(refs.is_discarded());
  std::string out, err;
  const std::string text = refs["texts"][0];
  ASSERT_EQ(
      RunCli({"-m", model, "--embed", "--pooling", "last", "-t", "2"}, text + "\n", &out, &err), 0)
      << err;
  std::vector<double> want = refs["embed"]["last"][0]["values"];
  double norm = 0;
  for (const double v : want) norm += v * v;
  const std::vector<double> got = Json::parse(out).get<std::vector<double>>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) EXPECT_NEAR(got[k], want[k] / std::sqrt(norm), 1e-5);

  const Json& c = refs["zero_shot"][1];
  std::string labels;
  std::vector<double> sums;
  for (const Json& l : c["labels"]) {
    labels += (labels.empty() ? "" : ",") + l["label"].get<std::string>();
    double s = 0;
    for (const double v : l["logprobs"]) s += v;
    sums.push_back(s);
  }
  ASSERT_EQ(RunCli({"-m", model, "--classify", "--labels", labels, "--template", c["template"]},
                   c["text"].get<std::string>() + "\n", &out, &err),
            0)
      << err;
  const Json row = Json::parse(out, nullptr, false);
  ASSERT_TRUE(row.is_object()) << out;
  double z = 0;
  for (const double s : sums) z += std::exp(s);
  for (size_t i = 0; i < sums.size(); ++i) {
    const std::string label = c["labels"][i]["label"];
    EXPECT_NEAR(row[label].get<double>(), std::exp(sums[i]) / z, 1e-4) << label;
  }
  EXPECT_EQ(RunCli({"-m", model, "--classify"}, "x\n", &out, &err), 2);
  EXPECT_NE(err.find("--labels"), std::string::npos) << err;
}

TEST(RunCommandEncoderTest, UsageErrors) {
  std::string out, err;
  EXPECT_EQ(RunCli({"-m", DataDir() + "/tiny_bert", "--embed", "--classify"}, "", &out, &err), 2);
  EXPECT_NE(err.find("one of --embed and --classify"), std::string::npos) << err;
  EXPECT_EQ(RunCli({"--embed"}, "", &out, &err), 2);
  EXPECT_EQ(RunCli({"-m", DataDir() + "/tiny_bert", "--embed", "text"}, "", &out, &err), 2);
  EXPECT_EQ(RunCli({"-m", DataDir() + "/absent", "--embed"}, "x\n", &out, &err), 1);
  EXPECT_EQ(RunCli({"-m", DataDir() + "/tiny_bert", "--embed", "--truncate", "--truncate-start"},
                   "", &out, &err),
            2);
  EXPECT_EQ(RunCli({"-m", DataDir() + "/tiny_bert", "--embed", "--pooling", "max"}, "", &out, &err),
            2);
  // tiny_bert_q8 has no tokenizer.json beside it: a load error, exit 1.
  EXPECT_EQ(RunCli({"-m", DataDir() + "/tiny_bert_q8", "--classify"}, "x\n", &out, &err), 1);
}

}  // namespace
}  // namespace jetserve::cli
