// The HuggingFace side files beside an ONNX export: config.json (model_type, heads,
// layer-norm epsilon, id2label, problem_type, pad_token_id) and sentence-transformers'
// 1_Pooling/config.json and modules.json (pooling mode, Normalize). All optional: a missing
// file leaves the fields unset; a malformed one is an InvalidArgument naming the file.
#ifndef JETSERVE_ENGINE_ENCODER_HF_CONFIG_H_
#define JETSERVE_ENGINE_ENCODER_HF_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/encoder/encoder.h"

namespace jetserve::encoder {

struct HfConfig {
  std::string model_type;  // "bert", "distilbert", "roberta", "xlm-roberta", …
  std::optional<int> n_head;
  std::optional<float> layer_norm_eps;
  std::optional<int> pad_token_id;
  std::optional<int> max_position_embeddings;
  std::vector<std::string> labels;  // id2label by index; empty if absent
  bool multi_label = false;         // problem_type == "multi_label_classification"
  std::optional<Pooling> pooling;   // sentence-transformers pooling config
  std::optional<bool> normalize;    // modules.json lists a Normalize module
};

// Reads the files in `dir` (the folder holding model.onnx).
absl::StatusOr<HfConfig> ReadHfConfig(const std::string& dir);

}  // namespace jetserve::encoder

#endif  // JETSERVE_ENGINE_ENCODER_HF_CONFIG_H_
