#include "gateway/config.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"

namespace jetserve::gateway {
namespace {

using ::jetserve::config::v1::Limits;
using ::jetserve::config::v1::ModelConfig;
using ::jetserve::config::v1::Supervision;

constexpr int kMaxReplicas = 64;
constexpr int kMinRequestBytes = 1 << 10;
constexpr int kMaxRequestBytes = 64 << 20;
// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
constexpr size_t kMaxUnixPath = 107;

absl::Status FieldError(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

bool ValidModelName(absl::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != ':' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

bool ValidDevice(absl::string_view device) {
  if (device == "cpu") return true;
  if (!absl::ConsumePrefix(&device, "cuda:")) return false;
  int index = 0;
  return !device.empty() && absl::SimpleAtoi(device, &index) && index >= 0 && index < 1024;
}

// Sets `d` to `def` when unset; checks it lies in [lo, hi].
absl::Status DurationField(absl::string_view field, absl::Duration def, absl::Duration lo,
                           absl::Duration hi, bool has, google::protobuf::Duration* d) {
  if (!has) {
    d->set_seconds(absl::ToInt64Seconds(def));
    d->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(def - absl::Seconds(absl::ToInt64Seconds(def)))));
    return absl::OkStatus();
  }
  if (d->nanos() < -999999999 || d->nanos() > 999999999 || (d->seconds() > 0 && d->nanos() < 0) ||
      (d->seconds() < 0 && d->nanos() > 0)) {
    return FieldError(field, "malformed duration");
  }
  absl::Duration v = ToAbslDuration(*d);
  if (v < lo || v > hi) {
    return FieldError(field,
                      absl::StrCat("must be in [", absl::FormatDuration(lo), ", ",
                                   absl::FormatDuration(hi), "], got ", absl::FormatDuration(v)));
  }
  return absl::OkStatus();
}

absl::Status CheckHostPort(absl::string_view field, absl::string_view address,
                           bool allow_port_zero) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, &host, &port) || host.empty() || (!allow_port_zero && port == 0)) {
    return FieldError(field, absl::StrCat("expected \"host:port\"",
                                          allow_port_zero ? "" : " with port in [1, 65535]",
                                          ", got \"", address, "\""));
  }
  return absl::OkStatus();
}

absl::Status CheckEndpoint(absl::string_view field, absl::string_view address,
                           bool allow_port_zero) {
  if (absl::StartsWith(address, "unix:")) {
    absl::string_view path = address.substr(5);
    if (path.empty() || path.size() > kMaxUnixPath) {
      return FieldError(field, absl::StrCat("unix socket path must have 1 to ", kMaxUnixPath,
                                            " characters, got ", path.size()));
    }
    return absl::OkStatus();
  }
  return CheckHostPort(field, address, allow_port_zero);
}

absl::Status ValidateSupervision(Supervision* s) {
  const absl::Duration kDay = absl::Hours(24);
  const absl::Duration kMs = absl::Milliseconds(1);
  absl::Status st;
  // has_x() must be read before mutable_x() creates the field.
#define JETSERVE_DURATION(name, def, lo, hi)                                         \
  {                                                                                  \
    const bool has = s->has_##name();                                                \
    st = DurationField("supervision." #name, def, lo, hi, has, s->mutable_##name()); \
    if (!st.ok()) return st;                                                         \
  }
  JETSERVE_DURATION(health_interval, absl::Seconds(2), 10 * kMs, absl::Hours(1));
  JETSERVE_DURATION(startup_timeout, absl::Seconds(300), 10 * kMs, kDay);
  JETSERVE_DURATION(backoff_initial, absl::Milliseconds(500), kMs, absl::Hours(1));
  JETSERVE_DURATION(backoff_max, absl::Seconds(60), kMs, kDay);
  JETSERVE_DURATION(backoff_reset_after, absl::Seconds(30), kMs, kDay);
  JETSERVE_DURATION(drain_grace_period, absl::Seconds(30), absl::ZeroDuration(), kDay);
  JETSERVE_DURATION(kill_grace_period, absl::Seconds(5), absl::ZeroDuration(), kDay);
#undef JETSERVE_DURATION
  if (ToAbslDuration(s->backoff_max()) < ToAbslDuration(s->backoff_initial())) {
    return FieldError(
        "supervision.backoff_max",
        absl::StrCat("must be at least backoff_initial (",
                     absl::FormatDuration(ToAbslDuration(s->backoff_initial())), "), got ",
                     absl::FormatDuration(ToAbslDuration(s->backoff_max()))));
  }
  return absl::OkStatus();
}

absl::Status ValidateLimits(Limits* l) {
  if (l->max_request_bytes() == 0) l->set_max_request_bytes(4 << 20);
  if (l->max_request_bytes() < kMinRequestBytes || l->max_request_bytes() > kMaxRequestBytes) {
    return FieldError("limits.max_request_bytes",
                      absl::StrCat("must be in [", kMinRequestBytes, ", ", kMaxRequestBytes,
                                   "], got ", l->max_request_bytes()));
  }
  if (l->default_queue_limit() == 0) l->set_default_queue_limit(64);
  if (l->default_queue_limit() < 0 || l->default_queue_limit() > 1000000) {
    return FieldError("limits.default_queue_limit",
                      absl::StrCat("must be in [1, 1000000], got ", l->default_queue_limit()));
  }
  if (l->has_max_tokens() && l->max_tokens() < 1) {
    return FieldError("limits.max_tokens", absl::StrCat("must be positive, got ", l->max_tokens()));
  }
  // Request-shape limits: 0 takes the default; each bounded by what the worker accepts.
  struct IntLimit {
    const char* field;
    int32_t (Limits::*get)() const;
    void (Limits::*set)(int32_t);
    int32_t def, lo, hi;
  };
  const IntLimit int_limits[] = {
      {"max_prompt_bytes", &Limits::max_prompt_bytes, &Limits::set_max_prompt_bytes, 1 << 20, 1,
       l->max_request_bytes()},
      {"max_inputs", &Limits::max_inputs, &Limits::set_max_inputs, 256, 1, 4096},
      {"max_documents", &Limits::max_documents, &Limits::set_max_documents, 1024, 1, 16384},
      {"max_candidate_labels", &Limits::max_candidate_labels, &Limits::set_max_candidate_labels, 64,
       1, 1024},
      {"max_stop_sequences", &Limits::max_stop_sequences, &Limits::set_max_stop_sequences, 16, 1,
       16},
      {"max_stop_bytes", &Limits::max_stop_bytes, &Limits::set_max_stop_bytes, 256, 1, 256},
      {"max_choices", &Limits::max_choices, &Limits::set_max_choices, 16, 1, 16},
  };
  for (const IntLimit& f : int_limits) {
    if ((l->*f.get)() == 0) (l->*f.set)(std::min(f.def, f.hi));
    const int32_t v = (l->*f.get)();
    if (v < f.lo || v > f.hi) {
      return FieldError(absl::StrCat("limits.", f.field),
                        absl::StrCat("must be in [", f.lo, ", ", f.hi, "], got ", v));
    }
  }
  if (!l->has_max_top_logprobs()) l->set_max_top_logprobs(20);
  if (l->max_top_logprobs() < 0 || l->max_top_logprobs() > 20) {
    return FieldError("limits.max_top_logprobs",
                      absl::StrCat("must be in [0, 20], got ", l->max_top_logprobs()));
  }
  if (l->has_default_deadline()) {
    absl::Status st =
        DurationField("limits.default_deadline", absl::ZeroDuration(), absl::Milliseconds(1),
                      absl::Hours(24), true, l->mutable_default_deadline());
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

// File paths only; the files are read when the gateway starts (gateway/tls.h, auth.h).
absl::Status ValidateSecurity(GatewayConfig* config) {
  const GatewayConfig& c = *config;
  if (c.has_tls()) {
    if (c.tls().cert_file().empty()) return FieldError("tls.cert_file", "required");
    if (c.tls().key_file().empty()) return FieldError("tls.key_file", "required");
    if (absl::StartsWith(c.listen(), "unix:")) {
      return FieldError("tls", "not supported on a Unix socket listen address");
    }
    const bool has = c.tls().has_reload_interval();
    absl::Status st =
        DurationField("tls.reload_interval", absl::Seconds(60), absl::Seconds(1), absl::Hours(24),
                      has, config->mutable_tls()->mutable_reload_interval());
    if (!st.ok()) return st;
  }
  if (c.has_worker_tls()) {
    if (c.worker_tls().ca_file().empty()) return FieldError("worker_tls.ca_file", "required");
    if (c.worker_tls().cert_file().empty() != c.worker_tls().key_file().empty()) {
      return FieldError("worker_tls", "set both cert_file and key_file, or neither");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateModel(const std::string& f, const Limits& limits,
                           const std::string& runtime_dir, ModelConfig* m) {
  if (!ValidModelName(m->name())) {
    return FieldError(
        f + ".name",
        absl::StrCat("must be 1-128 characters of [A-Za-z0-9_.:-], got \"", m->name(), "\""));
  }
  if (m->device().empty()) m->set_device("cpu");
  if (!ValidDevice(m->device())) {
    return FieldError(f + ".device",
                      absl::StrCat("must be \"cpu\" or \"cuda:N\", got \"", m->device(), "\""));
  }
  if (!m->has_queue_limit()) m->set_queue_limit(limits.default_queue_limit());
  if (m->queue_limit() < 0 || m->queue_limit() > 1000000) {
    return FieldError(f + ".queue_limit",
                      absl::StrCat("must be in [0, 1000000], got ", m->queue_limit()));
  }
  if (m->has_max_in_flight_per_worker() &&
      (m->max_in_flight_per_worker() < 1 || m->max_in_flight_per_worker() > 1000000)) {
    return FieldError(f + ".max_in_flight_per_worker",
                      absl::StrCat("must be in [1, 1000000], got ", m->max_in_flight_per_worker()));
  }
  if (m->has_keep_alive()) {
    if (!m->has_local()) return FieldError(f + ".keep_alive", "only for local replicas");
    absl::Status st = DurationField(f + ".keep_alive", absl::ZeroDuration(), absl::ZeroDuration(),
                                    absl::Hours(24 * 30), true, m->mutable_keep_alive());
    if (!st.ok()) return st;
  }
  switch (m->placement_case()) {
    case ModelConfig::kLocal: {
      auto* local = m->mutable_local();
      if (m->path().empty()) return FieldError(f + ".path", "required for local replicas");
      if (local->replicas() == 0) local->set_replicas(1);
      if (local->replicas() < 1 || local->replicas() > kMaxReplicas) {
        return FieldError(f + ".local.replicas", absl::StrCat("must be in [1, ", kMaxReplicas,
                                                              "], got ", local->replicas()));
      }
      for (int i = 0; i < local->args_size(); ++i) {
        if (local->args(i).find('\0') != std::string::npos) {
          return FieldError(absl::StrCat(f, ".local.args[", i, "]"), "contains a NUL byte");
        }
      }
      for (const auto& [key, value] : local->env()) {
        if (key.empty() || key.find('=') != std::string::npos ||
            key.find('\0') != std::string::npos || value.find('\0') != std::string::npos) {
          return FieldError(absl::StrCat(f, ".local.env[\"", key, "\"]"),
                            "names must be non-empty without '=' or NUL");
        }
      }
      if (!local->metrics_listen().empty()) {
        std::string host;
        int port = 0;
        const std::string field = f + ".local.metrics_listen";
        absl::Status st = CheckHostPort(field, local->metrics_listen(), true);
        if (!st.ok()) return st;
        SplitHostPort(local->metrics_listen(), &host, &port);
        if (port > 0 && port + local->replicas() - 1 > 65535) {
          return FieldError(field, absl::StrCat("ports ", port, "..", port + local->replicas() - 1,
                                                " exceed 65535"));
        }
      }
      // The longest socket path the gateway will create must fit in sockaddr_un.
      if (!runtime_dir.empty()) {
        // "<runtime_dir>/<name>-<replica>.b.sock" (".b": every other reload generation).
        size_t longest = runtime_dir.size() + 1 + m->name().size() + 1 +
                         std::to_string(local->replicas() - 1).size() + 7;
        if (longest > kMaxUnixPath) {
          return FieldError(f + ".name",
                            absl::StrCat("socket path under runtime_dir would have ", longest,
                                         " characters; the limit is ", kMaxUnixPath));
        }
      }
      return absl::OkStatus();
    }
    case ModelConfig::kRemote: {
      auto* remote = m->mutable_remote();
      const bool has_dns = !remote->dns_name().empty();
      if (remote->addresses_size() == 0 && !has_dns) {
        return FieldError(f + ".remote", "set addresses or dns_name");
      }
      if (remote->addresses_size() > 0 && has_dns) {
        return FieldError(f + ".remote", "set addresses or dns_name, not both");
      }
      std::set<std::string> seen;
      for (int i = 0; i < remote->addresses_size(); ++i) {
        std::string field = absl::StrCat(f, ".remote.addresses[", i, "]");
        absl::Status st = CheckEndpoint(field, remote->addresses(i), false);
        if (!st.ok()) return st;
        if (!seen.insert(remote->addresses(i)).second) {
          return FieldError(field,
                            absl::StrCat("duplicate address \"", remote->addresses(i), "\""));
        }
      }
      if (has_dns) {
        absl::Status st = CheckHostPort(f + ".remote.dns_name", remote->dns_name(), false);
        if (!st.ok()) return st;
      }
      const bool has_interval = remote->has_resolve_interval();
      return DurationField(f + ".remote.resolve_interval", absl::Seconds(10), absl::Seconds(1),
                           absl::Hours(1), has_interval, remote->mutable_resolve_interval());
    }
    case ModelConfig::PLACEMENT_NOT_SET:
      break;
  }
  return FieldError(f, "set one of local or remote");
}

}  // namespace

absl::Duration ToAbslDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

bool SplitHostPort(absl::string_view address, std::string* host, int* port) {
  size_t colon;
  if (absl::StartsWith(address, "[")) {
    size_t close = address.find(']');
    if (close == absl::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return false;
    }
    *host = std::string(address.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = address.rfind(':');
    if (colon == absl::string_view::npos) return false;
    *host = std::string(address.substr(0, colon));
    if (host->find(':') != std::string::npos) return false;
  }
  absl::string_view port_text = address.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5) return false;
  for (char c : port_text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  int value = 0;
  if (!absl::SimpleAtoi(port_text, &value) || value > 65535) return false;
  *port = value;
  return true;
}

absl::Status ValidateGatewayConfig(const ConfigOptions& options, GatewayConfig* config) {
  if (config->listen().empty()) config->set_listen("0.0.0.0:50051");
  absl::Status st = CheckEndpoint("listen", config->listen(), true);
  if (!st.ok()) return st;
  if (!config->http_listen().empty()) {
    st = CheckHostPort("http_listen", config->http_listen(), true);
    if (!st.ok()) return st;
  }
  if (config->http_tls() && !config->has_tls()) {
    return FieldError("http_tls", "needs tls (the certificate the HTTP API serves)");
  }
  if (!config->metrics_listen().empty()) {
    st = CheckHostPort("metrics_listen", config->metrics_listen(), true);
    if (!st.ok()) return st;
  }
  if (config->worker_binary().empty()) {
    config->set_worker_binary(options.executable_dir.empty()
                                  ? std::string("jetserve-worker")
                                  : options.executable_dir + "/jetserve-worker");
  }
  if (!config->runtime_dir().empty() && config->runtime_dir()[0] != '/') {
    return FieldError("runtime_dir", absl::StrCat("must be an absolute path, got \"",
                                                  config->runtime_dir(), "\""));
  }
  st = ValidateSupervision(config->mutable_supervision());
  if (!st.ok()) return st;
  st = ValidateLimits(config->mutable_limits());
  if (!st.ok()) return st;
  st = ValidateSecurity(config);
  if (!st.ok()) return st;
  if (config->models_size() == 0) return FieldError("models", "at least one model is required");
  std::set<std::string> names;
  for (int i = 0; i < config->models_size(); ++i) {
    std::string field = absl::StrCat("models[", i, "]");
    st = ValidateModel(field, config->limits(), config->runtime_dir(), config->mutable_models(i));
    if (!st.ok()) return st;
    if (!names.insert(config->models(i).name()).second) {
      return FieldError(field + ".name",
                        absl::StrCat("duplicate model name \"", config->models(i).name(), "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<GatewayConfig> ParseGatewayConfig(absl::string_view json,
                                                 const ConfigOptions& options) {
  GatewayConfig config;
  google::protobuf::util::JsonParseOptions parse_options;
  parse_options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &config, parse_options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed config: ", std::string(parsed.message())));
  }
  absl::Status st = ValidateGatewayConfig(options, &config);
  if (!st.ok()) return st;
  return config;
}

absl::StatusOr<GatewayConfig> LoadGatewayConfig(const std::string& path,
                                                const ConfigOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open config file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  absl::StatusOr<GatewayConfig> config = ParseGatewayConfig(buffer.str(), options);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace jetserve::gateway
