#include "engine/runtime/grammar_constraint.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <utility>

namespace jetserve::runtime {

TokenTrie::TokenTrie(const std::vector<std::string>& pieces) : pieces_(pieces) {
  nodes_.emplace_back();
  for (size_t id = 0; id < pieces.size(); ++id) {
    const std::string& p = pieces[id];
    if (p.empty()) continue;
    uint32_t n = 0;
    for (const char ch : p) {
      const uint8_t b = static_cast<uint8_t>(ch);
      auto& kids = nodes_[n].children;
      auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(b, uint32_t{0}),
                                 [](const auto& x, const auto& y) { return x.first < y.first; });
      if (it != kids.end() && it->first == b) {
        n = it->second;
      } else {
        const uint32_t child = static_cast<uint32_t>(nodes_.size());
        kids.insert(it, {b, child});
        nodes_.emplace_back();
        n = child;
      }
    }
    nodes_[n].tokens.push_back(static_cast<int32_t>(id));
  }
}

std::shared_ptr<const TokenTrie> TokenTrie::FromTokenizer(const tokenizer::Tokenizer& tokenizer) {
  std::vector<std::string> pieces(static_cast<size_t>(tokenizer.size()));
  for (int32_t id = 0; id < tokenizer.size(); ++id) {
    if (!tokenizer.IsControl(id))
      pieces[static_cast<size_t>(id)] = tokenizer.TokenToPiece(id, false);
  }
  return std::make_shared<const TokenTrie>(pieces);
}

size_t TokenTrie::Allowed(const grammar::GrammarState& state, std::vector<uint8_t>* allowed) const {
  // Many trie nodes lead to the same grammar state (inside a JSON string, every ordinary
  // character does), so states are interned by fingerprint and each (state, byte)
  // transition is computed once per call.
  std::vector<grammar::GrammarState> states{state};
  std::unordered_map<uint64_t, uint32_t> ids{{state.Fingerprint(), 0}};
  std::unordered_map<uint64_t, int32_t> next_of;  // (state id << 8 | byte) -> id, -1: dead
  auto step = [&](uint32_t id, uint8_t b) -> int32_t {
    const uint64_t key = static_cast<uint64_t>(id) << 8 | b;
    auto it = next_of.find(key);
    if (it != next_of.end()) return it->second;
    grammar::GrammarState n = states[id].AdvanceByte(b);
    int32_t out = -1;
    if (!n.dead()) {
      auto [pos, inserted] = ids.try_emplace(n.Fingerprint(), static_cast<uint32_t>(states.size()));
      if (inserted) states.push_back(std::move(n));
      out = static_cast<int32_t>(pos->second);
    }
    next_of.emplace(key, out);
    return out;
  };
  size_t visited = 0;
  std::vector<std::pair<uint32_t, uint32_t>> stack{{0, 0}};  // (trie node, state id)
  while (!stack.empty()) {
    const auto [n, sid] = stack.back();
    stack.pop_back();
    for (const auto& [b, child] : nodes_[n].children) {
      ++visited;
      const int32_t next = step(sid, b);
      if (next < 0) continue;  // prunes every token under this prefix
      for (const int32_t t : nodes_[child].tokens) (*allowed)[static_cast<size_t>(t)] = 1;
      if (!nodes_[child].children.empty()) stack.emplace_back(child, static_cast<uint32_t>(next));
    }
  }
  return visited;
}

namespace {

class GrammarConstraint final : public SamplerStage {
 public:
  GrammarConstraint(std::shared_ptr<const grammar::Grammar> g,
                    std::shared_ptr<const TokenTrie> trie, std::vector<int32_t> eog)
      : trie_(std::move(trie)),
        eog_(std::move(eog)),
        state_(grammar::GrammarState::Start(std::move(g))) {}

  std::string_view name() const override { return "grammar"; }

  void Apply(Candidates& c) override {
    allowed_.assign(static_cast<size_t>(trie_->vocab_size()), 0);
    if (!state_.dead()) trie_->Allowed(state_, &allowed_);
    // A dead end (no token continues the text) ends the output rather than breaking it.
    const bool can_end = state_.dead() || state_.CanEnd() ||
                         std::find(allowed_.begin(), allowed_.end(), 1) == allowed_.end();
    for (const int32_t e : eog_) {
      if (e >= 0 && static_cast<size_t>(e) < allowed_.size())
        allowed_[static_cast<size_t>(e)] = can_end;
    }
    for (TokenCandidate& t : c.items()) {
      if (t.id < 0 || static_cast<size_t>(t.id) >= allowed_.size() ||
          !allowed_[static_cast<size_t>(t.id)]) {
        t.logit = -INFINITY;
      }
    }
  }

  bool Allows(int32_t token) override {
    if (std::find(eog_.begin(), eog_.end(), token) != eog_.end()) return state_.CanEnd();
    if (token < 0 || token >= trie_->vocab_size() || trie_->piece(token).empty()) return false;
    return !state_.AdvanceBytes(trie_->piece(token)).dead();
  }

  void Accept(int32_t token) override {
    if (std::find(eog_.begin(), eog_.end(), token) != eog_.end()) return;
    if (token < 0 || token >= trie_->vocab_size()) return;
    state_ = state_.AdvanceBytes(trie_->piece(token));
  }

 private:
  std::shared_ptr<const TokenTrie> trie_;
  std::vector<int32_t> eog_;
  grammar::GrammarState state_;
  std::vector<uint8_t> allowed_;
};

}  // namespace

std::unique_ptr<SamplerStage> MakeGrammarConstraint(std::shared_ptr<const grammar::Grammar> grammar,
                                                    std::shared_ptr<const TokenTrie> trie,
                                                    std::vector<int32_t> eog_ids) {
  return std::make_unique<GrammarConstraint>(std::move(grammar), std::move(trie),
                                             std::move(eog_ids));
}

ConstraintFactory GrammarConstraintFactory(std::shared_ptr<const grammar::Grammar> grammar,
                                           std::shared_ptr<const TokenTrie> trie,
                                           std::vector<int32_t> eog_ids) {
  return [grammar, trie, eog_ids]() { return MakeGrammarConstraint(grammar, trie, eog_ids); };
}

}  // namespace jetserve::runtime
