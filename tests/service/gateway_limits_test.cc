// Multi-process tests of the gateway's limits and observability: capacity + bounded queue
// (RESOURCE_EXHAUSTED for exactly the excess calls, DEADLINE_EXCEEDED while queued), flow
// control for slow readers (the worker pauses, gateway memory stays flat), and exact
// metric values after a scripted set of calls, checked by `promtool check metrics`.
#include <stdio.h>
#include <sys/wait.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/service/gateway_harness.h"

namespace jetserve::testing {
namespace {

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer keeps freed memory in quarantine: RSS says nothing about buffering.
constexpr bool kCheckRss = false;
#else
constexpr bool kCheckRss = true;
#endif

using ::testing::Optional;

class GatewayLimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto model = [](const std::string& name, int capacity, const std::string& extra) {
      return absl::StrFormat(
          R"({"name": "%s", "path": "/models/%s", %s "local": {
               "args": ["--fake-capacity=%d", "--fake-event-log=%s"]}})",
          name, name, extra, capacity, dir_->File(name + ".events"));
    };
    std::string config = absl::StrFormat(
        R"({"listen": "127.0.0.1:0", "metricsListen": "127.0.0.1:0", "workerBinary": "%s",
            "runtimeDir": "%s/run",
            "supervision": {"healthInterval": "0.2s", "drainGracePeriod": "1s",
                            "killGracePeriod": "1s"},
            "models": [%s, %s, %s, %s]})",
        FakeWorkerBinary(), dir_->path(), model("q", 2, R"("queueLimit": 3,)"),
        model("slow", 4, ""), model("m1", 4, ""), model("m2", 4, ""));
    auto gw = GatewayProcess::Start(*dir_, config);
    ASSERT_TRUE(gw.ok()) << gw.status();
    gateway_ = gw->release();
    for (const char* m : {"q", "slow", "m1", "m2"}) {
      ASSERT_TRUE(WaitForHealth(gateway_->channel(), m, 1, absl::Seconds(30))) << gateway_->log();
    }
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(gateway_, nullptr); }

  static TempDir* dir_;
  static GatewayProcess* gateway_;
};

TempDir* GatewayLimitsTest::dir_ = nullptr;
GatewayProcess* GatewayLimitsTest::gateway_ = nullptr;

TEST_F(GatewayLimitsTest, CapacityPlusQueueThenExactlyTheExcessIsRejected) {
  // Capacity 2 + queue 3 = 5 calls admitted; 8 concurrent calls → exactly 3 rejected.
  // Each admitted call runs ~2 s, far longer than it takes to send all 8.
  constexpr int kCalls = 8;
  std::vector<GenerateResult> results(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      results[i] =
          RunGenerate(gateway_->stub(), "q", "tokens=20 delay_ms=100",
                      {.timeout = absl::Seconds(60), .request_id = absl::StrCat("cap-", i)});
    });
  }
  for (auto& t : threads) t.join();
  int ok = 0, exhausted = 0;
  for (int i = 0; i < kCalls; ++i) {
    const auto& r = results[i];
    if (r.status.ok()) {
      ++ok;
      EXPECT_EQ(r.messages.size(), 20u);
    } else {
      EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << r.status.error_message();
      ++exhausted;
      // Rejected calls never reached the worker.
      EXPECT_EQ(CountEvents(dir_->File("q.events"), "start", absl::StrCat("cap-", i)), 0);
    }
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(exhausted, 3);
}

TEST_F(GatewayLimitsTest, QueuedCallDeadlineExpiresBeforeReachingTheWorker) {
  std::vector<std::thread> busy;
  for (int i = 0; i < 2; ++i) {
    busy.emplace_back([&] {
      RunGenerate(gateway_->stub(), "q", "tokens=20 delay_ms=50", {.timeout = absl::Seconds(60)});
    });
  }
  // Wait until both long calls hold the worker.
  const absl::Time until = absl::Now() + absl::Seconds(20);
  while (absl::Now() < until) {
    auto scrape = gateway_->Scrape();
    if (scrape.ok() &&
        MetricValue(*scrape, "jetserve_gateway_requests_in_flight", {{"model", "q"}}) == 2.0) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  GenerateResult late =
      RunGenerate(gateway_->stub(), "q", "tokens=1",
                  {.timeout = absl::Milliseconds(200), .request_id = "queued-deadline"});
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  for (auto& t : busy) t.join();
  EXPECT_EQ(CountEvents(dir_->File("q.events"), "start", "queued-deadline"), 0);
}

TEST_F(GatewayLimitsTest, SlowReaderPausesTheWorkerAndGatewayMemoryStaysFlat) {
  // 1000 messages of 64 KiB = 64 MiB if anything buffered the whole stream.
  constexpr int kTokens = 1000;
  grpc::ClientContext context;
  context.AddMetadata("x-request-id", "slow-reader");
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
  jetserve::v1::GenerateRequest request;
  request.set_model("slow");
  request.set_prompt(absl::StrCat("tokens=", kTokens, " chunk_bytes=65536"));
  auto reader = gateway_->stub().Generate(&context, request);
  jetserve::v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));
  const std::string events = dir_->File("slow.events");
  // The worker fills the HTTP/2 windows and then pauses.
  EXPECT_TRUE(WaitForEvent(events, "paused", "slow-reader", absl::Seconds(20)));
  absl::SleepFor(absl::Milliseconds(500));
  const int64_t rss_paused = gateway_->RssKib();
  const int tokens_paused = CountEvents(events, "token", "slow-reader");
  absl::SleepFor(absl::Seconds(1));
  const int64_t rss_later = gateway_->RssKib();
  // Nothing more was produced while the client did not read.
  EXPECT_EQ(CountEvents(events, "token", "slow-reader"), tokens_paused);
  EXPECT_LT(tokens_paused, kTokens / 4);
  if (kCheckRss) {
    EXPECT_LT(rss_later - rss_paused, 4 * 1024);
  }

  int received = 1;
  int64_t rss_max = rss_later;
  while (reader->Read(&response)) {
    ASSERT_THAT(response.token_ids(),
                ::testing::ElementsAre(received % 256));  // the fake wraps ids
    ++received;
    if (received % 100 == 0) rss_max = std::max(rss_max, gateway_->RssKib());
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(received, kTokens);
  fprintf(stderr,
          "slow reader: %d of %d tokens produced while paused; gateway RSS %lld KiB "
          "paused, %lld KiB max while streaming\n",
          tokens_paused, kTokens, static_cast<long long>(rss_paused),
          static_cast<long long>(rss_max));
  // Streaming 64 MiB through the gateway grows it by far less than that.
  if (kCheckRss) {
    EXPECT_LT(rss_max - rss_paused, 24 * 1024)
        << "paused " << rss_paused << " KiB, max " << rss_max << " KiB";
  }
}

// Scripted calls on m1/m2 (no other test touches them) and one unknown model.
TEST_F(GatewayLimitsTest, MetricsCountExactlyAndPassPromtool) {
  auto stub = [&]() -> jetserve::v1::Jetserve::Stub& { return gateway_->stub(); };
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(RunGenerate(stub(), "m1", "tokens=2").status.ok());
  }
  EXPECT_EQ(RunGenerate(stub(), "m1", "tokens=5 fail_at=2 fail_code=FAILED_PRECONDITION")
                .status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(RunGenerate(stub(), "nope", "tokens=1").status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext context;
    jetserve::v1::TokenizeRequest request;
    request.set_model("m2");
    request.set_text("abc");
    jetserve::v1::TokenizeResponse response;
    ASSERT_TRUE(stub().Tokenize(&context, request, &response).ok());
  }
  {
    grpc::ClientContext context;
    jetserve::v1::EmbedRequest request;
    request.set_model("m2");
    request.add_inputs("x");
    jetserve::v1::EmbedResponse response;
    grpc::Status status = stub().Embed(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  auto scrape = gateway_->Scrape();
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  const std::string& s = *scrape;
  const char* kTotal = "jetserve_gateway_requests_total";
  const char* kCount = "jetserve_gateway_request_duration_seconds_count";
  EXPECT_THAT(MetricValue(s, kTotal, {{"model", "m1"}, {"method", "Generate"}, {"code", "OK"}}),
              Optional(3.0));
  EXPECT_THAT(
      MetricValue(s, kTotal,
                  {{"model", "m1"}, {"method", "Generate"}, {"code", "FAILED_PRECONDITION"}}),
      Optional(1.0));
  EXPECT_THAT(MetricValue(s, kTotal,
                          {{"model", "_unknown"}, {"method", "Generate"}, {"code", "NOT_FOUND"}}),
              Optional(1.0));
  EXPECT_THAT(MetricValue(s, kTotal, {{"model", "m2"}, {"method", "Tokenize"}, {"code", "OK"}}),
              Optional(2.0));
  EXPECT_THAT(MetricValue(s, kTotal, {{"model", "m2"}, {"method", "Embed"}, {"code", "OK"}}),
              Optional(1.0));
  EXPECT_THAT(MetricValue(s, kCount, {{"model", "m1"}, {"method", "Generate"}}), Optional(4.0));
  EXPECT_THAT(MetricValue(s, kCount, {{"model", "m2"}, {"method", "Tokenize"}}), Optional(2.0));
  EXPECT_THAT(MetricValue(s, kCount, {{"model", "m2"}, {"method", "Embed"}}), Optional(1.0));
  EXPECT_THAT(MetricValue(s, kCount, {{"model", "_unknown"}, {"method", "Generate"}}),
              Optional(1.0));
  EXPECT_THAT(MetricValue(s, "jetserve_gateway_request_duration_seconds_bucket",
                          {{"model", "m1"}, {"method", "Generate"}, {"le", "+Inf"}}),
              Optional(4.0));
  EXPECT_THAT(MetricValue(s, "jetserve_gateway_requests_in_flight", {{"model", "m1"}}),
              Optional(0.0));
  EXPECT_THAT(MetricValue(s, "jetserve_gateway_queue_depth", {{"model", "m1"}}), Optional(0.0));
  EXPECT_THAT(MetricValue(s, "jetserve_gateway_workers_up", {{"model", "m1"}}), Optional(1.0));
  EXPECT_THAT(MetricValue(s, "jetserve_gateway_worker_restarts_total", {{"model", "m1"}}),
              Optional(0.0));

  // promtool (Debian package "prometheus") lints the exposition format.
  if (system("command -v promtool > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  const std::string path = dir_->File("scrape.txt");
  {
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fwrite(s.data(), 1, s.size(), f);
    fclose(f);
  }
  FILE* p = popen(absl::StrCat("promtool check metrics < ", path, " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), p)) > 0) output.append(buffer, n);
  const int status = pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
}

}  // namespace
}  // namespace jetserve::testing
