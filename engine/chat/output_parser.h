// Splits a chat model's streamed output into answer text, reasoning and tool calls, per
// model family, as the text arrives (GenerateResponse.text / reasoning_text / tool_calls).
//
// Formats (chosen from the chat template's source by DetectOutputFormat):
//   reasoning   <think>...</think> (Qwen3, QwQ, DeepSeek-R1, SmolLM3); when the prompt
//               already opened the section (it ends with "<think>"), output starts in it.
//   kHermes     <tool_call>{"name": ..., "arguments": {...}}</tool_call> (Hermes, Qwen2.5/3,
//               QwQ, SmolLM3)
//   kMistral    [TOOL_CALLS][{"name": ..., "arguments": {...}, "id": ...}, ...]  or
//               [TOOL_CALLS]name[ARGS]{...} (Mistral Small 3.2 / Devstral)
//   kLlama3     a whole answer that is {"name": ..., "parameters": {...}} (JSON tool calling
//               of Llama 3.1-3.3), or <|python_tag|>{...} / <|python_tag|>name.call(...)
// Markers that are control tokens ([TOOL_CALLS], <|python_tag|>) must be in the text: the
// caller decodes with special tokens when NeedsSpecialTokens() says so.
//
//   OutputParser p(DetectOutputFormat(template_source), prompt_text, "c00");
//   for (each text delta d) { OutputParser::Delta o = p.Push(d); ... }
//   OutputParser::Delta last = p.Finish();
#ifndef JETSERVE_ENGINE_CHAT_OUTPUT_PARSER_H_
#define JETSERVE_ENGINE_CHAT_OUTPUT_PARSER_H_

#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/chat_template.h"

namespace jetserve::chat {

enum class ToolCallFormat { kNone, kHermes, kMistral, kLlama3 };

struct OutputFormat {
  bool reasoning = false;  // <think> sections
  ToolCallFormat tool_calls = ToolCallFormat::kNone;
  // kMistral: the template writes calls as [TOOL_CALLS]name[ARGS]{...} (not a JSON list).
  bool mistral_args = false;
};

OutputFormat DetectOutputFormat(std::string_view template_source);
bool NeedsSpecialTokens(const OutputFormat& format);

class OutputParser {
 public:
  struct Delta {
    std::string text;
    std::string reasoning;
    std::vector<ChatToolCall> tool_calls;
  };

  // `prompt` is the rendered prompt (to see whether it opened a reasoning section);
  // tool-call ids are id_prefix + a counter, 9 characters in all when the prefix has 3.
  OutputParser(const OutputFormat& format, std::string_view prompt, std::string id_prefix,
               bool parse_tool_calls);

  Delta Push(std::string_view text);
  // End of output: releases held text; an unterminated tool call is returned as text.
  Delta Finish();

 private:
  enum class Mode {
    kStart,
    kContent,
    kReasoning,
    kHermesCall,
    kMistralCalls,
    kLlamaJson,
    kPythonTag
  };
  void Run(bool final, Delta* out);
  bool ParseCallJson(const std::string& json, Delta* out, bool arguments_key_params);
  bool ParseMistral(const std::string& body, Delta* out);
  std::string NextId();

  OutputFormat format_;
  bool parse_tools_;
  std::string id_prefix_;
  int next_id_ = 0;
  Mode mode_ = Mode::kStart;
  std::string buf_;
  bool strip_leading_ws_ = false;
};

}  // namespace jetserve::chat

#endif  // JETSERVE_ENGINE_CHAT_OUTPUT_PARSER_H_
