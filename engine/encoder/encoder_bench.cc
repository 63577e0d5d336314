// Encoder throughput on a model: embeds the lines of a text file in batches and prints
// milliseconds per batch and tokens per second. The ONNX Runtime side of the comparison is
// tests/oracles/encoder/bench_ort.py (same file, texts, batch size and thread count).
//
//   encoder_bench MODEL TEXTS.txt [threads=1] [batch=32] [repeats=5]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "engine/encoder/text_encoder.h"

int main(int argc, char** argv) {
  using namespace jetserve;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL TEXTS.txt [threads] [batch] [repeats]\n", argv[0]);
    return 2;
  }
  const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  const int batch = argc > 4 ? std::atoi(argv[4]) : 32;
  const int repeats = argc > 5 ? std::atoi(argv[5]) : 5;
  auto te = encoder::TextEncoder::Load(argv[1]);
  if (!te.ok()) {
    std::fprintf(stderr, "%s\n", std::string(te.status().message()).c_str());
    return 1;
  }
  std::ifstream in(argv[2]);
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) texts.push_back(line);
  }
  if (texts.empty() || batch < 1 || threads < 1 || repeats < 1) return 2;
  ThreadPool pool(threads);
  encoder::EncoderWorkspace ws;
  double best = 1e30;
  int64_t tokens = 0;
  for (int r = 0; r < repeats; ++r) {
    tokens = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < texts.size(); i += batch) {
      const size_t n = std::min(texts.size() - i, static_cast<size_t>(batch));
      auto v = (*te)->Embed(absl::MakeConstSpan(texts.data() + i, n),
                            {.truncation = encoder::Truncation::kEnd}, &pool, &ws);
      if (!v.ok()) return 1;
      tokens += ws.row_start.back();
    }
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf(
      "jetserve: %zu texts, %lld tokens, batch %d, %d threads: %.1f ms (best of %d), %.0f "
      "tokens/s\n",
      texts.size(), static_cast<long long>(tokens), batch, threads, best * 1e3, repeats,
      tokens / best);
  return 0;
}
