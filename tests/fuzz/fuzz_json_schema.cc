// libFuzzer target: JSON Schema -> GBNF (including the "pattern" regex converter) and the
// GBNF parser and matcher on the result. Input: a schema's JSON text, or (when it starts
// with '/') a regex used as a string schema's pattern. A grammar that parses is run over the
// input's own bytes, to exercise the matcher on whatever it produced.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/grammar/grammar.h"
#include "engine/grammar/json_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string schema = input;
  if (!input.empty() && input[0] == '/') {
    schema = R"({"type": "string", "pattern": ")";
    for (size_t i = 1; i < input.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(input[i]);
      if (c == '"' || c == '\\') {
        schema += '\\';
        schema += input[i];
      } else if (c < 0x20) {
        static const char kHex[] = "0123456789abcdef";
        schema += "\\u00";
        schema += kHex[c >> 4];
        schema += kHex[c & 15];
      } else {
        schema += input[i];
      }
    }
    schema += "\"}";
  }
  absl::StatusOr<std::string> gbnf = jetserve::grammar::JsonSchemaToGbnf(schema);
  if (!gbnf.ok()) return 0;
  absl::StatusOr<std::shared_ptr<const jetserve::grammar::Grammar>> g =
      jetserve::grammar::Grammar::Parse(*gbnf);
  if (!g.ok()) return 0;
  jetserve::grammar::GrammarState s = jetserve::grammar::GrammarState::Start(*g);
  s = s.AdvanceByte('"');
  for (size_t i = 0; i < input.size() && i < 256 && !s.dead(); ++i) {
    s = s.AdvanceByte(static_cast<uint8_t>(input[i]));
  }
  (void)s.CanEnd();
  return 0;
}
