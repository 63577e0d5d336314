#include "engine/quant/quantize_mix.h"

#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::quant {
namespace {

struct MixRow {
  std::string_view name;
  uint32_t file_type;
  GgmlType type;
};

constexpr MixRow kMixes[] = {
    {"F32", 0, GgmlType::kF32},    {"F16", 1, GgmlType::kF16},      {"Q4_0", 2, GgmlType::kQ4_0},
    {"Q4_1", 3, GgmlType::kQ4_1},  {"Q8_0", 7, GgmlType::kQ8_0},    {"Q5_0", 8, GgmlType::kQ5_0},
    {"Q5_1", 9, GgmlType::kQ5_1},  {"Q2_K", 10, GgmlType::kQ2_K},   {"Q3_K_M", 12, GgmlType::kQ3_K},
    {"Q3_K", 12, GgmlType::kQ3_K}, {"Q4_K_S", 14, GgmlType::kQ4_K}, {"Q4_K_M", 15, GgmlType::kQ4_K},
    {"Q4_K", 15, GgmlType::kQ4_K}, {"Q5_K_S", 16, GgmlType::kQ5_K}, {"Q5_K_M", 17, GgmlType::kQ5_K},
    {"Q5_K", 17, GgmlType::kQ5_K}, {"Q6_K", 18, GgmlType::kQ6_K},   {"BF16", 32, GgmlType::kBF16},
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

bool IsKQuant(GgmlType t) {
  return t == GgmlType::kQ2_K || t == GgmlType::kQ3_K || t == GgmlType::kQ4_K ||
         t == GgmlType::kQ5_K || t == GgmlType::kQ6_K;
}

bool IsFloat(GgmlType t) {
  return t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kBF16;
}

// Dimensions ignoring trailing ones (ggml_n_dims).
int EffectiveDims(absl::Span<const int64_t> dims) {
  int n = static_cast<int>(dims.size());
  while (n > 1 && dims[n - 1] == 1) --n;
  return n;
}

}  // namespace

absl::StatusOr<QuantMix> ParseQuantMix(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const MixRow& row : kMixes) {
    if (row.name == upper) {
      std::string canonical(row.name);
      if (canonical == "Q4_K") canonical = "Q4_K_M";
      if (canonical == "Q5_K") canonical = "Q5_K_M";
      if (canonical == "Q3_K") canonical = "Q3_K_M";
      return QuantMix{canonical, row.file_type, row.type};
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown quantization type '", Sv(name),
      "' (expected F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_M, Q4_K_S, Q4_K_M, "
      "Q5_K_S, Q5_K_M or Q6_K)"));
}

bool UseMoreBits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

QuantMixPlanner::QuantMixPlanner(QuantMix mix, absl::Span<const std::string_view> names)
    : mix_(std::move(mix)) {
  for (std::string_view n : names) {
    if (n == "output.weight") has_output_ = true;
    if (Contains(n, "attn_v.weight")) ++n_attention_wv_;
    if (Contains(n, "ffn_down")) ++n_ffn_down_;
  }
}

GgmlType QuantMixPlanner::TypeFor(std::string_view name, absl::Span<const int64_t> dims,
                                  GgmlType current) {
  // Tensors llama.cpp never quantizes.
  bool quantize = EndsWith(name, "weight") && EffectiveDims(dims) >= 2 &&
                  !Contains(name, "_norm.weight") && !Contains(name, "ffn_gate_inp.weight") &&
                  !Contains(name, "pos_embd") && !Contains(name, "token_types") &&
                  !Contains(name, "ssm_conv1d") && !Contains(name, "attn_rel_b");
  if (!quantize) {
    // Counters still advance for the tensors they count.
    if (Contains(name, "attn_v.weight")) ++i_attention_wv_;
    if (Contains(name, "ffn_down")) ++i_ffn_down_;
    return current;
  }
  GgmlType t = mix_.default_type;
  if (IsFloat(t)) return t;
  const std::string_view mix = mix_.name;
  const bool is_output = name == "output.weight" || (!has_output_ && name == "token_embd.weight");
  if (is_output) {
    if (dims[0] % 256 != 0) {
      t = GgmlType::kQ8_0;
    } else if (t != GgmlType::kQ8_0) {
      t = GgmlType::kQ6_K;
    }
  } else if (Contains(name, "attn_v.weight")) {
    if ((mix == "Q4_K_M" || mix == "Q5_K_M") && UseMoreBits(i_attention_wv_, n_attention_wv_)) {
      t = GgmlType::kQ6_K;
    } else if (mix == "Q4_K_S" && i_attention_wv_ < 4) {
      t = GgmlType::kQ5_K;
    } else if (mix == "Q3_K_M") {
      t = i_attention_wv_ < 2 ? GgmlType::kQ5_K : GgmlType::kQ4_K;
    } else if (mix == "Q2_K") {
      t = GgmlType::kQ3_K;  // llama.cpp: Q4_K when n_gqa >= 4, else Q3_K
    }
    ++i_attention_wv_;
  } else if (Contains(name, "ffn_down")) {
    const int i = i_ffn_down_;
    const int n = n_ffn_down_;
    if ((mix == "Q4_K_M" || mix == "Q5_K_M") && UseMoreBits(i, n)) {
      t = GgmlType::kQ6_K;
    } else if (mix == "Q4_K_S" && i < n / 8) {
      t = GgmlType::kQ5_K;
    } else if (mix == "Q2_K") {
      t = GgmlType::kQ3_K;
    } else if (mix == "Q3_K_M") {
      t = i < n / 16 ? GgmlType::kQ5_K : GgmlType::kQ4_K;  // llama.cpp: Q5_K for i < n/16
    }
    ++i_ffn_down_;
  } else if (Contains(name, "attn_output.weight")) {
    if (mix == "Q3_K_M") t = GgmlType::kQ4_K;
  } else if (Contains(name, "attn_qkv.weight")) {
    if (mix == "Q4_K_M") t = GgmlType::kQ5_K;
    if (mix == "Q5_K_M") t = GgmlType::kQ6_K;
    if (mix == "Q3_K_M") t = GgmlType::kQ4_K;
  }
  // Row length not a multiple of the super-block: llama.cpp's fallbacks.
  if (IsKQuant(t) && dims[0] % 256 != 0) {
    switch (t) {
      case GgmlType::kQ4_K:
        t = GgmlType::kQ5_0;
        break;
      case GgmlType::kQ5_K:
        t = GgmlType::kQ5_1;
        break;
      case GgmlType::kQ6_K:
        t = GgmlType::kQ8_0;
        break;
      default:
        t = GgmlType::kQ4_0;
        break;
    }
  }
  if (!IsFloat(t) && dims[0] % 32 != 0) t = GgmlType::kF16;  // cannot be quantized at all
  return t;
}

}  // namespace jetserve::quant
