#include "gateway/auth.h"

#include <openssl/evp.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"

namespace jetserve::gateway {

namespace cv1 = ::jetserve::config::v1;

namespace {

constexpr size_t kMinSecretBytes = 16;
constexpr size_t kMaxSecretBytes = 4096;
constexpr int kDefaultMaxStreams = 256;

bool ValidKeyName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

// Printable ASCII without spaces: what fits in an HTTP header and a Bearer token.
bool ValidSecret(absl::string_view secret) {
  if (secret.size() < kMinSecretBytes || secret.size() > kMaxSecretBytes) return false;
  for (char c : secret) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsHex64(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

struct Limits {
  int64_t requests_per_minute = 0;
  int64_t tokens_per_minute = 0;
  int64_t max_streams = kDefaultMaxStreams;
};

absl::Status ResolveLimits(const std::string& field, const cv1::KeyLimits& own,
                           const cv1::KeyLimits& defaults, Limits* out) {
  auto pick = [](bool has_own, int64_t own_value, bool has_default, int64_t default_value,
                 int64_t fallback) {
    return has_own ? own_value : (has_default ? default_value : fallback);
  };
  out->requests_per_minute =
      pick(own.has_requests_per_minute(), own.requests_per_minute(),
           defaults.has_requests_per_minute(), defaults.requests_per_minute(), 0);
  out->tokens_per_minute = pick(own.has_tokens_per_minute(), own.tokens_per_minute(),
                                defaults.has_tokens_per_minute(), defaults.tokens_per_minute(), 0);
  out->max_streams = pick(own.has_max_concurrent_streams(), own.max_concurrent_streams(),
                          defaults.has_max_concurrent_streams(), defaults.max_concurrent_streams(),
                          kDefaultMaxStreams);
  if (out->requests_per_minute < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".requests_per_minute: must be >= 0, got ", out->requests_per_minute));
  }
  if (out->tokens_per_minute < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".tokens_per_minute: must be >= 0, got ", out->tokens_per_minute));
  }
  if (out->max_streams < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".max_concurrent_streams: must be >= 0, got ", out->max_streams));
  }
  return absl::OkStatus();
}

// A bucket of `rate_per_minute` capacity refilled continuously; starts full.
struct TokenBucket {
  double level = 0;
  absl::Time last;

  void Refill(int64_t rate_per_minute, absl::Time now) {
    const double capacity = static_cast<double>(rate_per_minute);
    if (last == absl::Time()) {
      level = capacity;
    } else if (now > last) {
      level = std::min(capacity, level + capacity * absl::ToDoubleMinutes(now - last));
    }
    last = now;
  }
  // Time until the level reaches `want`.
  absl::Duration Wait(int64_t rate_per_minute, double want) const {
    if (level >= want || rate_per_minute <= 0) return absl::ZeroDuration();
    return absl::Minutes((want - level) / static_cast<double>(rate_per_minute));
  }
};

}  // namespace

struct KeyState {
  std::string name;

  absl::Mutex mu;
  bool admin ABSL_GUARDED_BY(mu) = false;
  absl::flat_hash_set<std::string> models ABSL_GUARDED_BY(mu);  // empty: all
  Limits limits ABSL_GUARDED_BY(mu);
  TokenBucket requests ABSL_GUARDED_BY(mu);
  TokenBucket tokens ABSL_GUARDED_BY(mu);
  int64_t in_flight ABSL_GUARDED_BY(mu) = 0;

  std::function<absl::Time()> now;
  // Null without a registry.
  prometheus::Counter* admitted = nullptr;
  prometheus::Counter* prompt_tokens = nullptr;
  prometheus::Counter* generated_tokens = nullptr;
  prometheus::Gauge* streams = nullptr;
  absl::flat_hash_map<std::string, prometheus::Counter*> rejected;  // by reason
};

struct KeySet {
  // SHA-256 digest (hex) → key.
  absl::flat_hash_map<std::string, std::shared_ptr<KeyState>> by_digest;
  absl::flat_hash_map<std::string, std::shared_ptr<KeyState>> by_name;
};

struct Authenticator::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : admitted(prometheus::BuildCounter()
                     .Name("jetserve_gateway_key_requests_total")
                     .Help("Calls admitted, by API key name.")
                     .Register(registry)),
        rejected(prometheus::BuildCounter()
                     .Name("jetserve_gateway_key_rejected_total")
                     .Help("Calls of a known API key refused (reason: model, requests, "
                           "tokens, concurrency).")
                     .Register(registry)),
        prompt_tokens(prometheus::BuildCounter()
                          .Name("jetserve_gateway_key_prompt_tokens_total")
                          .Help("Prompt tokens of finished calls, by API key name.")
                          .Register(registry)),
        generated_tokens(prometheus::BuildCounter()
                             .Name("jetserve_gateway_key_generated_tokens_total")
                             .Help("Generated tokens of finished calls, by API key name.")
                             .Register(registry)),
        streams(prometheus::BuildGauge()
                    .Name("jetserve_gateway_key_streams")
                    .Help("Calls in flight, by API key name.")
                    .Register(registry)),
        failures(prometheus::BuildCounter()
                     .Name("jetserve_gateway_auth_failures_total")
                     .Help("Calls refused for a missing, malformed or unknown API key.")
                     .Register(registry)
                     .Add({})) {}

  prometheus::Family<prometheus::Counter>& admitted;
  prometheus::Family<prometheus::Counter>& rejected;
  prometheus::Family<prometheus::Counter>& prompt_tokens;
  prometheus::Family<prometheus::Counter>& generated_tokens;
  prometheus::Family<prometheus::Gauge>& streams;
  prometheus::Counter& failures;
};

std::string Sha256Hex(absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) absl::StrAppendFormat(&out, "%02x", md[i]);
  return out;
}

AuthHeaders GrpcAuthHeaders(const grpc::CallbackServerContext& context) {
  AuthHeaders h;
  const auto& md = context.client_metadata();
  if (auto it = md.find("authorization"); it != md.end()) {
    h.authorization = absl::string_view(it->second.data(), it->second.size());
  }
  if (auto it = md.find("x-api-key"); it != md.end()) {
    h.x_api_key = absl::string_view(it->second.data(), it->second.size());
  }
  return h;
}

const std::string& KeyIdentity::name() const {
  static const std::string* const kAnonymous = new std::string();
  return state_ == nullptr ? *kAnonymous : state_->name;
}

bool KeyIdentity::admin() const {
  if (state_ == nullptr) return false;
  absl::MutexLock lock(&state_->mu);
  return state_->admin;
}

Admission& Admission::operator=(Admission&& other) noexcept {
  if (this != &other) {
    Release();
    state_ = std::move(other.state_);
    other.state_ = nullptr;
  }
  return *this;
}

void Admission::Release() {
  if (state_ == nullptr) return;
  {
    absl::MutexLock lock(&state_->mu);
    --state_->in_flight;
  }
  if (state_->streams != nullptr) state_->streams->Decrement();
  state_ = nullptr;
}

void Admission::RecordUsage(int64_t prompt_tokens, int64_t generated_tokens) {
  if (state_ == nullptr) return;
  prompt_tokens = std::max<int64_t>(0, prompt_tokens);
  generated_tokens = std::max<int64_t>(0, generated_tokens);
  if (state_->prompt_tokens != nullptr) {
    state_->prompt_tokens->Increment(static_cast<double>(prompt_tokens));
    state_->generated_tokens->Increment(static_cast<double>(generated_tokens));
  }
  absl::MutexLock lock(&state_->mu);
  if (state_->limits.tokens_per_minute > 0) {
    state_->tokens.Refill(state_->limits.tokens_per_minute, state_->now());
    state_->tokens.level -= static_cast<double>(prompt_tokens + generated_tokens);
  }
}

Authenticator::Authenticator(AuthOptions options) : options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return absl::Now(); };
  if (!options_.getenv) {
    options_.getenv = [](const std::string& name) -> std::optional<std::string> {
      const char* v = ::getenv(name.c_str());
      if (v == nullptr) return std::nullopt;
      return std::string(v);
    };
  }
  if (options_.registry != nullptr) metrics_ = std::make_unique<Metrics>(*options_.registry);
}

Authenticator::~Authenticator() = default;

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(const cv1::AuthConfig& config,
                                                                     AuthOptions options) {
  std::unique_ptr<Authenticator> auth(new Authenticator(std::move(options)));
  absl::Status st = auth->Reload(config);
  if (!st.ok()) return st;
  return auth;
}

absl::StatusOr<std::shared_ptr<const KeySet>> Authenticator::Load(
    const cv1::AuthConfig& config) const {
  struct Entry {
    std::string field;  // for errors: where the key came from
    cv1::ApiKey key;
  };
  std::vector<Entry> entries;
  if (!config.keys_file().empty()) {
    const std::string& path = config.keys_file();
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("auth.keys_file: cannot open \"", path, "\""));
    std::stringstream buffer;
    buffer << in.rdbuf();
    cv1::ApiKeyFile file;
    google::protobuf::util::JsonParseOptions parse_options;
    parse_options.ignore_unknown_fields = false;
    auto parsed = google::protobuf::util::JsonStringToMessage(buffer.str(), &file, parse_options);
    if (!parsed.ok()) {
      // protobuf's message names the field or offset, not the values.
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": malformed key file: ", std::string(parsed.message())));
    }
    for (int i = 0; i < file.keys_size(); ++i) {
      entries.push_back({absl::StrCat(path, ": keys[", i, "]"), file.keys(i)});
    }
  }
  if (!config.keys_env().empty()) {
    std::optional<std::string> value = options_.getenv(config.keys_env());
    if (!value.has_value()) {
      return absl::NotFoundError(
          absl::StrCat("auth.keys_env: environment variable ", config.keys_env(), " is not set"));
    }
    int i = 0;
    for (absl::string_view item : absl::StrSplit(*value, ',', absl::SkipWhitespace())) {
      item = absl::StripAsciiWhitespace(item);
      const std::string field = absl::StrCat("$", config.keys_env(), "[", i++, "]");
      const size_t colon = item.find(':');
      if (colon == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(field, ": expected \"name:secret\""));
      }
      cv1::ApiKey key;
      key.set_name(std::string(item.substr(0, colon)));
      key.set_key(std::string(item.substr(colon + 1)));
      entries.push_back({field, std::move(key)});
    }
  }

  auto set = std::make_shared<KeySet>();
  std::shared_ptr<const KeySet> old = keys();
  struct Policy {
    std::shared_ptr<KeyState> state;
    bool admin;
    absl::flat_hash_set<std::string> models;
    Limits limits;
  };
  std::vector<Policy> policies;
  for (const Entry& e : entries) {
    const cv1::ApiKey& k = e.key;
    if (!ValidKeyName(k.name())) {
      return absl::InvalidArgumentError(
          absl::StrCat(e.field, ".name: must be 1-64 characters of [A-Za-z0-9_.-]"));
    }
    const std::string field = absl::StrCat(e.field, " (\"", k.name(), "\")");
    if (k.key().empty() == k.key_sha256().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": set exactly one of key, key_sha256"));
    }
    std::string digest;
    if (!k.key().empty()) {
      if (!ValidSecret(k.key())) {
        return absl::InvalidArgumentError(absl::StrCat(field, ": the secret must be ",
                                                       kMinSecretBytes, " to ", kMaxSecretBytes,
                                                       " printable ASCII characters, no spaces"));
      }
      digest = Sha256Hex(k.key());
    } else {
      if (!IsHex64(k.key_sha256())) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".key_sha256: expected 64 hex digits"));
      }
      digest = absl::AsciiStrToLower(k.key_sha256());
    }
    if (set->by_name.contains(k.name())) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": duplicate key name"));
    }
    if (set->by_digest.contains(digest)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": the same secret as key \"", set->by_digest[digest]->name, "\""));
    }
    Limits limits;
    absl::Status st =
        ResolveLimits(field + ".limits", k.limits(), config.default_limits(), &limits);
    if (!st.ok()) return st;

    // A key that keeps its name keeps its state (buckets, in-flight calls, counters).
    std::shared_ptr<KeyState> state;
    if (old != nullptr) {
      if (auto it = old->by_name.find(k.name()); it != old->by_name.end()) state = it->second;
    }
    if (state == nullptr) {
      state = std::make_shared<KeyState>();
      state->name = k.name();
      state->now = options_.now;
      if (metrics_ != nullptr) {
        state->admitted = &metrics_->admitted.Add({{"key", k.name()}});
        state->prompt_tokens = &metrics_->prompt_tokens.Add({{"key", k.name()}});
        state->generated_tokens = &metrics_->generated_tokens.Add({{"key", k.name()}});
        state->streams = &metrics_->streams.Add({{"key", k.name()}});
        for (const char* reason : {"model", "requests", "tokens", "concurrency"}) {
          state->rejected[reason] =
              &metrics_->rejected.Add({{"key", k.name()}, {"reason", reason}});
        }
      }
    }
    // A kept state is shared with calls in flight: its policy changes in place, under its
    // lock, once the whole new set has validated.
    policies.push_back({state, k.admin(),
                        absl::flat_hash_set<std::string>(k.models().begin(), k.models().end()),
                        limits});
    set->by_name[k.name()] = state;
    set->by_digest[digest] = std::move(state);
  }
  for (Policy& p : policies) {
    absl::MutexLock lock(&p.state->mu);
    p.state->admin = p.admin;
    p.state->models = std::move(p.models);
    p.state->limits = p.limits;
  }
  return std::shared_ptr<const KeySet>(std::move(set));
}

absl::Status Authenticator::Reload(const cv1::AuthConfig& config) {
  absl::StatusOr<std::shared_ptr<const KeySet>> set = Load(config);
  if (!set.ok()) return set.status();
  absl::MutexLock lock(&mu_);
  keys_ = *std::move(set);
  return absl::OkStatus();
}

std::shared_ptr<const KeySet> Authenticator::keys() const {
  absl::ReaderMutexLock lock(&mu_);
  return keys_;
}

bool Authenticator::enabled() const {
  std::shared_ptr<const KeySet> set = keys();
  return set != nullptr && !set->by_digest.empty();
}

int Authenticator::size() const {
  std::shared_ptr<const KeySet> set = keys();
  return set == nullptr ? 0 : static_cast<int>(set->by_digest.size());
}

absl::StatusOr<KeyIdentity> Authenticator::Authenticate(const AuthHeaders& headers) const {
  std::shared_ptr<const KeySet> set = keys();
  if (set == nullptr || set->by_digest.empty()) return KeyIdentity();
  auto fail = [&](absl::string_view message) {
    if (metrics_ != nullptr) metrics_->failures.Increment();
    return absl::UnauthenticatedError(message);
  };
  absl::string_view secret;
  if (!headers.authorization.empty()) {
    absl::string_view value = absl::StripAsciiWhitespace(headers.authorization);
    const size_t space = value.find(' ');
    if (space == absl::string_view::npos ||
        !absl::EqualsIgnoreCase(value.substr(0, space), "bearer")) {
      return fail("authorization: expected \"Bearer <API key>\"");
    }
    secret = absl::StripLeadingAsciiWhitespace(value.substr(space + 1));
  } else if (!headers.x_api_key.empty()) {
    secret = absl::StripAsciiWhitespace(headers.x_api_key);
  } else {
    return fail("an API key is required (\"authorization: Bearer <key>\" or \"x-api-key\")");
  }
  if (secret.empty() || secret.size() > kMaxSecretBytes) return fail("invalid API key");
  auto it = set->by_digest.find(Sha256Hex(secret));
  if (it == set->by_digest.end()) return fail("invalid API key");
  return KeyIdentity(it->second);
}

absl::Status Authenticator::CheckAdmin(const KeyIdentity& key) const {
  if (key.anonymous()) {
    if (!enabled()) return absl::OkStatus();
    return absl::UnauthenticatedError("an API key is required");
  }
  absl::MutexLock lock(&key.state_->mu);
  if (!key.state_->admin) {
    return absl::PermissionDeniedError(
        absl::StrCat("key \"", key.state_->name, "\" may not use the admin API"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Admission> Authenticator::Admit(const KeyIdentity& key,
                                               absl::string_view model) const {
  if (key.anonymous()) {
    if (enabled()) return absl::UnauthenticatedError("an API key is required");
    return Admission();
  }
  KeyState& s = *key.state_;
  auto reject = [&](const char* reason, absl::Status status) {
    if (auto it = s.rejected.find(reason); it != s.rejected.end()) it->second->Increment();
    return status;
  };
  {
    absl::MutexLock lock(&s.mu);
    if (!model.empty() && !s.models.empty() && !s.models.contains(model)) {
      return reject("model", absl::PermissionDeniedError(absl::StrCat(
                                 "key \"", s.name, "\" may not use model \"", model, "\"")));
    }
    const absl::Time now = s.now();
    if (s.limits.max_streams > 0 && s.in_flight >= s.limits.max_streams) {
      return reject("concurrency",
                    absl::ResourceExhaustedError(absl::StrCat(
                        "key \"", s.name, "\": ", s.limits.max_streams, " calls in flight")));
    }
    if (s.limits.requests_per_minute > 0) {
      s.requests.Refill(s.limits.requests_per_minute, now);
      if (s.requests.level < 1) {
        return reject(
            "requests",
            absl::ResourceExhaustedError(absl::StrFormat(
                "key \"%s\": over %d requests per minute; retry in %.3gs", s.name,
                s.limits.requests_per_minute,
                absl::ToDoubleSeconds(s.requests.Wait(s.limits.requests_per_minute, 1)))));
      }
    }
    if (s.limits.tokens_per_minute > 0) {
      s.tokens.Refill(s.limits.tokens_per_minute, now);
      if (s.tokens.level <= 0) {
        const double wait = absl::ToDoubleSeconds(
            s.tokens.Wait(s.limits.tokens_per_minute, std::nextafter(0.0, 1.0)));
        return reject("tokens", absl::ResourceExhaustedError(absl::StrFormat(
                                    "key \"%s\": over %d tokens per minute; retry in %.3gs", s.name,
                                    s.limits.tokens_per_minute, wait)));
      }
    }
    if (s.limits.requests_per_minute > 0) s.requests.level -= 1;
    ++s.in_flight;
  }
  if (s.admitted != nullptr) s.admitted->Increment();
  if (s.streams != nullptr) s.streams->Increment();
  return Admission(key.state_);
}

}  // namespace jetserve::gateway
