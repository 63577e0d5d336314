// A gRPC call whose request goes out as given bytes, through a generic stub: for requests
// a typed client would not send (invalid UTF-8 in proto3 strings, broken wire format).
// Used by the gateway's and the worker's service tests.
//
//   RawCallResult r = RawCall(channel, "/jetserve.worker.v1.Worker/Embed", bytes);
//   EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
#ifndef JETSERVE_TESTS_SERVICE_RAW_CALL_H_
#define JETSERVE_TESTS_SERVICE_RAW_CALL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"

namespace jetserve::testing {

// A call whose request goes out as the given bytes (a generic stub: no client-side
// serialization or UTF-8 check), for requests a typed client would not send. `method` is
// the full path ("/jetserve.v1.Jetserve/Embed"); unary and server-streaming methods alike.
struct RawCallResult {
  grpc::Status status;
  int messages = 0;  // response messages received
};
RawCallResult RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                      const std::string& request_bytes,
                      const std::vector<std::pair<std::string, std::string>>& metadata = {});

}  // namespace jetserve::testing

#endif  // JETSERVE_TESTS_SERVICE_RAW_CALL_H_
