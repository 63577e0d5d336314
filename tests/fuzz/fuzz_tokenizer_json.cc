// libFuzzer target: the HF tokenizer.json loader on arbitrary text; a vocabulary it accepts
// must also pass Tokenizer::Create or fail it cleanly, and encode/decode a fixed text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/tokenizer/hf_json_loader.h"
#include "engine/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto vocab = jetserve::tokenizer::ParseHfTokenizerJson(text);
  if (!vocab.ok()) return 0;
  auto tok = jetserve::tokenizer::Tokenizer::Create(*std::move(vocab));
  if (!tok.ok()) return 0;
  size_t sink = 0;
  for (bool special : {false, true}) {
    jetserve::tokenizer::EncodeOptions eo{.add_special = special, .parse_special = special};
    auto ids =
        (*tok)->Encode("Hello, World!  naïve café 123 \t\n <s></s>[CLS] 日本語 🙂", eo);
    sink += (*tok)->Decode(ids, {.special = special}).size();
    sink += (*tok)->EncodeForModel("a b c").ids.size();
  }
  return sink == 1 ? 0 : 0;
}
