// The gateway's Prometheus metrics. The registry is passed in (no globals); main() exposes
// it on metrics_listen with prometheus-cpp's Exposer, tests read it from the registry.
//
// Metrics (all labels are bounded: model names come from the config; calls naming an
// unknown model are counted under model="_unknown"):
//   jetserve_gateway_requests_total{model,method,code}        counter
//       Finished routed calls (Generate, Classify, Rerank, Embed, Tokenize, Detokenize;
//       not ListModels/GetModel), by gRPC status code name ("OK", "NOT_FOUND", ...).
//       method is the RPC name. Calls rejected before routing (bad model name, queue
//       full) count too.
//   jetserve_gateway_request_duration_seconds{model,method}   histogram
//       Time from the call's arrival to its final status, queueing included; every
//       finished call is observed once (buckets 1 ms .. 10 min).
//   jetserve_gateway_requests_in_flight{model}                 gauge
//       Calls forwarded to a worker and not yet finished (queued calls not included).
//   jetserve_gateway_queue_depth{model}                        gauge
//       Calls waiting in the model's queue for a free worker slot.
//   jetserve_gateway_workers_up{model}                         gauge
//       Workers of the model that are ready (health SERVING and capacity known).
//   jetserve_gateway_worker_restarts_total{model}              counter
//       Restarts of the model's local worker processes after they exited.
#ifndef JETSERVE_GATEWAY_METRICS_H_
#define JETSERVE_GATEWAY_METRICS_H_

#include <string>
#include <string_view>

#include "grpcpp/support/status.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace jetserve::gateway {

inline constexpr std::string_view kUnknownModelLabel = "_unknown";

// "OK", "CANCELLED", ... as in the gRPC documentation.
std::string_view GrpcCodeName(grpc::StatusCode code);

class GatewayMetrics {
 public:
  // `registry` must outlive this object.
  explicit GatewayMetrics(prometheus::Registry& registry);

  void RecordRequest(const std::string& model, const std::string& method, grpc::StatusCode code,
                     double duration_seconds);
  prometheus::Gauge& InFlight(const std::string& model);
  prometheus::Gauge& QueueDepth(const std::string& model);
  prometheus::Gauge& WorkersUp(const std::string& model);
  prometheus::Counter& Restarts(const std::string& model);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Gauge>& in_flight_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Family<prometheus::Gauge>& workers_up_;
  prometheus::Family<prometheus::Counter>& restarts_;
  const prometheus::Histogram::BucketBoundaries buckets_;
};

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_METRICS_H_
