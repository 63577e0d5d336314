// CheckedRequest decoding: protobuf itself is the oracle for what does not parse (every
// case below is first checked to fail ParseFromString); the description must name the
// field and the offending byte, which the test derives from how it built the bytes.
#include "rpc/checked_request.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "jetserve/v1/encode.pb.h"
#include "jetserve/v1/generate.pb.h"
#include "jetserve/v1/models.pb.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::rpc {
namespace {

namespace v1 = ::jetserve::v1;
using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Serializes `message`, then replaces the placeholder (which must occur once) with
// `bytes` of the same length: wire bytes the C++ serializer would not write.
template <typename Message>
std::string WithBytes(const Message& message, const std::string& placeholder,
                      const std::string& bytes) {
  std::string wire = message.SerializeAsString();
  EXPECT_EQ(placeholder.size(), bytes.size());
  const size_t at = wire.find(placeholder);
  EXPECT_NE(at, std::string::npos);
  EXPECT_EQ(wire.find(placeholder, at + 1), std::string::npos);
  wire.replace(at, placeholder.size(), bytes);
  return wire;
}

template <typename Message>
absl::Status Decode(const std::string& wire) {
  Message oracle;
  google::protobuf::LogSilencer quiet;  // protobuf logs each string that is not UTF-8
  EXPECT_FALSE(oracle.ParseFromString(wire)) << "protobuf parses it: not a failure case";
  CheckedRequest<Message> out;
  if constexpr (requires { out.message.set_model("stale"); }) out.message.set_model("stale");
  DecodeRequest(wire, &out);
  EXPECT_EQ(out.message.ByteSizeLong(), 0u) << "the message is cleared on failure";
  return out.status;
}

TEST(CheckedRequestTest, InvalidUtf8IsNamedByFieldPathAndByte) {
  {
    v1::GenerateRequest r;
    r.set_model("m");
    r.set_prompt("tokens=1 @@@@");
    // 0xFF never occurs in UTF-8.
    EXPECT_THAT(Decode<v1::GenerateRequest>(WithBytes(r, "@@@@", "\xff\xfe\xc3\x28")),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith("prompt: not valid UTF-8 (byte 9 of the string")));
  }
  {
    v1::GenerateRequest r;
    r.set_model("m");
    r.mutable_chat()->add_messages()->set_content("fine");
    r.mutable_chat()->add_messages()->set_content("ab@@@");
    // ED A0 80 would be U+D800, a surrogate.
    EXPECT_THAT(Decode<v1::GenerateRequest>(WithBytes(r, "@@@", "\xed\xa0\x80")),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith("chat.messages[1].content: not valid UTF-8 (byte 2 ")));
  }
  {
    v1::GenerateRequest r;
    r.set_model("m");
    auto* m = r.mutable_chat()->add_messages();
    m->set_role("assistant");
    m->add_tool_calls()->set_arguments_json("{}");
    m->add_tool_calls()->set_arguments_json("{\"a\": \"@@\"}");
    // C0 AF: an overlong '/'.
    EXPECT_THAT(
        Decode<v1::GenerateRequest>(WithBytes(r, "@@", "\xc0\xaf")),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 StartsWith("chat.messages[0].tool_calls[1].arguments_json: not valid UTF-8 "
                            "(byte 7 ")));
  }
  {
    v1::GenerateRequest r;
    r.set_model("m");
    r.set_prompt("p");
    for (const char* s : {"a", "b", "@@@@", "d"}) r.mutable_stop()->add_stop(s);
    // F4 90 80 80 would be U+110000, above the last code point.
    EXPECT_THAT(Decode<v1::GenerateRequest>(WithBytes(r, "@@@@", "\xf4\x90\x80\x80")),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith("stop.stop[2]: not valid UTF-8 (byte 0 ")));
  }
  {
    v1::EmbedRequest r;
    r.set_model("m");
    for (const char* s : {"a", "b", "c", "x@"}) r.add_inputs(s);
    // A continuation byte without a lead byte.
    EXPECT_THAT(Decode<v1::EmbedRequest>(WithBytes(r, "@", "\x80")),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith("inputs[3]: not valid UTF-8 (byte 1 ")));
  }
  {
    v1::ClassifyRequest r;
    r.set_model("m");
    auto* in = r.add_inputs();
    in->set_text("t");
    in->set_text_pair("p@@");
    EXPECT_THAT(Decode<v1::ClassifyRequest>(WithBytes(r, "@@", "\xe2\x82")),  // cut short
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith("inputs[0].text_pair: not valid UTF-8 (byte 1 ")));
  }
  {
    v1::RerankRequest r;
    r.set_model("m");
    r.set_query("q");
    for (const char* s : {"d0", "d1", "@"}) r.add_documents(s);
    EXPECT_THAT(Decode<v1::RerankRequest>(WithBytes(r, "@", "\xfe")),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith("documents[2]: not valid UTF-8 (byte 0 ")));
  }
  {
    v1::TokenizeRequest r;
    r.set_model("m@");
    r.set_text("t");
    EXPECT_THAT(Decode<v1::TokenizeRequest>(WithBytes(r, "m@", "m\xff")),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith("model: not valid UTF-8 (byte 1 ")));
  }
}

TEST(CheckedRequestTest, ValidTextAndUnknownFieldsPass) {
  v1::GenerateRequest r;
  r.set_model("m");
  r.set_prompt("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80");  // é, ✓, 😀
  std::string wire = r.SerializeAsString();
  // Field 1000, length-delimited, with bytes that are not UTF-8: unknown fields are kept
  // as bytes, so protobuf accepts them.
  wire += std::string("\xc2\x3e\x02\xff\xfe", 5);
  v1::GenerateRequest oracle;
  ASSERT_TRUE(oracle.ParseFromString(wire));
  CheckedRequest<v1::GenerateRequest> out;
  DecodeRequest(wire, &out);
  EXPECT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(out.message.prompt(), r.prompt());
}

TEST(CheckedRequestTest, BrokenWireFormatIsDescribed) {
  {
    v1::GenerateRequest r;
    r.set_model("m");
    r.set_prompt("hello");
    std::string wire = r.SerializeAsString();  // 0A 01 'm' 12 05 "hello"
    wire.pop_back();
    EXPECT_THAT(Decode<v1::GenerateRequest>(wire),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         "request: prompt (at byte 3) runs past the end of the message"));
  }
  EXPECT_THAT(
      Decode<v1::GenerateRequest>(std::string("\x0f", 1)),
      StatusIs(absl::StatusCode::kInvalidArgument, "request: invalid wire type 7 at byte 0"));
  EXPECT_THAT(
      Decode<v1::ListModelsRequest>(std::string("\x08\x01\x0c", 3)),
      StatusIs(absl::StatusCode::kInvalidArgument, "request: unexpected end-group tag at byte 2"));
  // token_ids (field 2) packed, its one varint cut short.
  EXPECT_THAT(Decode<v1::DetokenizeRequest>(std::string("\x12\x01\x80", 3)),
              StatusIs(absl::StatusCode::kInvalidArgument, "token_ids: malformed packed values"));
  // Inside chat (field 3): field 1 sent as a varint (a wire type protobuf keeps as an
  // unknown field) whose varint is cut short.
  {
    std::string wire = std::string("\x0a\x01m", 3);  // model "m"
    wire += std::string("\x1a\x02\x08\x80", 4);
    EXPECT_THAT(Decode<v1::GenerateRequest>(wire),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         "chat: field 1 (at byte 0) is malformed or runs past the end"));
  }
}

// Through gRPC's deserializer: always OK for gRPC, the problem in the CheckedRequest.
TEST(CheckedRequestTest, SerializationTraitsRecordTheFailure) {
  using Traits = grpc::SerializationTraits<CheckedRequest<v1::EmbedRequest>>;
  v1::EmbedRequest r;
  r.set_model("m");
  r.add_inputs("ok");
  r.add_inputs("@");
  const std::string wire = WithBytes(r, "@", "\xff");
  grpc::Slice slice(wire);
  grpc::ByteBuffer buffer(&slice, 1);
  CheckedRequest<v1::EmbedRequest> out;
  EXPECT_TRUE(Traits::Deserialize(&buffer, &out).ok());
  EXPECT_THAT(out.status, StatusIs(absl::StatusCode::kInvalidArgument,
                                   StartsWith("inputs[1]: not valid UTF-8 (byte 0 ")));

  r.set_inputs(1, "fine");
  grpc::Slice good_slice(r.SerializeAsString());
  grpc::ByteBuffer good(&good_slice, 1);
  EXPECT_TRUE(Traits::Deserialize(&good, &out).ok());
  EXPECT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(out.message.inputs(1), "fine");

  grpc::ByteBuffer empty;
  EXPECT_TRUE(Traits::Deserialize(&empty, &out).ok());
  EXPECT_THAT(out.status,
              StatusIs(absl::StatusCode::kInvalidArgument, "request: no message received"));
}

// Random damage to valid requests: decoding agrees with protobuf on what parses, every
// failure is INVALID_ARGUMENT "<where>: <what>", and a damaged string is always named.
TEST(CheckedRequestTest, AgreesWithProtobufOnDamagedRequests) {
  v1::GenerateRequest base;
  base.set_model("smollm2");
  auto* chat = base.mutable_chat();
  for (const char* text : {"You are terse.", "Name three colours.", "Red, green, blue."}) {
    auto* m = chat->add_messages();
    m->set_role("user");
    m->set_content(text);
  }
  base.mutable_sampling()->set_temperature(0.7f);
  base.mutable_sampling()->set_top_k(40);
  (*base.mutable_sampling()->mutable_logit_bias())[7] = -1.5f;
  base.mutable_stop()->add_stop("\n\n");
  base.mutable_stop()->add_stop_token_ids(2);
  base.mutable_stop()->set_max_tokens(64);
  const std::string wire = base.SerializeAsString();

  google::protobuf::LogSilencer quiet;
  std::mt19937 rng(20261207);
  int failures = 0, generic = 0, utf8 = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string damaged = wire;
    const int kind = std::uniform_int_distribution<int>(0, 2)(rng);
    if (kind == 0) {
      damaged.resize(std::uniform_int_distribution<size_t>(0, wire.size() - 1)(rng));
    } else {
      for (int k = std::uniform_int_distribution<int>(1, 3)(rng); k > 0; --k) {
        const size_t at = std::uniform_int_distribution<size_t>(0, wire.size() - 1)(rng);
        damaged[at] = static_cast<char>(kind == 1 ? 0x80 | (rng() & 0x7f) : rng() & 0xff);
      }
    }
    v1::GenerateRequest oracle;
    const bool parses = oracle.ParseFromString(damaged);
    CheckedRequest<v1::GenerateRequest> out;
    DecodeRequest(damaged, &out);
    ASSERT_EQ(out.status.ok(), parses) << out.status;
    if (parses) continue;
    ++failures;
    ASSERT_EQ(out.status.code(), absl::StatusCode::kInvalidArgument);
    ASSERT_NE(out.status.message().find(": "), absl::string_view::npos) << out.status;
    if (absl::StrContains(out.status.message(), "not valid UTF-8")) ++utf8;
    if (absl::StartsWith(out.status.message(), "request: not a valid")) ++generic;
  }
  // Bytes >= 0x80 dropped into text make most failures UTF-8 ones; the rest break the wire
  // format. The walker finds the cause of every failure protobuf reports.
  EXPECT_GT(failures, 5000);
  EXPECT_GT(utf8, 1000);
  EXPECT_EQ(generic, 0);
}

}  // namespace
}  // namespace jetserve::rpc
