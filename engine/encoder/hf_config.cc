#include "engine/encoder/hf_config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace jetserve::encoder {
namespace {

using Json = nlohmann::json;

// Parsed file, nullopt when absent.
absl::StatusOr<std::optional<Json>> ReadJson(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::optional<Json>();
  std::stringstream ss;
  ss << f.rdbuf();
  Json j = Json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  return std::optional<Json>(std::move(j));
}

std::optional<int> Int(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  const int64_t v = it->get<int64_t>();
  if (v < -1000000000 || v > 1000000000) return std::nullopt;
  return static_cast<int>(v);
}

}  // namespace

absl::StatusOr<HfConfig> ReadHfConfig(const std::string& dir) {
  HfConfig c;
  const std::string path = absl::StrCat(dir, "/config.json");
  absl::StatusOr<std::optional<Json>> cfg = ReadJson(path);
  if (!cfg.ok()) return cfg.status();
  if (cfg->has_value()) {
    const Json& j = **cfg;
    if (auto it = j.find("model_type"); it != j.end() && it->is_string()) {
      c.model_type = it->get<std::string>();
    }
    c.n_head = Int(j, "num_attention_heads");
    if (!c.n_head) c.n_head = Int(j, "n_heads");  // DistilBERT
    if (auto it = j.find("layer_norm_eps"); it != j.end() && it->is_number()) {
      c.layer_norm_eps = it->get<float>();
    }
    c.pad_token_id = Int(j, "pad_token_id");
    c.max_position_embeddings = Int(j, "max_position_embeddings");
    if (auto it = j.find("problem_type"); it != j.end() && it->is_string()) {
      c.multi_label = it->get<std::string>() == "multi_label_classification";
    }
    if (auto it = j.find("id2label"); it != j.end() && it->is_object()) {
      const size_t n = it->size();
      if (n > 100000) return absl::InvalidArgumentError(absl::StrCat(path, ": id2label too large"));
      c.labels.assign(n, "");
      for (auto& [key, value] : it->items()) {
        int id;
        if (!absl::SimpleAtoi(key, &id) || id < 0 || static_cast<size_t>(id) >= n ||
            !value.is_string() || !c.labels[id].empty()) {
          return absl::InvalidArgumentError(absl::StrCat(path, ": id2label key '", key,
                                                         "' is not a unique id below ", n,
                                                         " mapped to a string"));
        }
        c.labels[id] = value.get<std::string>();
      }
    }
  }
  absl::StatusOr<std::optional<Json>> pool = ReadJson(absl::StrCat(dir, "/1_Pooling/config.json"));
  if (!pool.ok()) return pool.status();
  if (pool->has_value()) {
    const Json& j = **pool;
    auto on = [&](const char* key) {
      auto it = j.find(key);
      return it != j.end() && it->is_boolean() && it->get<bool>();
    };
    if (on("pooling_mode_cls_token")) c.pooling = Pooling::kCls;
    if (on("pooling_mode_mean_tokens")) c.pooling = Pooling::kMean;
    if (on("pooling_mode_lasttoken")) c.pooling = Pooling::kLast;
  }
  absl::StatusOr<std::optional<Json>> modules = ReadJson(absl::StrCat(dir, "/modules.json"));
  if (!modules.ok()) {
    // modules.json is a JSON array, which ReadJson refuses as "not an object": parse here.
    std::ifstream f(absl::StrCat(dir, "/modules.json"));
    std::stringstream ss;
    ss << f.rdbuf();
    Json j = Json::parse(ss.str(), nullptr, false);
    if (j.is_array()) {
      c.normalize = false;
      for (const Json& m : j) {
        auto it = m.find("type");
        if (m.is_object() && it != m.end() && it->is_string() &&
            it->get<std::string>().find("Normalize") != std::string::npos) {
          c.normalize = true;
        }
      }
    }
  }
  return c;
}

}  // namespace jetserve::encoder
