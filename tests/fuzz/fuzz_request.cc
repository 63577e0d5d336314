// libFuzzer target: request validation without a server: generation options (sampling,
// stop criteria, logprobs, n) and chat input (roles, tools, JSON fields) built from the
// fuzzer's bytes, checked with ValidateGenerateOptions / ValidateChatInput and, when valid,
// turned into template variables.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/chat/chat_template.h"
#include "engine/runtime/generator.h"
#include "engine/runtime/sampling.h"

namespace {

float AnyFloat(FuzzedDataProvider& p) {
  // Raw bits too, so NaN, infinities and denormals come up.
  if (p.ConsumeBool()) return p.ConsumeFloatingPoint<float>();
  const uint32_t bits = p.ConsumeIntegral<uint32_t>();
  float f;
  static_assert(sizeof f == sizeof bits);
  __builtin_memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  jetserve::runtime::GenerateOptions g;
  const int32_t vocab_size = p.ConsumeIntegralInRange<int32_t>(-1, 300000);
  const int64_t n_ctx = p.ConsumeIntegral<int64_t>();
  auto& s = g.sampling;
  s.temperature = AnyFloat(p);
  s.top_k = p.ConsumeIntegral<int32_t>();
  s.top_p = AnyFloat(p);
  s.min_p = AnyFloat(p);
  s.typical_p = AnyFloat(p);
  s.repetition_penalty = AnyFloat(p);
  s.presence_penalty = AnyFloat(p);
  s.frequency_penalty = AnyFloat(p);
  s.penalty_last_n = p.ConsumeIntegral<int32_t>();
  for (int i = p.ConsumeIntegralInRange(0, 8); i > 0; --i) {
    s.logit_bias.emplace_back(p.ConsumeIntegral<int32_t>(), AnyFloat(p));
  }
  s.seed = p.ConsumeIntegral<uint64_t>();
  g.stop.max_tokens = p.ConsumeIntegral<int32_t>();
  g.stop.min_tokens = p.ConsumeIntegral<int32_t>();
  for (int i = p.ConsumeIntegralInRange(0, 6); i > 0; --i) {
    g.stop.stop.push_back(p.ConsumeRandomLengthString(64));
  }
  for (int i = p.ConsumeIntegralInRange(0, 6); i > 0; --i) {
    g.stop.stop_token_ids.push_back(p.ConsumeIntegral<int32_t>());
  }
  g.stop.ignore_eos = p.ConsumeBool();
  g.logprobs.logprobs = p.ConsumeBool();
  g.logprobs.top_logprobs = p.ConsumeIntegral<int32_t>();
  g.logprobs.echo_prompt = p.ConsumeBool();
  g.n = p.ConsumeIntegral<int32_t>();
  g.skip_special_tokens = p.ConsumeBool();
  size_t sink = jetserve::runtime::ValidateSamplingOptions(s, vocab_size).ok();
  sink += jetserve::runtime::ValidateGenerateOptions(g, vocab_size, n_ctx).ok();

  jetserve::chat::ChatInput chat;
  for (int i = p.ConsumeIntegralInRange(0, 6); i > 0; --i) {
    jetserve::chat::ChatMessage m;
    m.role = p.ConsumeRandomLengthString(16);
    m.content = p.ConsumeRandomLengthString(128);
    m.name = p.ConsumeRandomLengthString(16);
    for (int j = p.ConsumeIntegralInRange(0, 2); j > 0; --j) {
      m.tool_calls.push_back({.id = p.ConsumeRandomLengthString(16),
                              .name = p.ConsumeRandomLengthString(16),
                              .arguments_json = p.ConsumeRandomLengthString(128)});
    }
    m.tool_call_id = p.ConsumeRandomLengthString(16);
    m.reasoning_content = p.ConsumeRandomLengthString(64);
    chat.messages.push_back(std::move(m));
  }
  for (int i = p.ConsumeIntegralInRange(0, 3); i > 0; --i) {
    chat.tools.push_back({.name = p.ConsumeRandomLengthString(16),
                          .description = p.ConsumeRandomLengthString(64),
                          .parameters_json = p.ConsumeRandomLengthString(128)});
  }
  chat.add_generation_prompt = p.ConsumeBool();
  chat.template_kwargs_json = p.ConsumeRemainingBytesAsString();
  if (jetserve::chat::ValidateChatInput(chat).ok()) {
    auto ctx = jetserve::chat::ChatContext(chat, "<s>", "</s>");
    sink += ctx.ok();
    auto text = jetserve::chat::ChatTemplate::ChatMl("<s>", "</s>").Apply(chat);
    sink += text.ok();
  }
  return sink == 100 ? 0 : 0;
}
