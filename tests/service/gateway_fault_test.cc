// Multi-process fault tests of the gateway with jetserve-fake-worker children:
// cancellation at each stage of a call (queued, before the first token, mid-stream, just
// before the end) frees its slot and leaves a concurrent call untouched; a unary call's
// deadline reaches the worker; a client process killed mid-stream (no cancel sent) stops
// the worker's work; a hung worker (SIGSTOP) is taken out of routing by its failed health
// probes (calls fail over to the other replica, or get UNAVAILABLE with none), then killed
// and restarted. Worker crashes mid-stream are covered by gateway_supervision_test.
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/service/gateway_harness.h"

namespace jetserve::testing {
namespace {

namespace v1 = ::jetserve::v1;

using ::testing::Optional;

// Used by ClientProcessKilledMidStreamStopsTheWorker: run in a child process (the test
// binary itself, with this filter), it starts a stream and waits to be killed.
constexpr char kHolderPortEnv[] = "JETSERVE_FAULT_HOLDER_PORT";

TEST(GatewayFaultHolder, HoldStreamUntilKilled) {
  const char* port = getenv(kHolderPortEnv);
  if (port == nullptr) GTEST_SKIP() << "helper for ClientProcessKilledMidStreamStopsTheWorker";
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  auto stub = v1::Jetserve::NewStub(channel);
  grpc::ClientContext context;
  context.AddMetadata("x-request-id", "rid-holder");
  v1::GenerateRequest request;
  request.set_model("f");
  request.set_prompt("tokens=100000 delay_ms=10");
  auto reader = stub->Generate(&context, request);
  v1::GenerateResponse response;
  while (reader->Read(&response)) {
  }
  _exit(0);  // never reached while the gateway streams: the parent kills this process
}

std::string Config(const TempDir& dir) {
  return absl::StrFormat(
      R"({"listen": "127.0.0.1:0", "metricsListen": "127.0.0.1:0", "workerBinary": "%s",
          "runtimeDir": "%s/run",
          "supervision": {"healthInterval": "0.1s", "backoffInitial": "0.1s",
                          "drainGracePeriod": "1s", "killGracePeriod": "1s"},
          "models": [
            {"name": "f", "path": "/models/f", "local": {
             "args": ["--fake-capacity=2", "--fake-event-log=%s"]}},
            {"name": "pair", "path": "/models/pair", "local": {"replicas": 2,
             "args": ["--fake-capacity=4", "--fake-event-log=%s"]}},
            {"name": "solo", "path": "/models/solo", "local": {"args": ["--fake-capacity=4"]}}]})",
      FakeWorkerBinary(), dir.path(), dir.File("f.events"), dir.File("pair.events"));
}

class GatewayFaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto gw = GatewayProcess::Start(*dir_, Config(*dir_));
    ASSERT_TRUE(gw.ok()) << gw.status();
    gateway_ = gw->release();
    for (const char* m : {"f", "pair", "solo"}) {
      ASSERT_TRUE(WaitForHealth(gateway_->channel(), m, 1, absl::Seconds(30))) << gateway_->log();
    }
    ASSERT_TRUE(WaitForReadyReplicas(gateway_->stub(), "pair", 2, absl::Seconds(30)));
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(gateway_, nullptr); }

  static std::string Events() { return dir_->File("f.events"); }

  static TempDir* dir_;
  static GatewayProcess* gateway_;
};

TempDir* GatewayFaultTest::dir_ = nullptr;
GatewayProcess* GatewayFaultTest::gateway_ = nullptr;

// A stream started on its own thread that the test cancels after `read_before_cancel`
// messages (-1: after `cancel_after`, whatever arrived).
struct Stream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader;
  std::vector<v1::GenerateResponse> messages;
  grpc::Status status;

  Stream(v1::Jetserve::Stub& stub, const std::string& id, const std::string& prompt) {
    context.AddMetadata("x-request-id", id);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::GenerateRequest request;
    request.set_model("f");
    request.set_prompt(prompt);
    reader = stub.Generate(&context, request);
  }
  bool Read(int n) {
    v1::GenerateResponse response;
    for (int i = 0; i < n; ++i) {
      if (!reader->Read(&response)) return false;
      messages.push_back(response);
    }
    return true;
  }
  void Finish() {
    v1::GenerateResponse response;
    while (reader->Read(&response)) messages.push_back(response);
    status = reader->Finish();
  }
};

TEST_F(GatewayFaultTest, CancellationAtEachStageFreesTheSlotAndSparesOthers) {
  GatewayProcess& g = *gateway_;
  const std::string events = Events();
  // The bystander holds one of the worker's two slots throughout.
  GenerateResult bystander;
  std::thread bystander_thread([&] {
    bystander = RunGenerate(g.stub(), "f", "tokens=120 delay_ms=25",
                            {.timeout = absl::Seconds(30), .request_id = "rid-bystander"});
  });
  ASSERT_TRUE(WaitForEvent(events, "token", "rid-bystander", absl::Seconds(10)));

  // Mid-stream, taking the second slot.
  Stream mid(g.stub(), "rid-mid", "tokens=1000 delay_ms=10");
  ASSERT_TRUE(mid.Read(3));
  // Queued behind the two busy slots, cancelled there: never reaches the worker.
  {
    Stream queued(g.stub(), "rid-queued", "tokens=3");
    absl::SleepFor(absl::Milliseconds(200));
    queued.context.TryCancel();
    queued.Finish();
    EXPECT_EQ(queued.status.error_code(), grpc::StatusCode::CANCELLED);
    EXPECT_TRUE(queued.messages.empty());
  }
  mid.context.TryCancel();
  mid.Finish();
  EXPECT_EQ(mid.status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitForEvent(events, "cancelled", "rid-mid", absl::Seconds(10)));

  // Before the first token (the fake's stand-in for prefill: a 2 s wait before token 0).
  {
    Stream first(g.stub(), "rid-first", "tokens=3 delay_ms=2000");
    ASSERT_TRUE(WaitForEvent(events, "start", "rid-first", absl::Seconds(10)));
    first.context.TryCancel();
    first.Finish();
    EXPECT_EQ(first.status.error_code(), grpc::StatusCode::CANCELLED);
    EXPECT_TRUE(first.messages.empty());
    EXPECT_TRUE(WaitForEvent(events, "cancelled", "rid-first", absl::Seconds(10)));
  }
  // Just before the end: 9 of 10 tokens read, the last one 300 ms away.
  {
    Stream last(g.stub(), "rid-last", "tokens=10 delay_ms=300");
    ASSERT_TRUE(last.Read(9));
    last.context.TryCancel();
    last.Finish();
    EXPECT_EQ(last.status.error_code(), grpc::StatusCode::CANCELLED);
    EXPECT_TRUE(WaitForEvent(events, "cancelled", "rid-last", absl::Seconds(10)));
    EXPECT_EQ(CountEvents(events, "finished", "rid-last"), 0);
  }
  bystander_thread.join();
  EXPECT_TRUE(bystander.status.ok()) << bystander.status.error_message();
  EXPECT_EQ(bystander.messages.size(), 120u);
  EXPECT_EQ(CountEvents(events, "start", "rid-queued"), 0);
  for (const char* id : {"rid-mid", "rid-first", "rid-last"}) {
    EXPECT_EQ(CountEvents(events, "finished", id), 0) << id;
  }

  // Nothing leaked: both slots take a call at once, and the gauges are back to zero.
  Stream a(g.stub(), "rid-after-a", "tokens=2 delay_ms=300");
  Stream b(g.stub(), "rid-after-b", "tokens=2 delay_ms=300");
  EXPECT_TRUE(WaitForEvent(events, "start", "rid-after-a", absl::Seconds(5)));
  EXPECT_TRUE(WaitForEvent(events, "start", "rid-after-b", absl::Seconds(5)));
  a.Finish();
  b.Finish();
  EXPECT_TRUE(a.status.ok());
  EXPECT_TRUE(b.status.ok());
  auto scrape = g.Scrape();
  ASSERT_TRUE(scrape.ok());
  EXPECT_THAT(MetricValue(*scrape, "jetserve_gateway_requests_in_flight", {{"model", "f"}}),
              Optional(0.0));
  EXPECT_THAT(MetricValue(*scrape, "jetserve_gateway_queue_depth", {{"model", "f"}}),
              Optional(0.0));
}

TEST_F(GatewayFaultTest, UnaryDeadlineReachesTheWorker) {
  grpc::ClientContext context;
  context.AddMetadata("x-request-id", "rid-unary-deadline");
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
  v1::EmbedRequest request;
  request.set_model("f");
  request.add_inputs("delay_ms=5000");
  v1::EmbedResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status = gateway_->stub().Embed(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_TRUE(WaitForEvent(Events(), "deadline", "rid-unary-deadline", absl::Seconds(10)));
  EXPECT_EQ(CountEvents(Events(), "finished", "rid-unary-deadline"), 0);
}

TEST_F(GatewayFaultTest, ClientProcessKilledMidStreamStopsTheWorker) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  ASSERT_GT(n, 0);
  self[n] = '\0';
  const std::string port = absl::StrCat(gateway_->port());
  const pid_t parent = getpid();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    setenv(kHolderPortEnv, port.c_str(), 1);
    execl(self, self, "--gtest_filter=GatewayFaultHolder.HoldStreamUntilKilled",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  const bool streaming = WaitForEvent(Events(), "token", "rid-holder", absl::Seconds(20));
  kill(child, SIGKILL);  // no RST_STREAM, no GOAWAY: the connection just drops
  waitpid(child, nullptr, 0);
  ASSERT_TRUE(streaming);
  EXPECT_TRUE(WaitForEvent(Events(), "cancelled", "rid-holder", absl::Seconds(10)));
  EXPECT_TRUE(gateway_->WaitForLog(
      {"\"event\":\"request\"", "\"request_id\":\"rid-holder\"", "\"code\":\"CANCELLED\""},
      absl::Seconds(10)));
}

// Pid of the latest worker_start of `worker`.
int64_t LatestPid(const GatewayProcess& g, const std::string& worker) {
  int64_t pid = -1;
  for (const auto& line :
       g.LogLines({"\"event\":\"worker_start\"", absl::StrCat("\"worker\":\"", worker, "\"")})) {
    pid = JsonInt(line, "pid");
  }
  return pid;
}

TEST_F(GatewayFaultTest, HungWorkerIsDetectedFailedOverAndRestarted) {
  GatewayProcess& g = *gateway_;
  const int64_t pair_pid = LatestPid(g, "pair/0");
  const int64_t solo_pid = LatestPid(g, "solo/0");
  ASSERT_GT(pair_pid, 0);
  ASSERT_GT(solo_pid, 0);
  // Two streams: the router gives each replica one.
  std::vector<GenerateResult> streams(2);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      streams[i] =
          // The deadline (3 s) comes before the hung worker is killed (4 probes of 1 s).
          RunGenerate(g.stub(), "pair", "tokens=50 delay_ms=20", {.timeout = absl::Seconds(3)});
    });
  }
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_EQ(kill(static_cast<pid_t>(pair_pid), SIGSTOP), 0);
  ASSERT_EQ(kill(static_cast<pid_t>(solo_pid), SIGSTOP), 0);
  for (auto& t : threads) t.join();
  // The stream on the stopped worker ends at its deadline; the other completes.
  int ok = 0, deadline = 0;
  for (const auto& r : streams) {
    ok += r.status.ok() ? 1 : 0;
    deadline += r.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ? 1 : 0;
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(deadline, 1) << streams[0].status.error_message() << " / "
                         << streams[1].status.error_message();

  // Detected by the health probes: out of routing, calls go to the other replica.
  const absl::Time until = absl::Now() + absl::Seconds(20);
  while (absl::Now() < until && HealthOf(g.channel(), "solo") == 1) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(HealthOf(g.channel(), "solo"), 2);
  GenerateResult solo = RunGenerate(g.stub(), "solo", "tokens=1", {.timeout = absl::Seconds(5)});
  EXPECT_EQ(solo.status.error_code(), grpc::StatusCode::UNAVAILABLE) << solo.status.error_message();
  for (int i = 0; i < 6; ++i) {
    GenerateResult r = RunGenerate(g.stub(), "pair", "tokens=2", {.timeout = absl::Seconds(5)});
    EXPECT_TRUE(r.status.ok()) << i << ": " << r.status.error_message();
  }
  // Then killed and restarted.
  ASSERT_TRUE(
      g.WaitForLog({"\"event\":\"worker_hung\"", "\"worker\":\"pair/0\""}, absl::Seconds(20)))
      << g.log();
  ASSERT_TRUE(
      g.WaitForLog({"\"event\":\"worker_hung\"", "\"worker\":\"solo/0\""}, absl::Seconds(20)));
  ASSERT_TRUE(WaitForReadyReplicas(g.stub(), "pair", 2, absl::Seconds(20)));
  ASSERT_TRUE(WaitForHealth(g.channel(), "solo", 1, absl::Seconds(20)));
  EXPECT_NE(LatestPid(g, "pair/0"), pair_pid);
  EXPECT_NE(LatestPid(g, "solo/0"), solo_pid);
  EXPECT_EQ(kill(static_cast<pid_t>(pair_pid), 0), -1);  // killed and reaped
  EXPECT_TRUE(RunGenerate(g.stub(), "solo", "tokens=1", {.timeout = absl::Seconds(5)}).status.ok());
}

}  // namespace
}  // namespace jetserve::testing
