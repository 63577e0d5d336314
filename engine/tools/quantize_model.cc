// QuantizeModel: reads a GGUF, picks each tensor's type with the quantization mix, re-encodes.
#include <memory>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/format/gguf_reader.h"
#include "engine/format/gguf_writer.h"
#include "engine/quant/dequantize.h"
#include "engine/quant/quantize.h"
#include "engine/quant/quantize_mix.h"
#include "engine/tools/model_tools.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::tools {

absl::Status QuantizeModel(const QuantizeOptions& options) {
  absl::StatusOr<quant::QuantMix> mix = quant::ParseQuantMix(options.type);
  if (!mix.ok()) return mix.status();
  absl::StatusOr<std::unique_ptr<GgufFile>> in = GgufFile::Open(options.input);
  if (!in.ok()) return in.status();
  const GgufFile& src = **in;

  GgufWriter writer(src.alignment());
  for (const GgufKeyValue& kv : src.metadata()) {
    if (kv.key == "general.alignment") continue;  // the writer sets it
    writer.SetValue(kv.key, kv.value);
  }
  writer.SetUint32("general.quantization_version", 2);
  writer.SetUint32("general.file_type", mix->file_type);

  std::vector<std::string_view> names;
  for (const GgufTensorInfo& t : src.tensors()) names.push_back(t.name);
  quant::QuantMixPlanner planner(*mix, names);
  for (const GgufTensorInfo& t : src.tensors()) {
    const GgmlType target = planner.TypeFor(t.name, t.dims, t.type);
    if (target == t.type) {
      // Borrowed: the source mapping outlives WriteFile below.
      absl::Status s = writer.AddTensor(t.name, t.type, t.dims, t.data);
      if (!s.ok()) return s;
      continue;
    }
    absl::StatusOr<std::vector<float>> floats =
        quant::DequantizeBytes(t.type, t.data, t.num_elements);
    if (!floats.ok()) {
      return absl::Status(floats.status().code(),
                          absl::StrCat("tensor '", Sv(t.name), "': ", floats.status().message()));
    }
    absl::StatusOr<std::vector<uint8_t>> encoded =
        quant::QuantizeMatrix(target, *floats, t.dims[0], options.threads);
    if (!encoded.ok()) {
      return absl::Status(encoded.status().code(),
                          absl::StrCat("tensor '", Sv(t.name), "': ", encoded.status().message()));
    }
    absl::Status s = writer.AddTensor(t.name, target, t.dims, std::move(*encoded));
    if (!s.ok()) return s;
  }
  return writer.WriteFile(options.output);
}

}  // namespace jetserve::tools
