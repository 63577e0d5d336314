// jetserve-random-decoder DIR: writes every random decoder model of RandomDecoderSpecs()
// into DIR and prints their file names (used by tests/oracles/decoder/make_refs.py).
#include <iostream>
#include <string>

#include "engine/model/random_model.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: jetserve-random-decoder DIR\n";
    return 2;
  }
  for (const jetserve::model::RandomDecoderSpec& s : jetserve::model::RandomDecoderSpecs()) {
    absl::Status st = jetserve::model::WriteRandomDecoder(s, std::string(argv[1]) + "/" + s.name);
    if (!st.ok()) {
      std::cerr << s.name << ": " << st << "\n";
      return 1;
    }
    std::cout << s.name << "\n";
  }
  return 0;
}
