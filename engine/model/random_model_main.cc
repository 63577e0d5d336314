// jetserve-random-decoder DIR [NAME...]: writes the random decoder models of
// RandomDecoderSpecs() into DIR and prints their file names (used by
// tests/oracles/decoder/make_refs.py). With NAMEs, writes only those, which may also name
// the benchmark files of BenchDecoderSpecs() ("llama1b-Q4_0.gguf", used by
// tests/bench/compare.py).
#include <iostream>
#include <string>
#include <vector>

#include "engine/model/random_model.h"

int main(int argc, char** argv) {
  using jetserve::model::RandomDecoderSpec;
  if (argc < 2) {
    std::cerr << "usage: jetserve-random-decoder DIR [NAME...]\n";
    return 2;
  }
  std::vector<RandomDecoderSpec> specs = jetserve::model::RandomDecoderSpecs();
  if (argc > 2) {
    std::vector<RandomDecoderSpec> all = specs;
    for (RandomDecoderSpec& s : jetserve::model::BenchDecoderSpecs()) all.push_back(std::move(s));
    specs.clear();
    for (int i = 2; i < argc; ++i) {
      bool found = false;
      for (const RandomDecoderSpec& s : all) {
        if (s.name == argv[i]) {
          specs.push_back(s);
          found = true;
        }
      }
      if (!found) {
        std::cerr << "jetserve-random-decoder: no random model named " << argv[i] << "; known:";
        for (const RandomDecoderSpec& s : all) std::cerr << " " << s.name;
        std::cerr << "\n";
        return 2;
      }
    }
  }
  for (const RandomDecoderSpec& s : specs) {
    absl::Status st = jetserve::model::WriteRandomDecoder(s, std::string(argv[1]) + "/" + s.name);
    if (!st.ok()) {
      std::cerr << s.name << ": " << st << "\n";
      return 1;
    }
    std::cout << s.name << "\n";
  }
  return 0;
}
