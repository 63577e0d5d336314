// Multi-process tests of the gateway's supervision of local workers: a worker killed
// mid-stream (UNAVAILABLE to the client, restart, health NOT_SERVING and back), a worker
// that crashes at every start (growing delays, no busy loop, FAILING state, metrics),
// shutdown (drain, every child reaped), and a stopping worker that outlives the calls
// routed to it.
#include <signal.h>

#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gateway/router.h"
#include "gateway/supervisor.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "jetserve/worker/v1/worker.grpc.pb.h"
#include "tests/service/gateway_harness.h"

namespace jetserve::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

std::string Config(const TempDir& dir) {
  return absl::StrFormat(
      R"({"listen": "127.0.0.1:0", "metricsListen": "127.0.0.1:0", "workerBinary": "%s",
          "runtimeDir": "%s/run",
          "supervision": {"healthInterval": "0.1s", "backoffInitial": "0.1s",
                          "backoffMax": "0.8s", "backoffResetAfter": "30s",
                          "drainGracePeriod": "1s", "killGracePeriod": "1s"},
          "models": [
            {"name": "solid", "path": "/models/solid", "local": {
             "args": ["--fake-event-log=%s"]}},
            {"name": "crashy", "path": "/models/crashy", "local": {
             "args": ["--fake-crash-at-start"]}}]})",
      FakeWorkerBinary(), dir.path(), dir.File("solid.events"));
}

// Pids of the worker_start lines for `worker`.
std::vector<int64_t> WorkerPids(const GatewayProcess& gw, const std::string& worker) {
  std::vector<int64_t> pids;
  for (const auto& line :
       gw.LogLines({"\"event\":\"worker_start\"", absl::StrCat("\"worker\":\"", worker, "\"")})) {
    pids.push_back(JsonInt(line, "pid"));
  }
  return pids;
}

// "Z" when `pid` is a zombie, "" when it does not exist.
std::string ProcessState(int64_t pid) {
  std::string stat = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/stat"));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return "";
  return stat.substr(paren + 2, 1);
}

TEST(GatewaySupervisionTest, WorkerKilledMidStreamIsRestartedAndHealthFollows) {
  TempDir dir;
  auto gw = GatewayProcess::Start(dir, Config(dir));
  ASSERT_TRUE(gw.ok()) << gw.status();
  GatewayProcess& g = **gw;
  ASSERT_TRUE(WaitForHealth(g.channel(), "solid", 1, absl::Seconds(30))) << g.log();

  // The worker process dies before token 5.
  GenerateResult crashed = RunGenerate(g.stub(), "solid", "tokens=50 delay_ms=10 exit_at=5",
                                       {.timeout = absl::Seconds(30), .request_id = "crash-1"});
  EXPECT_EQ(crashed.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << crashed.status.error_message();
  // Tokens 0..4 were sent; the last ones may die in the worker's buffers with it.
  EXPECT_GE(crashed.messages.size(), 1u);
  EXPECT_LE(crashed.messages.size(), 5u);

  EXPECT_TRUE(
      g.WaitForLog({"\"event\":\"model_health\"", "\"model\":\"solid\"", "\"serving\":false"},
                   absl::Seconds(10)));
  EXPECT_TRUE(
      g.WaitForLog({"\"event\":\"worker_exit\"", "\"worker\":\"solid/0\""}, absl::Seconds(10)));
  ASSERT_TRUE(WaitForHealth(g.channel(), "solid", 1, absl::Seconds(30))) << g.log();
  EXPECT_EQ(
      g.LogLines({"\"event\":\"model_health\"", "\"model\":\"solid\"", "\"serving\":true"}).size(),
      2u);
  GenerateResult next = RunGenerate(g.stub(), "solid", "tokens=3", {.timeout = absl::Seconds(30)});
  EXPECT_TRUE(next.status.ok()) << next.status.error_message();
  EXPECT_EQ(next.messages.size(), 3u);

  std::vector<int64_t> pids = WorkerPids(g, "solid/0");
  ASSERT_EQ(pids.size(), 2u);
  EXPECT_NE(pids[0], pids[1]);
  EXPECT_EQ(ProcessState(pids[0]), "");  // reaped, not a zombie
  auto scrape = g.Scrape();
  ASSERT_TRUE(scrape.ok());
  EXPECT_THAT(MetricValue(*scrape, "jetserve_gateway_worker_restarts_total", {{"model", "solid"}}),
              Optional(1.0));
  EXPECT_THAT(MetricValue(*scrape, "jetserve_gateway_workers_up", {{"model", "solid"}}),
              Optional(1.0));
}

TEST(GatewaySupervisionTest, CrashLoopBacksOffAndIsReported) {
  TempDir dir;
  auto gw = GatewayProcess::Start(dir, Config(dir));
  ASSERT_TRUE(gw.ok()) << gw.status();
  GatewayProcess& g = **gw;
  // Delays 0.1, 0.2, 0.4, 0.8, 0.8 s: five exits take about 2.3 s.
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (absl::Now() < until &&
         g.LogLines({"\"event\":\"worker_exit\"", "\"worker\":\"crashy/0\""}).size() < 5) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  std::vector<int64_t> delays;
  for (const auto& line : g.LogLines({"\"event\":\"worker_exit\"", "\"worker\":\"crashy/0\""})) {
    delays.push_back(JsonInt(line, "restart_in_ms"));
  }
  ASSERT_GE(delays.size(), 5u) << g.log();
  delays.resize(5);
  EXPECT_THAT(delays, ElementsAre(100, 200, 400, 800, 800));

  // No busy loop: over two more seconds at most a few spawns (backoff_max is 0.8 s).
  const size_t spawns_before = WorkerPids(g, "crashy/0").size();
  absl::SleepFor(absl::Seconds(2));
  const size_t spawns = WorkerPids(g, "crashy/0").size() - spawns_before;
  EXPECT_LE(spawns, 4u);
  EXPECT_GE(spawns, 1u);
  // Every exited child was reaped.
  std::vector<int64_t> pids = WorkerPids(g, "crashy/0");
  for (size_t i = 0; i + 1 < pids.size(); ++i) EXPECT_NE(ProcessState(pids[i]), "Z") << pids[i];

  EXPECT_EQ(HealthOf(g.channel(), "crashy"), 2);
  ASSERT_TRUE(WaitForHealth(g.channel(), "solid", 1, absl::Seconds(30)));
  EXPECT_EQ(HealthOf(g.channel(), ""), 1);  // the other model serves
  grpc::ClientContext context;
  jetserve::v1::GetModelRequest request;
  request.set_name("crashy");
  jetserve::v1::ModelInfo info;
  ASSERT_TRUE(g.stub().GetModel(&context, request, &info).ok());
  EXPECT_EQ(info.state(), jetserve::v1::MODEL_STATE_FAILING);
  EXPECT_THAT(info.state_detail(), HasSubstr("exited with status"));
  EXPECT_EQ(info.ready_replicas(), 0);
  EXPECT_EQ(info.total_replicas(), 1);
  GenerateResult r = RunGenerate(g.stub(), "crashy", "tokens=1", {.timeout = absl::Seconds(10)});
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);

  auto scrape = g.Scrape();
  ASSERT_TRUE(scrape.ok());
  EXPECT_THAT(MetricValue(*scrape, "jetserve_gateway_workers_up", {{"model", "crashy"}}),
              Optional(0.0));
  auto restarts =
      MetricValue(*scrape, "jetserve_gateway_worker_restarts_total", {{"model", "crashy"}});
  ASSERT_TRUE(restarts.has_value());
  EXPECT_GE(*restarts, 5.0);
}

TEST(GatewaySupervisionTest, ShutdownDrainsAndReapsEveryWorker) {
  TempDir dir;
  auto gw = GatewayProcess::Start(dir, Config(dir));
  ASSERT_TRUE(gw.ok()) << gw.status();
  GatewayProcess& g = **gw;
  ASSERT_TRUE(WaitForHealth(g.channel(), "solid", 1, absl::Seconds(30))) << g.log();
  std::vector<int64_t> pids = WorkerPids(g, "solid/0");
  ASSERT_EQ(pids.size(), 1u);
  const std::string log_before = g.log();
  int status = g.Stop(absl::Seconds(20));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const std::string log = ReadFileOrEmpty(dir.File("gateway.log"));
  EXPECT_THAT(log, HasSubstr("\"event\":\"drain\""));  // the worker got the Drain RPC
  EXPECT_THAT(log, HasSubstr("\"event\":\"worker_stopped\""));
  EXPECT_EQ(ProcessState(pids[0]), "");
  EXPECT_EQ(kill(static_cast<pid_t>(pids[0]), 0), -1);
}

// A worker taken out of routing stops only once the calls routed to it have ended, also
// those whose request has not reached it yet. Stopping it at once made gRPC cancel such a
// call as it arrived (a reload under traffic lost about one call in 20000 that way).
TEST(GatewaySupervisionTest, StopWaitsForTheCallsRoutedToTheWorker) {
  using ::jetserve::gateway::Router;
  using ::jetserve::gateway::Supervisor;
  using ::jetserve::gateway::WorkerLease;
  TempDir dir;
  Router router(nullptr);
  router.AddModel({.name = "m"});
  ::jetserve::gateway::SupervisorOptions o;
  o.model = "m";
  o.worker_binary = FakeWorkerBinary();
  o.model_path = "/models/m";
  o.device = "cpu";
  o.socket_path = dir.File("m.sock");
  o.extra_args = {"--fake-event-log=" + dir.File("m.events")};
  o.health_interval = absl::Milliseconds(100);
  o.drain_grace_period = absl::Seconds(20);
  o.kill_grace_period = absl::Seconds(1);
  Supervisor supervisor(o, &router, nullptr);
  supervisor.Start();
  absl::Time until = absl::Now() + absl::Seconds(30);
  while (router.Status("m").ready_workers < 1 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(router.Status("m").ready_workers, 1);

  // A call routed to the worker; its request is not sent yet.
  std::optional<WorkerLease> lease;
  router.Acquire("m", absl::InfiniteFuture(),
                 [&lease](absl::StatusOr<WorkerLease> l) { lease = *std::move(l); });
  ASSERT_TRUE(lease.has_value());
  const absl::Time stop_start = absl::Now();
  std::thread stopper([&supervisor] { supervisor.Stop(); });
  // The worker leaves routing at once...
  until = absl::Now() + absl::Seconds(5);
  while (router.Status("m").ready_workers > 0 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(router.Status("m").ready_workers, 0);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(supervisor.GetStatus().state, Supervisor::State::kStopping);
  // ...but still runs, and serves the routed call when it arrives.
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    jetserve::worker::v1::GenerateRequest request;
    request.mutable_envelope()->set_request_id("late");
    request.mutable_request()->set_model("m");
    request.mutable_request()->set_prompt("tokens=2");
    auto reader = lease->endpoint().stub().Generate(&context, request);
    jetserve::v1::GenerateResponse response;
    int messages = 0;
    while (reader->Read(&response)) ++messages;
    const grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
    EXPECT_EQ(messages, 2);
  }
  EXPECT_EQ(CountEvents(dir.File("m.events"), "finished", "late"), 1);
  // Once the call's lease is released the worker drains and stops, well within the grace.
  lease.reset();
  stopper.join();
  EXPECT_LT(absl::Now() - stop_start, absl::Seconds(10));
  EXPECT_EQ(supervisor.GetStatus().state, Supervisor::State::kStopped);
}

}  // namespace
}  // namespace jetserve::testing
