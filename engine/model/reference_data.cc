#include "engine/model/reference_data.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace jetserve::model {

absl::StatusOr<ReferenceFile> ReadReferenceFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  ReferenceFile f;
  f.model = j.value("model", "");
  f.file_size = j.value("file_size", int64_t{-1});
  f.fnv1a64 = j.value("fnv1a64", "");
  if (!j.contains("prompts") || !j["prompts"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no prompts"));
  }
  for (const nlohmann::json& p : j["prompts"]) {
    ReferencePrompt r;
    r.text = p.value("text", "");
    r.prompt_tokens = p.value("prompt_tokens", std::vector<int32_t>{});
    r.tokens = p.value("tokens", std::vector<int32_t>{});
    r.greedy = p.value("greedy", std::vector<int32_t>{});
    r.top_ids = p.value("top_ids", std::vector<std::vector<int32_t>>{});
    r.top_logprobs = p.value("top_logprobs", std::vector<std::vector<double>>{});
    if (r.top_ids.size() != r.tokens.size() || r.top_logprobs.size() != r.tokens.size()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": inconsistent prompt entry"));
    }
    f.prompts.push_back(std::move(r));
  }
  return f;
}

absl::StatusOr<std::string> Fnv1a64File(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  uint64_t h = 0xCBF29CE484222325ull;
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof(buf));
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h ^= static_cast<uint8_t>(buf[i]);
      h *= 0x100000001B3ull;
    }
  }
  char out[17];
  std::snprintf(out, sizeof(out), "%016" PRIx64, h);
  return std::string(out);
}

void AddPosition(const std::vector<int32_t>& ref_ids, const std::vector<double>& ref_logprobs,
                 const float* logits, int64_t n_vocab, Agreement* a) {
  double mx = -INFINITY;
  int64_t argmax = 0;
  for (int64_t i = 0; i < n_vocab; ++i) {
    if (logits[i] > mx) {
      mx = logits[i];
      argmax = i;
    }
  }
  double sum = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  const double lse = mx + std::log(sum);
  double kl = 0, p_top = 0, q_top = 0;
  for (size_t k = 0; k < ref_ids.size(); ++k) {
    const int32_t id = ref_ids[k];
    if (id < 0 || id >= n_vocab) continue;
    const double lp = ref_logprobs[k];
    const double lq = static_cast<double>(logits[id]) - lse;
    const double p = std::exp(lp);
    kl += p * (lp - lq);
    p_top += p;
    q_top += std::exp(lq);
  }
  const double p_tail = std::max(0.0, 1.0 - p_top);
  const double q_tail = std::max(1e-300, 1.0 - q_top);
  if (p_tail > 1e-12) kl += p_tail * std::log(p_tail / q_tail);
  kl = std::max(0.0, kl);
  a->sum_kl += kl;
  a->max_kl = std::max(a->max_kl, kl);
  ++a->positions;
  const bool agree = !ref_ids.empty() && ref_ids[0] == argmax;
  a->all_agree += agree ? 1 : 0;
  if (ref_logprobs.size() >= 2 && ref_logprobs[0] - ref_logprobs[1] > 0.1) {
    ++a->clear_positions;
    a->clear_agree += agree ? 1 : 0;
  }
}

}  // namespace jetserve::model
