// API keys for the gateway's front-ends (gRPC here, HTTP in gateway/http/): who is
// calling, may they use this model, and are they within their rate and concurrency
// limits. Keys come from a JSON key file (AuthConfig.keys_file, format: ApiKeyFile in
// proto/jetserve/config/v1/gateway_config.proto) and/or an environment variable
// (AuthConfig.keys_env, "name:secret,name2:secret2"). Secrets are kept only as SHA-256
// digests and never logged; errors and metrics name the key's *name*.
//
//   auto auth = Authenticator::Create(config.auth(), {.registry = &registry});
//   absl::StatusOr<KeyIdentity> who = (*auth)->Authenticate(
//       {.authorization = "Bearer s3cr3t...", .x_api_key = ""});   // UNAUTHENTICATED
//   absl::StatusOr<Admission> admitted = (*auth)->Admit(*who, "smollm2");
//       // PERMISSION_DENIED (model not allowed) / RESOURCE_EXHAUSTED (rate, concurrency)
//   ... run the call ...
//   admitted->RecordUsage(prompt_tokens, generated_tokens);  // metrics + token bucket
//   // the Admission's destructor frees the key's concurrency slot
//
// With no keys configured (enabled() false) every call is anonymous: Authenticate returns
// an anonymous identity, Admit admits it and counts nothing. Admin API callers check
// CheckAdmin(identity) (PERMISSION_DENIED unless the key has "admin": true; anonymous
// callers pass only while auth is off).
//
// Metrics (labels are key names from the configuration, never secrets):
//   jetserve_gateway_key_requests_total{key}          admitted calls
//   jetserve_gateway_key_rejected_total{key,reason}   reason: model, requests, tokens,
//                                                     concurrency
//   jetserve_gateway_key_prompt_tokens_total{key}     from the calls' usage
//   jetserve_gateway_key_generated_tokens_total{key}
//   jetserve_gateway_key_streams{key}                 calls in flight (gauge)
//   jetserve_gateway_auth_failures_total              missing/unknown keys
#ifndef JETSERVE_GATEWAY_AUTH_H_
#define JETSERVE_GATEWAY_AUTH_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "jetserve/config/v1/gateway_config.pb.h"
#include "prometheus/registry.h"

namespace jetserve::gateway {

struct KeyState;  // per-key buckets, counters and limits (auth.cc)
struct KeySet;    // the loaded keys (auth.cc)

// The credentials of one call as its headers carry them; empty when absent.
struct AuthHeaders {
  absl::string_view authorization;  // "Bearer <key>"
  absl::string_view x_api_key;      // "<key>"
};

// The headers of a gRPC call (views into its metadata, valid while the call lives).
AuthHeaders GrpcAuthHeaders(const grpc::CallbackServerContext& context);

// Who a call belongs to. Cheap to copy.
class KeyIdentity {
 public:
  KeyIdentity() = default;  // anonymous
  // The key's name; "" for anonymous calls (auth off).
  const std::string& name() const;
  bool anonymous() const { return state_ == nullptr; }
  bool admin() const;

 private:
  friend class Authenticator;
  explicit KeyIdentity(std::shared_ptr<KeyState> state) : state_(std::move(state)) {}
  std::shared_ptr<KeyState> state_;
};

// An admitted call: holds one of its key's concurrency slots until destroyed. Move-only.
class Admission {
 public:
  Admission() = default;
  Admission(Admission&& other) noexcept { *this = std::move(other); }
  Admission& operator=(Admission&& other) noexcept;
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission() { Release(); }

  // Counts the call's tokens (usage metrics, the key's token bucket). Call once, when the
  // usage is known; thread-safe.
  void RecordUsage(int64_t prompt_tokens, int64_t generated_tokens);
  // Frees the concurrency slot now (also done by the destructor).
  void Release();

 private:
  friend class Authenticator;
  explicit Admission(std::shared_ptr<KeyState> state) : state_(std::move(state)) {}
  std::shared_ptr<KeyState> state_;
};

struct AuthOptions {
  // Where the per-key metrics go; null: none.
  prometheus::Registry* registry = nullptr;
  // Clock of the rate limits (tests pass a fake one). Default absl::Now.
  std::function<absl::Time()> now;
  // Environment lookup for keys_env. Default getenv.
  std::function<std::optional<std::string>(const std::string&)> getenv;
};

class Authenticator {
 public:
  // Loads the keys of `config` (file and/or environment). Errors name the file, the key's
  // index or name and the field, never a secret.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(
      const jetserve::config::v1::AuthConfig& config, AuthOptions options);
  ~Authenticator();

  // Whether any key is configured.
  bool enabled() const;

  // UNAUTHENTICATED for a missing, malformed or unknown key (auth enabled); the
  // anonymous identity while auth is off.
  absl::StatusOr<KeyIdentity> Authenticate(const AuthHeaders& headers) const;

  // Checks the model allow-list (PERMISSION_DENIED), then the request rate, token rate and
  // concurrency limits (RESOURCE_EXHAUSTED, with the retry time for rates). An empty
  // `model` skips the allow-list (ListModels, GetModel: names only).
  absl::StatusOr<Admission> Admit(const KeyIdentity& key, absl::string_view model) const;

  // PERMISSION_DENIED unless `key` is an admin key (or auth is off).
  absl::Status CheckAdmin(const KeyIdentity& key) const;

  // Re-reads the keys (SIGHUP / admin reload). On error the old keys stay. Keys that keep
  // their name keep their buckets, in-flight calls and counters.
  absl::Status Reload(const jetserve::config::v1::AuthConfig& config);

  // Number of loaded keys.
  int size() const;

 private:
  explicit Authenticator(AuthOptions options);
  absl::StatusOr<std::shared_ptr<const KeySet>> Load(
      const jetserve::config::v1::AuthConfig& config) const;
  std::shared_ptr<const KeySet> keys() const;

  AuthOptions options_;
  struct Metrics;
  std::unique_ptr<Metrics> metrics_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const KeySet> keys_ ABSL_GUARDED_BY(mu_);
};

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_AUTH_H_
