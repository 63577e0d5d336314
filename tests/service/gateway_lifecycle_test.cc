// Multi-process tests of model lifecycle in a running gateway (real jetserve-gateway,
// jetserve-fake-worker children): the admin API (authorization, load, unload, reload),
// reloads under traffic with no failed call, a failed reload that leaves the old workers
// serving, SIGHUP re-reading the config file, keep_alive (start on first use, stop when
// idle) and SIGTERM (health first, running calls finish, new ones refused).
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "jetserve/v1/admin.grpc.pb.h"
#include "tests/service/gateway_harness.h"

namespace jetserve::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

namespace v1 = ::jetserve::v1;

constexpr char kAdminKey[] = "admin-secret-0123456789";
constexpr char kUserKey[] = "user-secret-0123456789ab";

// A config with models given as JSON list entries, supervision fast enough for tests, and
// two API keys (one admin).
std::string Config(const TempDir& dir, const std::string& models,
                   const std::string& drain_grace = "2s") {
  {
    std::ofstream keys(dir.File("keys.json"));
    keys << absl::StrFormat(
        R"({"keys": [{"name": "ops", "key": "%s", "admin": true},
                     {"name": "user", "key": "%s"}]})",
        kAdminKey, kUserKey);
  }
  return absl::StrFormat(
      R"({"listen": "127.0.0.1:0", "workerBinary": "%s", "runtimeDir": "%s/run",
          "auth": {"keysFile": "%s"},
          "supervision": {"healthInterval": "0.1s", "backoffInitial": "0.1s",
                          "backoffMax": "0.5s", "drainGracePeriod": "%s",
                          "killGracePeriod": "1s"},
          "models": [%s]})",
      FakeWorkerBinary(), dir.path(), dir.File("keys.json"), drain_grace, models);
}

std::string LocalModel(const std::string& name, const std::string& extra_args = "",
                       const std::string& extra_fields = "") {
  return absl::StrFormat(
      R"({"name": "%s", "path": "/models/%s", %s "local": {"args": ["--fake-capacity=4"%s]}})",
      name, name, extra_fields, extra_args);
}

void Authorize(grpc::ClientContext* context, const std::string& key) {
  context->AddMetadata("authorization", "Bearer " + key);
}

class Admin {
 public:
  explicit Admin(GatewayProcess& g) : stub_(v1::Admin::NewStub(g.channel())) {}

  grpc::Status Reload(const std::string& name, const std::string& config_json = "",
                      v1::ReloadModelResponse* response = nullptr) {
    grpc::ClientContext context;
    Authorize(&context, kAdminKey);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::ReloadModelRequest request;
    request.set_name(name);
    if (!config_json.empty()) {
      auto parsed =
          google::protobuf::util::JsonStringToMessage(config_json, request.mutable_config());
      if (!parsed.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "bad test JSON");
    }
    v1::ReloadModelResponse ignored;
    return stub_->ReloadModel(&context, request, response != nullptr ? response : &ignored);
  }
  grpc::Status Load(const std::string& config_json, const std::string& key = kAdminKey) {
    grpc::ClientContext context;
    if (!key.empty()) Authorize(&context, key);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::LoadModelRequest request;
    auto parsed =
        google::protobuf::util::JsonStringToMessage(config_json, request.mutable_config());
    if (!parsed.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "bad test JSON");
    v1::LoadModelResponse response;
    return stub_->LoadModel(&context, request, &response);
  }
  grpc::Status Unload(const std::string& name) {
    grpc::ClientContext context;
    Authorize(&context, kAdminKey);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::UnloadModelRequest request;
    request.set_name(name);
    v1::UnloadModelResponse response;
    return stub_->UnloadModel(&context, request, &response);
  }
  grpc::Status List(v1::AdminListModelsResponse* response, const std::string& key = kAdminKey) {
    grpc::ClientContext context;
    if (!key.empty()) Authorize(&context, key);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return stub_->ListModels(&context, {}, response);
  }
  std::optional<v1::AdminModel> Get(const std::string& name) {
    v1::AdminListModelsResponse response;
    if (!List(&response).ok()) return std::nullopt;
    for (const auto& m : response.models()) {
      if (m.info().name() == name) return m;
    }
    return std::nullopt;
  }

 private:
  std::unique_ptr<v1::Admin::Stub> stub_;
};

GenerateResult Generate(GatewayProcess& g, const std::string& model, const std::string& prompt,
                        absl::Duration timeout = absl::Seconds(20)) {
  return RunGenerate(
      g.stub(), model, prompt,
      {.timeout = timeout, .metadata = {{"authorization", std::string("Bearer ") + kUserKey}}});
}

grpc::Status Embed(GatewayProcess& g, const std::string& model) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  Authorize(&context, kUserKey);
  v1::EmbedRequest request;
  request.set_model(model);
  request.add_inputs("hello");
  v1::EmbedResponse response;
  return g.stub().Embed(&context, request, &response);
}

size_t CountLog(const GatewayProcess& g, const std::vector<std::string>& parts) {
  return g.LogLines(parts).size();
}

TEST(GatewayLifecycleTest, AdminCallsNeedAnAdminKey) {
  TempDir dir;
  auto gw = GatewayProcess::Start(dir, Config(dir, LocalModel("a")));
  ASSERT_TRUE(gw.ok()) << gw.status();
  Admin admin(**gw);
  v1::AdminListModelsResponse list;
  EXPECT_EQ(admin.List(&list, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(admin.List(&list, "wrong-secret-0123456789").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status user = admin.List(&list, kUserKey);
  EXPECT_EQ(user.error_code(), grpc::StatusCode::PERMISSION_DENIED) << user.error_message();
  EXPECT_EQ(admin.Load(LocalModel("b"), kUserKey).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(admin.List(&list).ok());
  ASSERT_EQ(list.models_size(), 1);
  EXPECT_EQ(list.models(0).info().name(), "a");
  EXPECT_EQ(list.models(0).config().path(), "/models/a");
}

TEST(GatewayLifecycleTest, LoadAndUnloadModels) {
  TempDir dir;
  auto gw = GatewayProcess::Start(dir, Config(dir, LocalModel("a")));
  ASSERT_TRUE(gw.ok()) << gw.status();
  GatewayProcess& g = **gw;
  Admin admin(g);
  ASSERT_TRUE(WaitForHealth(g.channel(), "a", 1, absl::Seconds(30))) << g.log();

  // Load: returns once the worker serves.
  grpc::Status loaded = admin.Load(LocalModel("b"));
  ASSERT_TRUE(loaded.ok()) << loaded.error_message();
  EXPECT_EQ(HealthOf(g.channel(), "b"), 1);
  GenerateResult b = Generate(g, "b", "tokens=2");
  EXPECT_TRUE(b.status.ok()) << b.status.error_message();
  EXPECT_EQ(b.text(), "[b #0][b #1]");
  EXPECT_EQ(admin.Load(LocalModel("b")).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  grpc::Status bad = admin.Load(R"({"name": "c", "local": {}})");
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("config.path: required"));

  // A model whose worker cannot start is not added.
  grpc::Status crashy = admin.Load(LocalModel("crashy", R"(, "--fake-crash-at-start")"));
  EXPECT_EQ(crashy.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(crashy.error_message(), HasSubstr("exited with status 1"));
  EXPECT_EQ(Generate(g, "crashy", "tokens=1").status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(admin.Get("crashy").has_value());

  // Unload while a stream runs: it finishes; new calls get NOT_FOUND.
  GenerateResult streamed;
  std::thread stream([&] { streamed = Generate(g, "b", "tokens=20 delay_ms=25"); });
  absl::SleepFor(absl::Milliseconds(150));  // the stream is under way
  grpc::Status unloaded = admin.Unload("b");
  EXPECT_TRUE(unloaded.ok()) << unloaded.error_message();
  EXPECT_EQ(Generate(g, "b", "tokens=1").status.error_code(), grpc::StatusCode::NOT_FOUND);
  stream.join();
  EXPECT_TRUE(streamed.status.ok()) << streamed.status.error_message();
  EXPECT_EQ(streamed.messages.size(), 20u);
  EXPECT_EQ(HealthOf(g.channel(), "b"), 2);
  EXPECT_EQ(admin.Unload("b").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(
      g.WaitForLog({"\"event\":\"worker_stopped\"", "\"worker\":\"b/0\""}, absl::Seconds(10)));
  EXPECT_TRUE(Generate(g, "a", "tokens=1").status.ok());
}

// Clients call without pause while the model is reloaded 20 times: every call succeeds.
TEST(GatewayLifecycleTest, ReloadsUnderTrafficFailNoCall) {
  TempDir dir;
  auto gw = GatewayProcess::Start(
      dir, Config(dir, absl::StrCat(LocalModel("m"), ",", LocalModel("other")), "5s"));
  ASSERT_TRUE(gw.ok()) << gw.status();
  GatewayProcess& g = **gw;
  Admin admin(g);
  ASSERT_TRUE(WaitForHealth(g.channel(), "m", 1, absl::Seconds(30))) << g.log();

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      while (!stop.load()) {
        grpc::Status status;
        if (c % 2 == 0) {
          GenerateResult r = Generate(g, "m", "tokens=4 delay_ms=10");
          status = r.status;
          if (status.ok() && r.messages.size() != 4) {
            status = grpc::Status(grpc::StatusCode::DATA_LOSS, "short stream");
          }
        } else {
          status = Embed(g, "m");
        }
        if (status.ok()) {
          ok.fetch_add(1);
        } else {
          std::lock_guard<std::mutex> lock(failures_mu);
          failures.push_back(absl::StrCat(status.error_code(), ": ", status.error_message()));
        }
      }
    });
  }
  constexpr int kReloads = 20;
  int reloaded = 0;
  for (int i = 0; i < kReloads; ++i) {
    grpc::Status st = admin.Reload("m");
    EXPECT_TRUE(st.ok()) << st.error_message();
    reloaded += st.ok() ? 1 : 0;
  }
  absl::SleepFor(absl::Milliseconds(200));
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(reloaded, kReloads);
  EXPECT_THAT(failures, IsEmpty());
  EXPECT_GT(ok.load(), 2 * kReloads);
  // Every generation started a new worker; the old ones were all stopped.
  EXPECT_EQ(CountLog(g, {"\"event\":\"worker_start\"", "\"worker\":\"m/0"}), kReloads + 1u);
  EXPECT_TRUE(g.WaitForLog(
      {"\"event\":\"worker_stopped\"", absl::StrCat("\"worker\":\"m/0@g", kReloads - 1, "\"")},
      absl::Seconds(10)));
  EXPECT_EQ(CountLog(g, {"\"event\":\"worker_stopped\"", "\"worker\":\"m/0"}),
            static_cast<size_t>(kReloads));
  auto m = admin.Get("m");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->generation(), kReloads);
  EXPECT_EQ(m->info().state(), v1::MODEL_STATE_READY);
}

TEST(GatewayLifecycleTest, FailedReloadKeepsTheOldWorkersServing) {
  TempDir dir;
  auto gw = GatewayProcess::Start(dir, Config(dir, LocalModel("m")));
  ASSERT_TRUE(gw.ok()) << gw.status();
  GatewayProcess& g = **gw;
  Admin admin(g);
  ASSERT_TRUE(WaitForHealth(g.channel(), "m", 1, absl::Seconds(30))) << g.log();

  // The new worker cannot start: the old one keeps serving, the error is reported.
  grpc::Status failed = admin.Reload("m", LocalModel("m", R"(, "--fake-crash-at-start")"));
  EXPECT_EQ(failed.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(failed.error_message(), HasSubstr("the previous workers keep serving"));
  EXPECT_THAT(failed.error_message(), HasSubstr("exited with status 1"));
  EXPECT_TRUE(Generate(g, "m", "tokens=2").status.ok());
  auto m = admin.Get("m");
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(m->last_error(), HasSubstr("exited with status 1"));
  EXPECT_EQ(m->info().state(), v1::MODEL_STATE_READY);
  EXPECT_THAT(m->config().local().args(), Not(::testing::Contains("--fake-crash-at-start")));

  // A bad config is refused before anything starts.
  grpc::Status invalid =
      admin.Reload("m", R"({"name": "m", "path": "/p", "local": {"replicas": 100}})");
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(invalid.error_message(), HasSubstr("config.local.replicas"));
  EXPECT_EQ(admin.Reload("m", LocalModel("other")).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(admin.Reload("nope").error_code(), grpc::StatusCode::NOT_FOUND);

  // A good reload with a new config: the new worker serves with it, the error clears.
  v1::ReloadModelResponse response;
  grpc::Status good = admin.Reload("m", LocalModel("m", R"(, "--fake-capacity=2")"), &response);
  ASSERT_TRUE(good.ok()) << good.error_message();
  EXPECT_EQ(response.model().generation(), 2);
  EXPECT_THAT(response.model().last_error(), IsEmpty());
  EXPECT_TRUE(Generate(g, "m", "tokens=2").status.ok());
  EXPECT_THAT(response.model().config().local().args(), ::testing::Contains("--fake-capacity=2"));
}

TEST(GatewayLifecycleTest, SighupAppliesTheConfigFile) {
  TempDir dir;
  auto gw = GatewayProcess::Start(
      dir, Config(dir, absl::StrCat(LocalModel("keep"), ",", LocalModel("gone"), ",",
                                    LocalModel("changed"))));
  ASSERT_TRUE(gw.ok()) << gw.status();
  GatewayProcess& g = **gw;
  for (const char* m : {"keep", "gone", "changed"}) {
    ASSERT_TRUE(WaitForHealth(g.channel(), m, 1, absl::Seconds(30))) << g.log();
  }
  // A broken file changes nothing.
  {
    std::ofstream out(dir.File("gateway.json"));
    out << R"({"models": [{"name": "x"}]})";
  }
  kill(g.pid(), SIGHUP);
  ASSERT_TRUE(g.WaitForLog({"\"event\":\"config_reload_error\"", "models[0]"}, absl::Seconds(10)))
      << g.log();
  EXPECT_EQ(HealthOf(g.channel(), "gone"), 1);

  {
    std::ofstream out(dir.File("gateway.json"));
    out << Config(dir, absl::StrCat(LocalModel("keep"), ",", LocalModel("added"), ",",
                                    LocalModel("changed", R"(, "--fake-capacity=3")")));
  }
  kill(g.pid(), SIGHUP);
  ASSERT_TRUE(g.WaitForLog(
      {"\"event\":\"config_applied\"", "\"added\":1", "\"removed\":1", "\"changed\":1"},
      absl::Seconds(30)))
      << g.log();
  EXPECT_EQ(HealthOf(g.channel(), "gone"), 2);
  EXPECT_EQ(Generate(g, "gone", "tokens=1").status.error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(WaitForHealth(g.channel(), "added", 1, absl::Seconds(30))) << g.log();
  EXPECT_TRUE(Generate(g, "added", "tokens=1").status.ok());
  EXPECT_TRUE(Generate(g, "changed", "tokens=1").status.ok());
  EXPECT_EQ(CountLog(g, {"\"event\":\"worker_start\"", "\"worker\":\"changed/0@g1\""}), 1u);
  // The unchanged model kept its worker.
  EXPECT_EQ(CountLog(g, {"\"event\":\"worker_start\"", "\"worker\":\"keep/0"}), 1u);
}

TEST(GatewayLifecycleTest, KeepAliveStartsOnFirstUseAndStopsWhenIdle) {
  TempDir dir;
  auto gw = GatewayProcess::Start(
      dir, Config(dir, absl::StrCat(LocalModel("always"), ",",
                                    LocalModel("lazy", R"(, "--fake-start-delay-ms=200")",
                                               R"("keepAlive": "0.5s",)"))));
  ASSERT_TRUE(gw.ok()) << gw.status();
  GatewayProcess& g = **gw;
  Admin admin(g);
  ASSERT_TRUE(WaitForHealth(g.channel(), "always", 1, absl::Seconds(30))) << g.log();
  // Nothing runs for "lazy" yet, but it takes calls.
  EXPECT_EQ(CountLog(g, {"\"event\":\"worker_start\"", "\"worker\":\"lazy/"}), 0u);
  EXPECT_EQ(HealthOf(g.channel(), "lazy"), 1);
  auto lazy = admin.Get("lazy");
  ASSERT_TRUE(lazy.has_value());
  EXPECT_EQ(lazy->info().state(), v1::MODEL_STATE_IDLE);
  EXPECT_FALSE(lazy->resident());

  // Three calls at once: one start, all served.
  std::vector<GenerateResult> results(3);
  std::vector<std::thread> threads;
  for (auto& r : results) threads.emplace_back([&] { r = Generate(g, "lazy", "tokens=2"); });
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(CountLog(g, {"\"event\":\"worker_start\"", "\"worker\":\"lazy/"}), 1u);
  lazy = admin.Get("lazy");
  ASSERT_TRUE(lazy.has_value());
  EXPECT_TRUE(lazy->resident());
  EXPECT_TRUE(lazy->has_last_used());

  // Idle for keep_alive: the worker stops; the next call starts another.
  ASSERT_TRUE(g.WaitForLog({"\"event\":\"model_idle\"", "\"model\":\"lazy\""}, absl::Seconds(10)));
  ASSERT_TRUE(
      g.WaitForLog({"\"event\":\"worker_stopped\"", "\"worker\":\"lazy/0\""}, absl::Seconds(10)));
  lazy = admin.Get("lazy");
  ASSERT_TRUE(lazy.has_value());
  EXPECT_EQ(lazy->info().state(), v1::MODEL_STATE_IDLE);
  EXPECT_TRUE(Generate(g, "lazy", "tokens=1").status.ok());
  EXPECT_EQ(CountLog(g, {"\"event\":\"worker_start\"", "\"worker\":\"lazy/"}), 2u);
  // The other model was never touched.
  EXPECT_EQ(CountLog(g, {"\"event\":\"worker_start\"", "\"worker\":\"always/"}), 1u);
}

TEST(GatewayLifecycleTest, SigtermRefusesNewCallsAndLetsRunningOnesFinish) {
  TempDir dir;
  auto gw = GatewayProcess::Start(dir, Config(dir, LocalModel("m"), "10s"));
  ASSERT_TRUE(gw.ok()) << gw.status();
  GatewayProcess& g = **gw;
  ASSERT_TRUE(WaitForHealth(g.channel(), "m", 1, absl::Seconds(30))) << g.log();
  GenerateResult running;
  std::thread stream([&] { running = Generate(g, "m", "tokens=30 delay_ms=50"); });
  ASSERT_TRUE(g.WaitForLog({"\"event\":\"worker_ready\""}, absl::Seconds(5)));
  absl::SleepFor(absl::Milliseconds(300));
  const pid_t pid = g.pid();
  kill(pid, SIGTERM);
  ASSERT_TRUE(g.WaitForLog({"\"event\":\"shutdown_begin\""}, absl::Seconds(5)));
  // Health says NOT_SERVING (or the server no longer answers), new calls are refused.
  const int health = HealthOf(g.channel(), "m");
  EXPECT_NE(health, 1);
  auto fresh =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", g.port()), grpc::InsecureChannelCredentials());
  auto fresh_stub = v1::Jetserve::NewStub(fresh);
  GenerateResult refused =
      RunGenerate(g.stub(), "m", "tokens=1",
                  {.timeout = absl::Seconds(5),
                   .metadata = {{"authorization", std::string("Bearer ") + kUserKey}}});
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << refused.status.error_message();
  GenerateResult refused_fresh =
      RunGenerate(*fresh_stub, "m", "tokens=1",
                  {.timeout = absl::Seconds(5),
                   .metadata = {{"authorization", std::string("Bearer ") + kUserKey}}});
  EXPECT_EQ(refused_fresh.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  stream.join();
  EXPECT_TRUE(running.status.ok()) << running.status.error_message();
  EXPECT_EQ(running.messages.size(), 30u);
  const int status = g.Stop(absl::Seconds(20));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // Health went NOT_SERVING before the worker was told to drain.
  const std::string log = ReadFileOrEmpty(dir.File("gateway.log"));
  EXPECT_LT(log.find("\"event\":\"shutdown_begin\""), log.find("\"event\":\"worker_stopped\""));
}

}  // namespace
}  // namespace jetserve::testing
