// libFuzzer target: encoding arbitrary bytes (invalid UTF-8 included) with fixed
// vocabularies of each model kind from tests/data/tokenizer (byte-level BPE, SPM-style BPE,
// Unigram, WordPiece), then decoding the ids and arbitrary ids. The first input byte picks
// the vocabulary and the options.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/hf_json_loader.h"
#include "engine/tokenizer/tokenizer.h"

namespace {

using jetserve::tokenizer::Tokenizer;

std::vector<std::unique_ptr<Tokenizer>> LoadAll() {
  std::vector<std::unique_ptr<Tokenizer>> out;
  for (const char* name :
       {"gpt-2", "spm-bpe-trained", "unigram-metaspace-llama", "all-minilm-l6-v2"}) {
    const std::string path = std::string(JETSERVE_FUZZ_SOURCE_DIR) + "/tests/data/tokenizer/hf/" +
                             name + "/tokenizer.json";
    auto vocab = jetserve::tokenizer::LoadHfTokenizerJson(path);
    if (!vocab.ok()) {
      std::fprintf(stderr, "fuzz_tokenize: %s\n", vocab.status().ToString().c_str());
      std::abort();
    }
    auto tok = Tokenizer::Create(*std::move(vocab));
    if (!tok.ok()) {
      std::fprintf(stderr, "fuzz_tokenize: %s\n", tok.status().ToString().c_str());
      std::abort();
    }
    out.push_back(*std::move(tok));
  }
  return out;
}

// Loading the vocabularies takes seconds under the sanitizers: done once, before the
// per-input timeout starts.
const std::vector<std::unique_ptr<Tokenizer>>* tokenizers = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  tokenizers = new std::vector<std::unique_ptr<Tokenizer>>(LoadAll());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const Tokenizer& tok = *(*tokenizers)[selector % tokenizers->size()];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  jetserve::tokenizer::EncodeOptions eo{.add_special = (selector & 0x10) != 0,
                                        .parse_special = (selector & 0x20) != 0};
  std::vector<jetserve::tokenizer::TokenId> ids = tok.Encode(text, eo);
  for (jetserve::tokenizer::TokenId id : ids) {
    if (id < 0 || id >= tok.size()) {
      std::fprintf(stderr, "fuzz_tokenize: id %d outside the vocabulary\n", id);
      std::abort();
    }
  }
  jetserve::tokenizer::DecodeOptions dopt{.special = (selector & 0x40) != 0};
  size_t sink = tok.Decode(ids, dopt).size();
  sink += tok.EncodeForModel(text).ids.size();
  // The same bytes read as token ids (any value, out-of-range ones included).
  std::vector<jetserve::tokenizer::TokenId> raw;
  for (size_t i = 1; i + 4 <= size; i += 4) {
    int32_t v = 0;
    for (int b = 0; b < 4; ++b) v |= static_cast<int32_t>(data[i + b]) << (8 * b);
    raw.push_back(v % (tok.size() + 8));
  }
  sink += tok.Decode(raw, dopt).size();
  bool first = true;
  for (auto id : raw) sink += tok.PieceInText(id, dopt, &first).size();
  return sink == 1 ? 0 : 0;
}
