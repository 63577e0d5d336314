// libFuzzer target: the ONNX loader (protobuf parse, graph checks, initializer resolution)
// on arbitrary bytes, then the element conversions the encoders use. External data is
// looked up in an empty temporary folder, so no file outside the input is read.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/types/span.h"
#include "engine/onnx/onnx_model.h"

namespace {

char empty_dir[] = "/tmp/jetserve-fuzz-onnx-XXXXXX";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  if (mkdtemp(empty_dir) == nullptr) {
    std::perror("fuzz_onnx: mkdtemp");
    std::abort();
  }
  std::atexit([] { rmdir(empty_dir); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  jetserve::OnnxLoadOptions options;
  options.max_tensor_elements = int64_t{1} << 20;  // keep the fuzzer's memory bounded
  auto model = jetserve::OnnxModel::FromBytes(absl::MakeConstSpan(data, size), empty_dir, options);
  if (!model.ok()) return 0;
  size_t sink = 0;
  for (const jetserve::OnnxTensor& t : (*model)->initializers()) {
    if (auto f = jetserve::ToFloats(t); f.ok()) sink += f->size();
    if (auto i = jetserve::ToInts(t); i.ok()) sink += i->size();
    sink += jetserve::OnnxTypeName(t.data_type).size();
  }
  for (int node : (*model)->topo_order()) {
    sink += (*model)->NodeLabel(node).size();
    for (const auto& out : (*model)->graph().node(node).output()) {
      sink += (*model)->Consumers(out).size();
    }
  }
  return sink == 1 ? 0 : 0;
}
