// Kernel table of the decoder: the quant library's fused dequantize-dot kernels, except
// where llama.cpp's arithmetic differs in a way that shows in the outputs. llama.cpp pairs
// Q4_1 and Q5_1 weights with Q8_1 activations, whose per-block sum d * sum(q) is stored
// as fp16; the min term of each block uses that rounded sum. Mirroring it brings
// SmolLM2 Q4_1 from a mean KL of ~3e-3 to llama.cpp's own level.
// (Adapter kept here until the quant library offers a Q8_1 activation type.)
#ifndef JETSERVE_ENGINE_MODEL_GGML_COMPAT_H_
#define JETSERVE_ENGINE_MODEL_GGML_COMPAT_H_

#include "engine/format/gguf_types.h"
#include "engine/quant/vec_dot.h"

namespace jetserve::model {

// The kernels the decoder uses for a weight type, or nullptr if unsupported.
const quant::TypeKernels* DecoderKernels(GgmlType type);

}  // namespace jetserve::model

#endif  // JETSERVE_ENGINE_MODEL_GGML_COMPAT_H_
