// OpenAI request/response translation, against OpenAI's API reference: defaults, content
// parts, tools, response formats, SSE chunk shapes, base64 embeddings, error objects.
#include "gateway/http/openai_api.h"

#include <cstring>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jetserve::gateway::http {
namespace {

namespace v1 = ::jetserve::v1;
using ::testing::HasSubstr;

Json Parse(const char* text) { return Json::parse(text); }

TEST(OpenAiApiTest, CompletionDefaultsToSixteenTokens) {
  auto call = ParseOpenAiCompletion(Parse(R"({"model": "m", "prompt": "Once"})"));
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->request.prompt(), "Once");
  EXPECT_EQ(call->request.stop().max_tokens(), 16);
  EXPECT_FALSE(call->stream);
  // OpenAI's defaults are jetserve's: nothing set.
  EXPECT_FALSE(call->request.sampling().has_temperature());
  EXPECT_FALSE(call->request.sampling().has_top_p());
}

TEST(OpenAiApiTest, CompletionFields) {
  auto call = ParseOpenAiCompletion(Parse(R"({"model": "m", "prompt": ["p"], "max_tokens": 7,
      "temperature": 0.5, "top_p": 0.9, "n": 2, "stop": "\n", "seed": 3, "logprobs": 2,
      "echo": true, "presence_penalty": 1, "frequency_penalty": -1, "logit_bias": {"50256": -100},
      "stream": true, "stream_options": {"include_usage": true}, "user": "u"})"));
  ASSERT_TRUE(call.ok()) << call.status();
  const v1::GenerateRequest& r = call->request;
  EXPECT_EQ(r.prompt(), "p");
  EXPECT_EQ(r.stop().max_tokens(), 7);
  EXPECT_FLOAT_EQ(r.sampling().temperature(), 0.5f);
  EXPECT_FLOAT_EQ(r.sampling().top_p(), 0.9f);
  EXPECT_EQ(r.n(), 2);
  EXPECT_THAT(r.stop().stop(), ::testing::ElementsAre("\n"));
  EXPECT_EQ(r.sampling().seed(), 3u);
  EXPECT_TRUE(r.logprobs().logprobs());
  EXPECT_EQ(r.logprobs().top_logprobs(), 2);
  EXPECT_FLOAT_EQ(r.sampling().logit_bias().at(50256), -100.0f);
  EXPECT_TRUE(call->echo);
  EXPECT_TRUE(call->stream);
  EXPECT_TRUE(call->include_usage);
}

TEST(OpenAiApiTest, CompletionRefusesWhatItCannotServe) {
  EXPECT_THAT(
      ParseOpenAiCompletion(Parse(R"({"model": "m", "prompt": [1, 2]})")).status().message(),
      HasSubstr("token-id prompts"));
  EXPECT_THAT(
      ParseOpenAiCompletion(Parse(R"({"model": "m", "prompt": ["a", "b"]})")).status().message(),
      HasSubstr("one prompt per request"));
  EXPECT_THAT(ParseOpenAiCompletion(Parse(R"({"model": "m", "prompt": "a", "suffix": "b"})"))
                  .status()
                  .message(),
              HasSubstr("suffix"));
  EXPECT_THAT(ParseOpenAiCompletion(Parse(R"({"model": "m", "prompt": "a", "temperature": 3})"))
                  .status()
                  .message(),
              HasSubstr("temperature: must be in [0, 2]"));
  EXPECT_THAT(ParseOpenAiCompletion(Parse(R"({"prompt": "a"})")).status().message(),
              HasSubstr("model: required"));
}

TEST(OpenAiApiTest, ChatMessagesPartsToolsAndFormats) {
  auto call = ParseOpenAiChat(Parse(R"({"model": "m", "messages": [
      {"role": "developer", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "f", "arguments": "{\"x\": 1}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "42"}],
      "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
      "tool_choice": {"type": "function", "function": {"name": "f"}},
      "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}},
      "max_completion_tokens": 9, "logprobs": true, "top_logprobs": 3})"));
  ASSERT_TRUE(call.ok()) << call.status();
  const v1::Chat& chat = call->request.chat();
  ASSERT_EQ(chat.messages_size(), 4);
  EXPECT_EQ(chat.messages(0).role(), "system");
  EXPECT_EQ(chat.messages(1).content(), "ab");
  EXPECT_EQ(chat.messages(2).tool_calls(0).id(), "call_1");
  EXPECT_EQ(chat.messages(2).tool_calls(0).arguments_json(), R"({"x": 1})");
  EXPECT_EQ(chat.messages(3).tool_call_id(), "call_1");
  EXPECT_EQ(chat.tool_choice(), v1::TOOL_CHOICE_NAMED);
  EXPECT_EQ(chat.tool_choice_name(), "f");
  EXPECT_EQ(Json::parse(call->request.response_format().json_schema()),
            Parse(R"({"type": "object"})"));
  EXPECT_EQ(call->request.stop().max_tokens(), 9);
  EXPECT_EQ(call->request.logprobs().top_logprobs(), 3);
  auto json_mode =
      ParseOpenAiChat(Parse(R"({"model": "m", "messages": [{"role": "user", "content": "x"}],
      "response_format": {"type": "json_object"}, "tool_choice": "required"})"));
  ASSERT_TRUE(json_mode.ok()) << json_mode.status();
  EXPECT_TRUE(json_mode->request.response_format().json_object());
  EXPECT_EQ(json_mode->request.chat().tool_choice(), v1::TOOL_CHOICE_REQUIRED);
  EXPECT_FALSE(json_mode->request.stop().has_max_tokens());  // chat: until the context ends
  auto image = ParseOpenAiChat(Parse(R"({"model": "m", "messages": [{"role": "user",
      "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]})"));
  EXPECT_THAT(image.status().message(), HasSubstr("messages[0].content[0].type"));
}

v1::GenerateResponse Delta(int index, const std::string& text) {
  v1::GenerateResponse m;
  m.set_index(index);
  m.set_text(text);
  return m;
}

std::vector<Json> Events(const std::string& sse) {
  std::vector<Json> out;
  size_t pos = 0;
  while ((pos = sse.find("data: ", pos)) != std::string::npos) {
    const size_t end = sse.find("\n\n", pos);
    const std::string data = sse.substr(pos + 6, end - pos - 6);
    out.push_back(data == "[DONE]" ? Json("[DONE]") : Json::parse(data));
    pos = end;
  }
  return out;
}

TEST(OpenAiApiTest, ChatStreamChunks) {
  OpenAiFormatterOptions o{.chat = true,
                           .stream = true,
                           .include_usage = true,
                           .model = "m",
                           .id = "chatcmpl-1",
                           .created = 5};
  auto f = NewOpenAiFormatter(o);
  EXPECT_STREQ(f->content_type(), "text/event-stream");
  std::string sse = f->OnMessage(Delta(0, "Hi"));
  v1::GenerateResponse last;
  v1::ToolCall* call = last.add_tool_calls();
  call->set_id("call_0");
  call->set_name("f");
  call->set_arguments_json("{}");
  last.set_finish_reason(v1::FINISH_REASON_TOOL_CALLS);
  last.mutable_usage()->set_prompt_tokens(4);
  last.mutable_usage()->set_completion_tokens(3);
  sse += f->OnMessage(last);
  sse += f->Finish();
  const std::vector<Json> ev = Events(sse);
  ASSERT_EQ(ev.size(), 6u);
  EXPECT_EQ(ev[0]["object"], "chat.completion.chunk");
  EXPECT_EQ(ev[0]["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(ev[1]["choices"][0]["delta"]["content"], "Hi");
  EXPECT_EQ(ev[1]["choices"][0]["finish_reason"], nullptr);
  EXPECT_EQ(ev[2]["choices"][0]["delta"]["tool_calls"][0]["index"], 0);
  EXPECT_EQ(ev[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"], "f");
  EXPECT_EQ(ev[3]["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_TRUE(ev[4]["choices"].empty());
  EXPECT_EQ(ev[4]["usage"]["total_tokens"], 7);
  EXPECT_EQ(ev[5], "[DONE]");
}

TEST(OpenAiApiTest, NonStreamingCompletionWithTwoChoicesAndEcho) {
  OpenAiFormatterOptions o{
      .chat = false, .stream = false, .model = "m", .id = "cmpl-1", .n = 2, .echo_prefix = "P:"};
  auto f = NewOpenAiFormatter(o);
  f->OnMessage(Delta(1, "b"));
  f->OnMessage(Delta(0, "a"));
  v1::GenerateResponse end0 = Delta(0, "");
  end0.set_finish_reason(v1::FINISH_REASON_EOS);
  f->OnMessage(end0);
  v1::GenerateResponse end1 = Delta(1, "");
  end1.set_finish_reason(v1::FINISH_REASON_LENGTH);
  end1.mutable_usage()->set_prompt_tokens(1);
  end1.mutable_usage()->set_completion_tokens(2);
  f->OnMessage(end1);
  const Json out = Json::parse(f->Finish());
  EXPECT_EQ(out["object"], "text_completion");
  EXPECT_EQ(out["choices"][0]["text"], "P:a");
  EXPECT_EQ(out["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(out["choices"][1]["text"], "P:b");
  EXPECT_EQ(out["choices"][1]["finish_reason"], "length");
  EXPECT_EQ(out["usage"]["total_tokens"], 3);
}

TEST(OpenAiApiTest, EmbeddingsFloatAndBase64) {
  auto call = ParseOpenAiEmbeddings(
      Parse(R"({"model": "m", "input": ["a"], "encoding_format": "base64", "dimensions": 2})"));
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_TRUE(call->base64);
  EXPECT_EQ(call->request.dimensions(), 2);
  EXPECT_THAT(
      ParseOpenAiEmbeddings(Parse(R"({"model": "m", "input": [[1, 2]]})")).status().message(),
      HasSubstr("token-id inputs"));
  v1::EmbedResponse response;
  auto* e = response.add_embeddings();
  e->add_values(1.0f);
  e->add_values(-2.0f);
  // 1.0f = 0x3f800000, -2.0f = 0xc0000000, little-endian.
  const std::string expected_bytes("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);
  const Json b64 = OpenAiEmbeddingsResponse("m", response, true);
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(b64["data"][0]["embedding"].get<std::string>(), &decoded));
  EXPECT_EQ(decoded, expected_bytes);
  EXPECT_EQ(OpenAiEmbeddingsResponse("m", response, false)["data"][0]["embedding"].dump(),
            "[1.0,-2.0]");
}

TEST(OpenAiApiTest, ErrorShape) {
  const Json e = OpenAiError(absl::NotFoundError("model \"x\" is not served"));
  EXPECT_EQ(e["error"]["message"], "model \"x\" is not served");
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  EXPECT_EQ(e["error"]["code"], "model_not_found");
  EXPECT_EQ(e["error"]["param"], nullptr);
  EXPECT_EQ(OpenAiError(absl::ResourceExhaustedError("queue full"))["error"]["type"],
            "rate_limit_error");
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnauthenticated), 401);
}

}  // namespace
}  // namespace jetserve::gateway::http
