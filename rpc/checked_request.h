// Request messages as jetserve's gRPC services (the gateway's public and admin services, the
// worker's service) receive them: the message, or why the received bytes are not one.
//
// gRPC 1.51's callback server answers a request that does not parse with UNIMPLEMENTED and
// no message, without calling the method's handler (CallbackUnaryHandler and
// CallbackServerStreamingHandler in grpcpp/impl/codegen/server_callback_handlers.h ignore
// the status SerializationTraits<T>::Deserialize returns). A proto3 string field holding
// invalid UTF-8 is such a request: protobuf refuses to parse it. Methods registered here
// take a CheckedRequest<M> instead of M: its deserializer always succeeds, and the handler
// gets either the message or an INVALID_ARGUMENT status naming the problem
// ("chat.messages[1].content: not valid UTF-8 (byte 4 of the string)"), which it answers
// like any other invalid request (the gateway: after authentication).
//
// (A specialization of SerializationTraits for the generated message types themselves
// would clash with the generic one that the generated code instantiates in other
// translation units: the same inline symbols with different bodies.)
//
//   class Service final : public CheckedService<jetserve::v1::Jetserve> {
//     Service() {
//       HandleUnary<v1::EmbedRequest, v1::EmbedResponse>(
//           "Embed", [](grpc::CallbackServerContext* c, const CheckedRequest<v1::EmbedRequest>* r,
//                       v1::EmbedResponse* out) { ...r->status, r->message... });
//     }
//   };
#ifndef JETSERVE_RPC_CHECKED_REQUEST_H_
#define JETSERVE_RPC_CHECKED_REQUEST_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"

namespace jetserve::rpc {

template <typename Message>
struct CheckedRequest {
  Message message;      // cleared when status is not OK
  absl::Status status;  // OK, or INVALID_ARGUMENT saying why the bytes are not a Message
};

// Why `bytes`, which protobuf failed to parse as a `type`, are not one: the first proto3
// string field with invalid UTF-8 (named by its path, "stop.stop[2]"), or where the wire
// format breaks ("chat.messages[0]: field 2 runs past the end of its message"). Always
// INVALID_ARGUMENT; a generic message when no specific problem is found.
absl::Status DescribeParseFailure(absl::string_view bytes,
                                  const google::protobuf::Descriptor& type);

// Decodes `bytes` as a Message into `out` (what the deserializer does, for tests and the
// fuzz target).
template <typename Message>
void DecodeRequest(absl::string_view bytes, CheckedRequest<Message>* out) {
  out->status = absl::OkStatus();
  bool parsed;
  {
    google::protobuf::LogSilencer quiet;  // see the deserializer below
    parsed = out->message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  }
  if (!parsed) {
    out->message.Clear();
    out->status = DescribeParseFailure(bytes, *Message::descriptor());
  }
}

// The index of `method` in the service `service` (full name), as the generated code numbers
// its methods (their order in the .proto file). Aborts when either is unknown: a
// programming error, found at start-up.
int MethodIndex(absl::string_view service, absl::string_view method);

// A generated service (Generated::Service) whose methods are registered as callback methods
// taking CheckedRequest<Request>. Methods not registered answer UNIMPLEMENTED.
template <typename Generated>
class CheckedService : public Generated::Service {
 protected:
  template <typename Request, typename Response>
  using UnaryHandler = std::function<grpc::ServerUnaryReactor*(
      grpc::CallbackServerContext*, const CheckedRequest<Request>*, Response*)>;
  template <typename Request, typename Response>
  using ServerStreamingHandler = std::function<grpc::ServerWriteReactor<Response>*(
      grpc::CallbackServerContext*, const CheckedRequest<Request>*)>;

  template <typename Request, typename Response>
  void HandleUnary(absl::string_view method, UnaryHandler<Request, Response> handler) {
    this->MarkMethodCallback(
        MethodIndex(Generated::service_full_name(), method),
        new grpc::internal::CallbackUnaryHandler<CheckedRequest<Request>, Response>(
            std::move(handler)));
  }
  template <typename Request, typename Response>
  void HandleServerStreaming(absl::string_view method,
                             ServerStreamingHandler<Request, Response> handler) {
    this->MarkMethodCallback(
        MethodIndex(Generated::service_full_name(), method),
        new grpc::internal::CallbackServerStreamingHandler<CheckedRequest<Request>, Response>(
            std::move(handler)));
  }
};

}  // namespace jetserve::rpc

namespace grpc {

// Deserialize never fails: a parse failure is recorded in the CheckedRequest.
template <typename Message>
class SerializationTraits<jetserve::rpc::CheckedRequest<Message>, void> {
 public:
  static Status Serialize(const jetserve::rpc::CheckedRequest<Message>& request, ByteBuffer* buffer,
                          bool* own_buffer) {
    return SerializationTraits<Message>::Serialize(request.message, buffer, own_buffer);
  }

  static Status Deserialize(ByteBuffer* buffer, jetserve::rpc::CheckedRequest<Message>* request) {
    request->status = absl::OkStatus();
    if (buffer == nullptr || !buffer->Valid()) {
      request->status = absl::InvalidArgumentError("request: no message received");
      return Status::OK;
    }
    // The slices are shared, not copied; kept to describe a failure (parsing consumes the
    // buffer).
    ByteBuffer kept(*buffer);
    Status parsed;
    {
      // protobuf logs an error line for each string that is not UTF-8; the answer to the
      // caller says it instead, and clients must not be able to flood the log. (This also
      // drops protobuf's log lines from other threads meanwhile; it logs nothing else on
      // the services' request paths.)
      google::protobuf::LogSilencer quiet;
      parsed = GenericDeserialize<ProtoBufferReader, Message>(buffer, &request->message);
    }
    if (!parsed.ok()) {
      request->message.Clear();
      Slice flat;
      std::string bytes;
      if (kept.DumpToSingleSlice(&flat).ok()) {
        bytes.assign(reinterpret_cast<const char*>(flat.begin()), flat.size());
      }
      request->status = jetserve::rpc::DescribeParseFailure(bytes, *Message::descriptor());
    }
    return Status::OK;
  }
};

}  // namespace grpc

#endif  // JETSERVE_RPC_CHECKED_REQUEST_H_
