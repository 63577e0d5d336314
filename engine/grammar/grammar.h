// GBNF grammars (llama.cpp's notation) parsed into flat rules, and a pushdown matcher that
// advances over UTF-8 bytes. Repetitions (*, +, ?, {m}, {m,}, {m,n}) are rewritten into
// helper rules at parse time, so the matcher only knows characters and rule references.
//
//   ASSIGN_OR_RETURN(std::shared_ptr<const Grammar> g, Grammar::Parse(R"(root ::= "a" [0-9]+)"));
//   GrammarState s = GrammarState::Start(g);
//   for (char c : std::string("a12")) s = s.AdvanceByte(c);   // s.dead() when rejected
//   bool done = s.CanEnd();
//
// Untrusted grammars get InvalidArgument (syntax, undefined or left-recursive rules, size
// limits), never a crash or a hang.
#ifndef JETSERVE_ENGINE_GRAMMAR_GRAMMAR_H_
#define JETSERVE_ENGINE_GRAMMAR_GRAMMAR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace jetserve::grammar {

struct Element {
  enum class Kind : uint8_t { kEnd, kChar, kRule };
  Kind kind = Kind::kEnd;
  bool negated = false;                               // kChar: [^...]
  uint32_t rule = 0;                                  // kRule
  std::vector<std::pair<char32_t, char32_t>> ranges;  // kChar: inclusive ranges
  bool Matches(char32_t c) const;
  // Whether some code point in [lo, hi] matches (partial UTF-8 sequences).
  bool MatchesAnyIn(char32_t lo, char32_t hi) const;
};

// A rule: alternatives, each a sequence of elements ending with kEnd.
using Alternative = std::vector<Element>;
struct Rule {
  std::string name;
  std::vector<Alternative> alternatives;
};

struct GrammarLimits {
  size_t max_source_bytes = 256 * 1024;
  size_t max_rules = 20000;
  size_t max_elements = 200000;
  int64_t max_repetition = 1000;  // bounds of {m,n}
  size_t max_stacks = 4096;       // live parse stacks of a state
};

class Grammar {
 public:
  static absl::StatusOr<std::shared_ptr<const Grammar>> Parse(std::string_view source,
                                                              const GrammarLimits& limits = {});
  const std::vector<Rule>& rules() const { return rules_; }
  uint32_t root() const { return root_; }
  const GrammarLimits& limits() const { return limits_; }

 private:
  std::vector<Rule> rules_;
  uint32_t root_ = 0;
  GrammarLimits limits_;
};

// A persistent parse stack: the element to match next and the continuation below it.
struct StackNode {
  const Element* pos;  // points into an Alternative; never at kRule after expansion
  std::shared_ptr<const StackNode> parent;
  uint64_t hash;
};
using Stack = std::shared_ptr<const StackNode>;  // nullptr: the grammar is complete

class GrammarState {
 public:
  static GrammarState Start(std::shared_ptr<const Grammar> grammar);

  // The state after one more byte of UTF-8 text; dead() when the grammar rejects it.
  GrammarState AdvanceByte(uint8_t byte) const;
  GrammarState AdvanceBytes(std::string_view bytes) const;
  bool dead() const { return stacks_.empty(); }
  // The text so far is a complete sentence (no pending partial UTF-8).
  bool CanEnd() const;
  // Some continuation exists (false when only the end is possible).
  bool CanContinue() const;
  size_t num_stacks() const { return stacks_.size(); }
  // Structural hash of the state (its stacks as a set, and any partial UTF-8 sequence):
  // equal states have equal fingerprints, so callers can memoize transitions.
  uint64_t Fingerprint() const;

 private:
  std::shared_ptr<const Grammar> grammar_;
  std::vector<Stack> stacks_;  // each with a kChar on top, or nullptr (complete)
  char32_t partial_ = 0;       // code point bits collected so far
  int pending_ = 0;            // UTF-8 continuation bytes still expected
  int partial_len_ = 0;        // bytes of the partial sequence seen
};

}  // namespace jetserve::grammar

#endif  // JETSERVE_ENGINE_GRAMMAR_GRAMMAR_H_
