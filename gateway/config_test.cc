#include "gateway/config.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::gateway {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;

const ConfigOptions kOptions{.executable_dir = "/opt/jetserve/bin"};

absl::StatusOr<GatewayConfig> Parse(const std::string& json) {
  return ParseGatewayConfig(json, kOptions);
}

TEST(ConfigTest, AppliesDocumentedDefaults) {
  ASSERT_OK_AND_ASSIGN(GatewayConfig c, Parse(R"({"models": [
      {"name": "a", "path": "/m/a.gguf", "local": {}},
      {"name": "b", "remote": {"dnsName": "b.svc:50061"}}]})"));
  EXPECT_EQ(c.listen(), "0.0.0.0:50051");
  EXPECT_EQ(c.worker_binary(), "/opt/jetserve/bin/jetserve-worker");
  EXPECT_EQ(c.models(0).device(), "cpu");
  EXPECT_EQ(c.models(0).local().replicas(), 1);
  EXPECT_EQ(c.models(0).queue_limit(), 64);
  EXPECT_FALSE(c.models(0).has_max_in_flight_per_worker());
  EXPECT_EQ(c.models(1).remote().resolve_interval().seconds(), 10);
  EXPECT_EQ(ToAbslDuration(c.supervision().health_interval()), absl::Seconds(2));
  EXPECT_EQ(ToAbslDuration(c.supervision().startup_timeout()), absl::Seconds(300));
  EXPECT_EQ(ToAbslDuration(c.supervision().backoff_initial()), absl::Milliseconds(500));
  EXPECT_EQ(ToAbslDuration(c.supervision().backoff_max()), absl::Seconds(60));
  EXPECT_EQ(ToAbslDuration(c.supervision().backoff_reset_after()), absl::Seconds(30));
  EXPECT_EQ(ToAbslDuration(c.supervision().drain_grace_period()), absl::Seconds(30));
  EXPECT_EQ(ToAbslDuration(c.supervision().kill_grace_period()), absl::Seconds(5));
  EXPECT_EQ(c.limits().max_request_bytes(), 4 << 20);
  EXPECT_EQ(c.limits().default_queue_limit(), 64);
}

TEST(ConfigTest, KeepsExplicitValues) {
  ASSERT_OK_AND_ASSIGN(GatewayConfig c, Parse(R"({
      "listen": "127.0.0.1:0", "metricsListen": "127.0.0.1:0",
      "supervision": {"healthInterval": "0.1s", "backoffInitial": "0.05s", "backoffMax": "1s"},
      "limits": {"defaultQueueLimit": 3, "maxRequestBytes": 2048},
      "models": [{"name": "a", "path": "/m", "device": "cuda:1", "queueLimit": 0,
                  "maxInFlightPerWorker": 2,
                  "local": {"replicas": 4, "args": ["--x"], "env": {"K": "V"}}}]})"));
  EXPECT_EQ(c.listen(), "127.0.0.1:0");
  EXPECT_EQ(c.models(0).queue_limit(), 0);
  EXPECT_EQ(c.models(0).max_in_flight_per_worker(), 2);
  EXPECT_EQ(c.models(0).local().replicas(), 4);
  EXPECT_EQ(ToAbslDuration(c.supervision().health_interval()), absl::Milliseconds(100));
  EXPECT_EQ(c.limits().max_request_bytes(), 2048);
}

struct BadConfig {
  const char* json;
  const char* message;
};

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, NamesTheField) {
  EXPECT_THAT(Parse(GetParam().json),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().message)));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, BadConfigTest,
    ::testing::Values(
        BadConfig{R"({"models": [{"name": "a", "path": "/m", "local": {}},
                                 {"name": "b", "path": "/m", "local": {"replicas": 65}}]})",
                  "models[1].local.replicas: must be in [1, 64], got 65"},
        BadConfig{R"({"models": [{"name": "a", "path": "/m", "local": {"replicas": -1}}]})",
                  "models[0].local.replicas: must be in [1, 64], got -1"},
        BadConfig{R"({"modles": []})", "modles"},
        BadConfig{R"({"models": [{"name": "a", "pth": "/m"}]})", "pth"},
        BadConfig{R"({"models": [{"name": "a", "path": "/m", "local": {"replicas": "x"}}]})",
                  "replicas"},
        BadConfig{R"({"models": [)", "malformed config"},
        BadConfig{R"({})", "models: at least one model is required"},
        BadConfig{R"({"models": [{"name": "a b", "path": "/m", "local": {}}]})",
                  "models[0].name: must be 1-128 characters"},
        BadConfig{R"({"models": [{"name": "a", "path": "/m", "local": {}},
                                 {"name": "a", "path": "/m", "local": {}}]})",
                  "models[1].name: duplicate model name \"a\""},
        BadConfig{R"({"models": [{"name": "a", "local": {}}]})",
                  "models[0].path: required for local replicas"},
        BadConfig{R"({"models": [{"name": "a", "path": "/m"}]})",
                  "models[0]: set one of local or remote"},
        BadConfig{R"({"models": [{"name": "a", "path": "/m", "device": "gpu", "local": {}}]})",
                  "models[0].device: must be \"cpu\" or \"cuda:N\", got \"gpu\""},
        BadConfig{R"({"models": [{"name": "a", "remote": {}}]})",
                  "models[0].remote: set addresses or dns_name"},
        BadConfig{R"({"models": [{"name": "a", "remote": {"addresses": ["nohost"]}}]})",
                  "models[0].remote.addresses[0]: expected \"host:port\""},
        BadConfig{R"({"models": [{"name": "a", "remote": {"addresses": ["h:1", "h:1"]}}]})",
                  "models[0].remote.addresses[1]: duplicate address"},
        BadConfig{R"({"models": [{"name": "a", "remote": {"dnsName": "h:99999"}}]})",
                  "models[0].remote.dns_name: expected \"host:port\""},
        BadConfig{R"({"models": [{"name": "a", "remote": {"dnsName": "h:1",
                                                           "resolveInterval": "0.1s"}}]})",
                  "models[0].remote.resolve_interval: must be in [1s, 1h], got 100ms"},
        BadConfig{R"({"models": [{"name": "a", "path": "/m", "queueLimit": -1, "local": {}}]})",
                  "models[0].queue_limit: must be in [0, 1000000], got -1"},
        BadConfig{R"({"models": [{"name": "a", "path": "/m", "maxInFlightPerWorker": 0,
                                  "local": {}}]})",
                  "models[0].max_in_flight_per_worker: must be in [1, 1000000], got 0"},
        BadConfig{R"({"supervision": {"backoffInitial": "2s", "backoffMax": "1s"},
                      "models": [{"name": "a", "path": "/m", "local": {}}]})",
                  "supervision.backoff_max: must be at least backoff_initial"},
        BadConfig{R"({"supervision": {"healthInterval": "-1s"},
                      "models": [{"name": "a", "path": "/m", "local": {}}]})",
                  "supervision.health_interval: must be in"},
        BadConfig{R"({"limits": {"maxRequestBytes": 10},
                      "models": [{"name": "a", "path": "/m", "local": {}}]})",
                  "limits.max_request_bytes: must be in [1024, 67108864], got 10"},
        BadConfig{R"({"listen": "0.0.0.0",
                      "models": [{"name": "a", "path": "/m", "local": {}}]})",
                  "listen: expected \"host:port\""},
        BadConfig{R"({"models": [{"name": "a", "path": "/m",
                                  "local": {"replicas": 2, "metricsListen": "h:65535"}}]})",
                  "models[0].local.metrics_listen: ports 65535..65536 exceed 65535"},
        BadConfig{R"({"models": [{"name": "a", "remote": {"addresses": ["h:1"]},
                                  "keepAlive": "300s"}]})",
                  "models[0].keep_alive: only for local replicas"},
        BadConfig{R"({"models": [{"name": "a", "path": "/m", "local": {},
                                  "keepAlive": "-1s"}]})",
                  "models[0].keep_alive: must be in [0, 720h], got -1s"},
        BadConfig{R"({"runtimeDir": "rel",
                      "models": [{"name": "a", "path": "/m", "local": {}}]})",
                  "runtime_dir: must be an absolute path"},
        BadConfig{R"({"httpListen": "11434",
                      "models": [{"name": "a", "path": "/m", "local": {}}]})",
                  "http_listen: expected \"host:port\""},
        BadConfig{R"({"httpListen": "0.0.0.0:11434", "httpTls": true,
                      "models": [{"name": "a", "path": "/m", "local": {}}]})",
                  "http_tls: needs tls"}));

TEST(ConfigTest, RequestLimitDefaultsAndRanges) {
  const std::string models = R"("models": [{"name": "a", "path": "/m", "local": {}}])";
  ASSERT_OK_AND_ASSIGN(GatewayConfig c, Parse("{" + models + "}"));
  const auto& l = c.limits();
  EXPECT_EQ(l.max_prompt_bytes(), 1 << 20);
  EXPECT_EQ(l.max_inputs(), 256);
  EXPECT_EQ(l.max_documents(), 1024);
  EXPECT_EQ(l.max_candidate_labels(), 64);
  EXPECT_EQ(l.max_stop_sequences(), 16);
  EXPECT_EQ(l.max_stop_bytes(), 256);
  EXPECT_EQ(l.max_top_logprobs(), 20);
  EXPECT_EQ(l.max_choices(), 16);
  // max_top_logprobs 0 is a real value (no alternatives), not "default".
  ASSERT_OK_AND_ASSIGN(GatewayConfig zero,
                       Parse(R"({"limits": {"maxTopLogprobs": 0}, )" + models + "}"));
  EXPECT_EQ(zero.limits().max_top_logprobs(), 0);
  // The prompt limit follows a smaller request limit.
  ASSERT_OK_AND_ASSIGN(GatewayConfig small,
                       Parse(R"({"limits": {"maxRequestBytes": 65536}, )" + models + "}"));
  EXPECT_EQ(small.limits().max_prompt_bytes(), 65536);
  for (const auto& [json, field] : std::vector<std::pair<std::string, std::string>>{
           {R"("maxStopSequences": 17)", "limits.max_stop_sequences: must be in [1, 16], got 17"},
           {R"("maxStopBytes": -1)", "limits.max_stop_bytes: must be in [1, 256], got -1"},
           {R"("maxTopLogprobs": 21)", "limits.max_top_logprobs: must be in [0, 20], got 21"},
           {R"("maxChoices": 17)", "limits.max_choices"},
           {R"("maxInputs": 5000)", "limits.max_inputs"},
           {R"("maxPromptBytes": 5000000)", "limits.max_prompt_bytes: must be in [1, 4194304]"}}) {
    EXPECT_THAT(Parse(R"({"limits": {)" + json + "}, " + models + "}"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(field)));
  }
}

TEST(ConfigTest, TlsFieldsAreChecked) {
  const std::string models = R"("models": [{"name": "a", "path": "/m", "local": {}}])";
  EXPECT_THAT(Parse(R"({"tls": {"certFile": "/c.pem"}, )" + models + "}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tls.key_file: required")));
  EXPECT_THAT(Parse(R"({"listen": "unix:/tmp/s", "tls": {"certFile": "/c", "keyFile": "/k"}, )" +
                    models + "}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Unix socket")));
  ASSERT_OK_AND_ASSIGN(GatewayConfig tls,
                       Parse(R"({"tls": {"certFile": "/c", "keyFile": "/k"}, )" + models + "}"));
  EXPECT_EQ(ToAbslDuration(tls.tls().reload_interval()), absl::Seconds(60));
  EXPECT_THAT(Parse(R"({"tls": {"certFile": "/c", "keyFile": "/k", "reloadInterval": "0.5s"}, )" +
                    models + "}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tls.reload_interval: must be in [1s, 24h], got 500ms")));
  EXPECT_THAT(Parse(R"({"workerTls": {"certFile": "/c"}, )" + models + "}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("worker_tls.ca_file")));
  EXPECT_THAT(
      Parse(R"({"workerTls": {"caFile": "/ca", "certFile": "/c"}, )" + models + "}"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("both cert_file and key_file")));
  EXPECT_TRUE(Parse(R"({"tls": {"certFile": "/c", "keyFile": "/k"}, "workerTls": {"caFile": "/ca"},
                      "auth": {"keysFile": "/keys.json"}, )" +
                    models + "}")
                  .ok());
}

TEST(ConfigTest, SocketPathMustFit) {
  std::string long_dir = "/" + std::string(100, 'd');
  EXPECT_THAT(Parse(R"({"runtimeDir": ")" + long_dir +
                    R"(", "models": [{"name": "model", "path": "/m", "local": {}}]})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("models[0].name: socket path under runtime_dir")));
}

TEST(ConfigTest, LoadNamesTheFile) {
  EXPECT_THAT(LoadGatewayConfig("/nonexistent/gw.json", kOptions),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/gw.json")));
}

TEST(ConfigTest, SplitHostPort) {
  std::string host;
  int port = -1;
  EXPECT_TRUE(SplitHostPort("localhost:80", &host, &port));
  EXPECT_EQ(host, "localhost");
  EXPECT_EQ(port, 80);
  EXPECT_TRUE(SplitHostPort("[::1]:0", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 0);
  EXPECT_FALSE(SplitHostPort("::1:80", &host, &port));
  EXPECT_FALSE(SplitHostPort("h:", &host, &port));
  EXPECT_FALSE(SplitHostPort("h:65536", &host, &port));
  EXPECT_FALSE(SplitHostPort("h:-1", &host, &port));
}

}  // namespace
}  // namespace jetserve::gateway
