// Ollama request/response translation, against the field meanings in Ollama's API
// documentation (docs/api.md): defaults, options, formats, streaming shape.
#include "gateway/http/ollama_api.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jetserve::gateway::http {
namespace {

namespace v1 = ::jetserve::v1;
using ::testing::HasSubstr;

Json Parse(const char* text) { return Json::parse(text); }

TEST(OllamaApiTest, GenerateRendersPromptAsChatWithOllamaDefaults) {
  auto call = ParseOllamaGenerate(
      Parse(R"({"model": "mistral", "prompt": "What is edge AI?", "stream": false})"));
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_FALSE(call->stream);
  EXPECT_FALSE(call->load_only);
  const v1::GenerateRequest& r = call->request;
  EXPECT_EQ(r.model(), "mistral");
  ASSERT_TRUE(r.has_chat());
  ASSERT_EQ(r.chat().messages_size(), 1);
  EXPECT_EQ(r.chat().messages(0).role(), "user");
  EXPECT_EQ(r.chat().messages(0).content(), "What is edge AI?");
  // api.DefaultOptions(): temperature 0.8, top_k 40, top_p 0.9, repeat_penalty 1.1,
  // repeat_last_n 64; num_predict -1 (no limit).
  EXPECT_FLOAT_EQ(r.sampling().temperature(), 0.8f);
  EXPECT_EQ(r.sampling().top_k(), 40);
  EXPECT_FLOAT_EQ(r.sampling().top_p(), 0.9f);
  EXPECT_FLOAT_EQ(r.sampling().repetition_penalty(), 1.1f);
  EXPECT_EQ(r.sampling().penalty_last_n(), 64);
  EXPECT_FALSE(r.stop().has_max_tokens());
  EXPECT_FALSE(r.sampling().has_seed());
}

TEST(OllamaApiTest, StreamDefaultsToTrueAndSystemComesFirst) {
  auto call = ParseOllamaGenerate(Parse(R"({"model": "m", "prompt": "hi", "system": "be brief"})"));
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_TRUE(call->stream);
  ASSERT_EQ(call->request.chat().messages_size(), 2);
  EXPECT_EQ(call->request.chat().messages(0).role(), "system");
  EXPECT_EQ(call->request.chat().messages(0).content(), "be brief");
}

TEST(OllamaApiTest, RawSendsThePromptVerbatim) {
  auto call = ParseOllamaGenerate(Parse(R"({"model": "m", "prompt": "[INST] x", "raw": true})"));
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->request.prompt(), "[INST] x");
}

TEST(OllamaApiTest, EmptyPromptOnlyLoads) {
  auto call = ParseOllamaGenerate(Parse(R"({"model": "m"})"));
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_TRUE(call->load_only);
  const Json load = OllamaLoadResponse("m", false, absl::UnixEpoch());
  EXPECT_EQ(load["done"], true);
  EXPECT_EQ(load["done_reason"], "load");
  EXPECT_EQ(load["response"], "");
}

TEST(OllamaApiTest, OptionsMapToSampling) {
  auto call = ParseOllamaGenerate(Parse(R"({"model": "m", "prompt": "p", "options": {
      "temperature": 0, "top_k": 0, "top_p": 0.5, "min_p": 0.05, "typical_p": 0.7,
      "repeat_penalty": 1.3, "repeat_last_n": -1, "presence_penalty": 0.5,
      "frequency_penalty": -0.5, "seed": 42, "num_predict": 12, "stop": ["\n", "END"],
      "num_ctx": 4096, "num_gpu": 99, "num_thread": 4, "some_future_option": 1}})"));
  ASSERT_TRUE(call.ok()) << call.status();
  const v1::GenerateRequest& r = call->request;
  EXPECT_FLOAT_EQ(r.sampling().temperature(), 0.0f);
  EXPECT_EQ(r.sampling().top_k(), 0);  // <= 0 disables
  EXPECT_FLOAT_EQ(r.sampling().top_p(), 0.5f);
  EXPECT_FLOAT_EQ(r.sampling().min_p(), 0.05f);
  EXPECT_FLOAT_EQ(r.sampling().typical_p(), 0.7f);
  EXPECT_FLOAT_EQ(r.sampling().repetition_penalty(), 1.3f);
  EXPECT_EQ(r.sampling().penalty_last_n(), -1);
  EXPECT_FLOAT_EQ(r.sampling().presence_penalty(), 0.5f);
  EXPECT_FLOAT_EQ(r.sampling().frequency_penalty(), -0.5f);
  EXPECT_EQ(r.sampling().seed(), 42u);
  EXPECT_EQ(r.stop().max_tokens(), 12);
  EXPECT_THAT(r.stop().stop(), ::testing::ElementsAre("\n", "END"));
}

TEST(OllamaApiTest, NegativeSeedAndNumPredictMeanRandomAndUnlimited) {
  auto call = ParseOllamaGenerate(
      Parse(R"({"model": "m", "prompt": "p", "options": {"seed": -1, "num_predict": -2}})"));
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_FALSE(call->request.sampling().has_seed());
  EXPECT_FALSE(call->request.stop().has_max_tokens());
}

TEST(OllamaApiTest, FormatJsonAndSchema) {
  auto json_mode = ParseOllamaGenerate(Parse(R"({"model": "m", "prompt": "p", "format": "json"})"));
  ASSERT_TRUE(json_mode.ok()) << json_mode.status();
  EXPECT_TRUE(json_mode->request.response_format().json_object());
  auto schema = ParseOllamaChat(Parse(
      R"({"model": "m", "messages": [{"role": "user", "content": "x"}],
          "format": {"type": "object", "properties": {"a": {"type": "integer"}}}})"));
  ASSERT_TRUE(schema.ok()) << schema.status();
  EXPECT_EQ(Json::parse(schema->request.response_format().json_schema()),
            Parse(R"({"type": "object", "properties": {"a": {"type": "integer"}}})"));
}

TEST(OllamaApiTest, BadFieldsNameTheField) {
  auto t = ParseOllamaGenerate(
      Parse(R"({"model": "m", "prompt": "p", "options": {"temperature": "hot"}})"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr("options.temperature: expected a number"));
  auto f = ParseOllamaGenerate(Parse(R"({"model": "m", "prompt": "p", "format": "yaml"})"));
  EXPECT_THAT(f.status().message(), HasSubstr("format:"));
  auto m = ParseOllamaGenerate(Parse(R"({"prompt": "p"})"));
  EXPECT_THAT(m.status().message(), HasSubstr("model: required"));
  auto mi =
      ParseOllamaGenerate(Parse(R"({"model": "m", "prompt": "p", "options": {"mirostat": 2}})"));
  EXPECT_THAT(mi.status().message(), HasSubstr("options.mirostat"));
  auto img = ParseOllamaChat(Parse(
      R"({"model": "m", "messages": [{"role": "user", "content": "x", "images": ["AAAA"]}]})"));
  EXPECT_THAT(img.status().message(), HasSubstr("messages[0].images"));
}

TEST(OllamaApiTest, ChatMessagesToolsAndToolCalls) {
  auto call = ParseOllamaChat(Parse(R"({"model": "m", "think": false, "messages": [
      {"role": "user", "content": "weather in Paris?"},
      {"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "content": "22C", "tool_name": "get_weather"}],
      "tools": [{"type": "function", "function": {"name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]})"));
  ASSERT_TRUE(call.ok()) << call.status();
  const v1::Chat& chat = call->request.chat();
  ASSERT_EQ(chat.messages_size(), 3);
  ASSERT_EQ(chat.messages(1).tool_calls_size(), 1);
  EXPECT_EQ(chat.messages(1).tool_calls(0).name(), "get_weather");
  EXPECT_EQ(Json::parse(chat.messages(1).tool_calls(0).arguments_json()),
            Parse(R"({"city": "Paris"})"));
  EXPECT_EQ(chat.messages(2).name(), "get_weather");
  ASSERT_EQ(chat.tools_size(), 1);
  EXPECT_EQ(chat.tools(0).description(), "Weather of a city");
  EXPECT_EQ(Json::parse(chat.template_kwargs_json()), Parse(R"({"enable_thinking": false})"));
}

v1::GenerateResponse Delta(const std::string& text) {
  v1::GenerateResponse m;
  m.set_text(text);
  return m;
}

TEST(OllamaApiTest, StreamingLinesThenDoneWithCountsInNanoseconds) {
  auto f = NewOllamaFormatter(/*chat=*/false, /*stream=*/true, "m");
  EXPECT_STREQ(f->content_type(), "application/x-ndjson");
  const std::string a = f->OnMessage(Delta("Hel"));
  ASSERT_EQ(a.back(), '\n');
  const Json la = Json::parse(a);
  EXPECT_EQ(la["response"], "Hel");
  EXPECT_EQ(la["done"], false);
  EXPECT_EQ(la["model"], "m");
  v1::GenerateResponse last = Delta("lo");
  last.set_finish_reason(v1::FINISH_REASON_LENGTH);
  last.mutable_usage()->set_prompt_tokens(5);
  last.mutable_usage()->set_completion_tokens(2);
  last.mutable_usage()->set_queue_time_ms(1);
  last.mutable_usage()->set_time_to_first_token_ms(3);
  last.mutable_usage()->set_total_time_ms(10);
  EXPECT_EQ(Json::parse(f->OnMessage(last))["response"], "lo");
  const Json done = Json::parse(f->Finish());
  EXPECT_EQ(done["done"], true);
  EXPECT_EQ(done["done_reason"], "length");
  EXPECT_EQ(done["response"], "");
  EXPECT_EQ(done["prompt_eval_count"], 5);
  EXPECT_EQ(done["eval_count"], 2);
  EXPECT_EQ(done["total_duration"], 10000000);
  EXPECT_EQ(done["prompt_eval_duration"], 2000000);  // ttft - queue
  EXPECT_EQ(done["eval_duration"], 7000000);         // total - ttft
}

TEST(OllamaApiTest, NonStreamingChatCollectsMessageAndToolCalls) {
  auto f = NewOllamaFormatter(/*chat=*/true, /*stream=*/false, "m");
  EXPECT_STREQ(f->content_type(), "application/json");
  EXPECT_EQ(f->OnMessage(Delta("a")), "");
  v1::GenerateResponse last = Delta("b");
  v1::ToolCall* call = last.add_tool_calls();
  call->set_name("f");
  call->set_arguments_json(R"({"x": 1})");
  last.set_finish_reason(v1::FINISH_REASON_TOOL_CALLS);
  EXPECT_EQ(f->OnMessage(last), "");
  const Json out = Json::parse(f->Finish());
  EXPECT_EQ(out["message"]["role"], "assistant");
  EXPECT_EQ(out["message"]["content"], "ab");
  EXPECT_EQ(out["message"]["tool_calls"][0]["function"]["name"], "f");
  EXPECT_EQ(out["message"]["tool_calls"][0]["function"]["arguments"], Parse(R"({"x": 1})"));
  EXPECT_EQ(out["done"], true);
}

TEST(OllamaApiTest, EmbedNormalizesLegacyEmbeddingsDoesNot) {
  auto e =
      ParseOllamaEmbed(Parse(R"({"model": "m", "input": ["a", "b"], "truncate": false})"), false);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(e->inputs(), ::testing::ElementsAre("a", "b"));
  EXPECT_TRUE(e->normalize());
  EXPECT_EQ(e->truncation(), v1::TRUNCATION_NONE);
  auto legacy = ParseOllamaEmbed(Parse(R"({"model": "m", "prompt": "a"})"), true);
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  EXPECT_FALSE(legacy->normalize());
  v1::EmbedResponse response;
  auto* emb = response.add_embeddings();
  emb->add_values(0.1f);
  emb->add_values(-2.5f);
  response.mutable_usage()->set_prompt_tokens(3);
  const Json out = OllamaEmbedResponse("m", response, false);
  // Shortest decimal of each float, not its double expansion.
  EXPECT_EQ(out["embeddings"].dump(), "[[0.1,-2.5]]");
  EXPECT_EQ(out["prompt_eval_count"], 3);
  EXPECT_EQ(OllamaEmbedResponse("m", response, true)["embedding"].dump(), "[0.1,-2.5]");
}

TEST(OllamaApiTest, TagsAndShowDescribeTheModel) {
  v1::ListModelsResponse list;
  v1::ModelInfo* info = list.add_models();
  info->set_name("smollm2");
  info->set_architecture("llama");
  info->set_format("gguf");
  info->set_quantization("Q4_1");
  info->set_parameter_count(134515008);
  info->set_context_length(8192);
  info->set_embedding_dimensions(576);
  info->add_tasks(v1::MODEL_TASK_GENERATE);
  info->set_ready_replicas(1);
  const Json tags = OllamaTags(list);
  EXPECT_EQ(tags["models"][0]["name"], "smollm2");
  EXPECT_EQ(tags["models"][0]["details"]["family"], "llama");
  EXPECT_EQ(tags["models"][0]["details"]["parameter_size"], "134.52M");
  EXPECT_EQ(tags["models"][0]["details"]["quantization_level"], "Q4_1");
  EXPECT_EQ(OllamaPs(list)["models"].size(), 1u);
  info->set_ready_replicas(0);
  EXPECT_EQ(OllamaPs(list)["models"].size(), 0u);
  const Json show = OllamaShow(*info);
  EXPECT_EQ(show["model_info"]["llama.context_length"], 8192);
  EXPECT_EQ(show["model_info"]["llama.embedding_length"], 576);
  EXPECT_EQ(show["capabilities"], Parse(R"(["completion"])"));
}

}  // namespace
}  // namespace jetserve::gateway::http
