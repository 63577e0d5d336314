// libFuzzer target: the GGUF reader on arbitrary bytes, then everything a loader reads from
// a parsed file (typed getters, tensor views, the GGUF tokenizer vocabulary).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/types/span.h"
#include "engine/format/gguf_reader.h"
#include "engine/tokenizer/gguf_loader.h"
#include "engine/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = jetserve::GgufFile::FromBuffer(absl::MakeConstSpan(data, size));
  if (!file.ok()) return 0;
  const jetserve::GgufFile& f = **file;
  size_t sink = 0;
  for (const jetserve::GgufKeyValue& kv : f.metadata()) {
    const std::string key(kv.key);
    sink += f.GetString(key).ok() + f.GetInt(key).ok() + f.GetUint(key).ok() +
            f.GetFloat(key).ok() + f.GetBool(key).ok();
    if (auto a = f.GetStringArray(key); a.ok()) sink += a->size();
    if (auto a = f.GetIntArray(key); a.ok()) sink += a->size();
    if (auto a = f.GetFloatArray(key); a.ok()) sink += a->size();
  }
  for (const jetserve::GgufTensorInfo& t : f.tensors()) {
    // The view must lie inside the buffer: touch its first and last byte.
    if (!t.data.empty()) sink += t.data.front() + t.data.back();
    sink += static_cast<size_t>(t.num_rows());
  }
  auto vocab = jetserve::tokenizer::VocabFromGguf(f);
  if (vocab.ok()) {
    auto tok = jetserve::tokenizer::Tokenizer::Create(*std::move(vocab));
    if (tok.ok()) {
      jetserve::tokenizer::EncodeOptions eo{.add_special = true, .parse_special = true};
      auto ids = (*tok)->Encode("Hello world! 123 <s> ünïcödé", eo);
      sink += (*tok)->Decode(ids, {}).size();
    }
  }
  return sink == 1 ? 0 : 0;
}
