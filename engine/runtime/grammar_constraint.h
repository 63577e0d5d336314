// Grammar-constrained sampling: a sampler stage that sets the logits of tokens the grammar
// cannot accept next to -inf. The vocabulary is a byte trie built once per model
// (TokenTrie); each step walks the grammar state down the trie, pruning a whole subtree as
// soon as its prefix is rejected, so no step scans every token string. End-of-generation
// tokens are allowed exactly when the text so far is a complete sentence.
//
//   auto trie = TokenTrie::FromTokenizer(tokenizer);              // at model load
//   ASSIGN_OR_RETURN(auto g, grammar::Grammar::Parse(gbnf));      // per request
//   options.sampling.constraint = GrammarConstraintFactory(g, trie, eog_ids);
#ifndef JETSERVE_ENGINE_RUNTIME_GRAMMAR_CONSTRAINT_H_
#define JETSERVE_ENGINE_RUNTIME_GRAMMAR_CONSTRAINT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/grammar/grammar.h"
#include "engine/runtime/sampling.h"
#include "engine/tokenizer/tokenizer.h"

namespace jetserve::runtime {

class TokenTrie {
 public:
  struct Node {
    std::vector<std::pair<uint8_t, uint32_t>> children;  // byte -> node, sorted by byte
    std::vector<int32_t> tokens;                         // tokens whose text ends here
  };
  // pieces[id]: the bytes token id adds to the text; empty pieces are never in the trie.
  explicit TokenTrie(const std::vector<std::string>& pieces);
  static std::shared_ptr<const TokenTrie> FromTokenizer(const tokenizer::Tokenizer& tokenizer);

  const std::vector<Node>& nodes() const { return nodes_; }
  const std::string& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }
  int32_t vocab_size() const { return static_cast<int32_t>(pieces_.size()); }

  // Sets allowed[id] = 1 for every token whose whole text `state` accepts; returns the
  // number of trie nodes visited.
  size_t Allowed(const grammar::GrammarState& state, std::vector<uint8_t>* allowed) const;

 private:
  std::vector<Node> nodes_;
  std::vector<std::string> pieces_;
};

std::unique_ptr<SamplerStage> MakeGrammarConstraint(std::shared_ptr<const grammar::Grammar> grammar,
                                                    std::shared_ptr<const TokenTrie> trie,
                                                    std::vector<int32_t> eog_ids);

// A factory for SamplingOptions::constraint (one stage per choice).
ConstraintFactory GrammarConstraintFactory(std::shared_ptr<const grammar::Grammar> grammar,
                                           std::shared_ptr<const TokenTrie> trie,
                                           std::vector<int32_t> eog_ids);

}  // namespace jetserve::runtime

#endif  // JETSERVE_ENGINE_RUNTIME_GRAMMAR_CONSTRAINT_H_
