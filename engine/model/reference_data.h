// Test support: reads the llama.cpp reference files of tests/data/decoder/ (written by
// tests/oracles/decoder/make_refs.py) and compares our next-token distributions with them.
#ifndef JETSERVE_ENGINE_MODEL_REFERENCE_DATA_H_
#define JETSERVE_ENGINE_MODEL_REFERENCE_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace jetserve::model {

struct ReferencePrompt {
  std::string text;  // empty for token-id prompts
  std::vector<int32_t> prompt_tokens;
  std::vector<int32_t> tokens;  // prompt + llama.cpp's greedy continuation
  std::vector<int32_t> greedy;
  std::vector<std::vector<int32_t>> top_ids;      // per position, best first
  std::vector<std::vector<double>> top_logprobs;  // per position
};

struct ReferenceFile {
  std::string model;
  int64_t file_size = -1;
  std::string fnv1a64;  // random models
  std::vector<ReferencePrompt> prompts;
};

absl::StatusOr<ReferenceFile> ReadReferenceFile(const std::string& path);

// FNV-1a 64 of a file's bytes, as 16 hex digits.
absl::StatusOr<std::string> Fnv1a64File(const std::string& path);

struct Agreement {
  double sum_kl = 0;
  double max_kl = 0;
  int64_t positions = 0;
  int64_t clear_positions = 0;  // reference top-2 margin > 0.1
  int64_t clear_agree = 0;
  int64_t all_agree = 0;
  double mean_kl() const { return positions > 0 ? sum_kl / static_cast<double>(positions) : 0; }
};

// Adds one position: KL(reference || ours) over the reference's top-K ids plus one bucket
// for the rest (a lower bound of the full KL), and argmax agreement.
void AddPosition(const std::vector<int32_t>& ref_ids, const std::vector<double>& ref_logprobs,
                 const float* our_logits, int64_t n_vocab, Agreement* agreement);

}  // namespace jetserve::model

#endif  // JETSERVE_ENGINE_MODEL_REFERENCE_DATA_H_
