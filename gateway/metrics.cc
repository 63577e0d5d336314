#include "gateway/metrics.h"

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"

namespace jetserve::gateway {

std::string_view GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

GatewayMetrics::GatewayMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("jetserve_gateway_requests_total")
                    .Help("Finished public calls by model, method and gRPC status code.")
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("jetserve_gateway_request_duration_seconds")
                    .Help("Public call latency from arrival to final status, queueing "
                          "included.")
                    .Register(registry)),
      in_flight_(prometheus::BuildGauge()
                     .Name("jetserve_gateway_requests_in_flight")
                     .Help("Calls forwarded to a worker and not yet finished.")
                     .Register(registry)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("jetserve_gateway_queue_depth")
                       .Help("Calls waiting for a free worker slot.")
                       .Register(registry)),
      workers_up_(prometheus::BuildGauge()
                      .Name("jetserve_gateway_workers_up")
                      .Help("Ready workers (health SERVING, capacity known).")
                      .Register(registry)),
      restarts_(prometheus::BuildCounter()
                    .Name("jetserve_gateway_worker_restarts_total")
                    .Help("Restarts of local worker processes after they exited.")
                    .Register(registry)),
      buckets_{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
               1,     2.5,    5,     10,   30,    60,   120, 300,  600} {}

void GatewayMetrics::RecordRequest(const std::string& model, const std::string& method,
                                   grpc::StatusCode code, double duration_seconds) {
  requests_.Add({{"model", model}, {"method", method}, {"code", std::string(GrpcCodeName(code))}})
      .Increment();
  duration_.Add({{"model", model}, {"method", method}}, buckets_).Observe(duration_seconds);
}

prometheus::Gauge& GatewayMetrics::InFlight(const std::string& model) {
  return in_flight_.Add({{"model", model}});
}
prometheus::Gauge& GatewayMetrics::QueueDepth(const std::string& model) {
  return queue_depth_.Add({{"model", model}});
}
prometheus::Gauge& GatewayMetrics::WorkersUp(const std::string& model) {
  return workers_up_.Add({{"model", model}});
}
prometheus::Counter& GatewayMetrics::Restarts(const std::string& model) {
  return restarts_.Add({{"model", model}});
}

}  // namespace jetserve::gateway
