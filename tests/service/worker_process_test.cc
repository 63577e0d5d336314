// The worker binaries as processes: jetserve-fake-worker serving, draining on SIGTERM,
// crashing at start, its /metrics passing promtool; the shipped jetserve-worker refusing
// what it cannot load, with a clear message and a non-zero exit.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/service/worker_test_client.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::testing {
namespace {

namespace wv1 = ::jetserve::worker::v1;
using ::testing::HasSubstr;

std::string FakeWorker() { return BinaryDir() + "/tests/service/jetserve-fake-worker"; }
std::string RealWorker() { return BinaryDir() + "/bin/jetserve-worker"; }

std::string TempPath(const std::string& name) {
  return absl::StrCat("/tmp/jetserve-worker-process-test-", getpid(), "-", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(FakeWorkerProcessTest, ServesGetInfoGenerateAndEventsThenDrainsOnSigterm) {
  const std::string socket = TempPath("fake.sock");
  const std::string events = TempPath("events.jsonl");
  unlink(events.c_str());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> worker,
                       ChildProcess::Start({FakeWorker(), "--model=unused", "--name=alpha",
                                            "--listen=unix:" + socket, "--fake-capacity=3",
                                            "--fake-event-log=" + events}));
  ASSERT_OK_AND_ASSIGN(std::string address, worker->WaitForListening(absl::Seconds(20)));
  EXPECT_EQ(address, "unix:" + socket);
  auto stub = ConnectWorker(address);

  grpc::ClientContext info_ctx;
  wv1::WorkerInfo info;
  ASSERT_TRUE(stub->GetInfo(&info_ctx, wv1::GetInfoRequest(), &info).ok());
  EXPECT_EQ(info.capacity().max_concurrent_requests(), 3);
  EXPECT_EQ(info.pid(), worker->pid());
  EXPECT_EQ(info.model().name(), "alpha");

  GenerateResult r = RunGenerate(*stub, MakeGenerateRequest("p1", "tokens=4"));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[2].text(), "[alpha #2]");

  // A stream running at SIGTERM finishes; the process then exits 0.
  grpc::ClientContext ctx;
  auto reader = stub->Generate(&ctx, MakeGenerateRequest("p2", "tokens=20 delay_ms=20"));
  jetserve::v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));
  worker->Signal(SIGTERM);
  int received = 1;
  while (reader->Read(&response)) ++received;
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(received, 20);
  EXPECT_EQ(worker->Wait(absl::Seconds(20)), 0) << worker->Stderr();

  const std::string log = ReadFile(events);
  const std::string pid = absl::StrCat("\"pid\":", worker->pid());
  EXPECT_THAT(log, HasSubstr(absl::StrCat(
                       "{\"event\":\"start\",\"request_id\":\"p1\",\"method\":\"Generate\","
                       "\"n\":0,",
                       pid, ",\"model\":\"alpha\"}")));
  EXPECT_THAT(
      log,
      HasSubstr("{\"event\":\"finished\",\"request_id\":\"p2\",\"method\":\"Generate\",\"n\":20,"));
  // One structured log line per request, joined by the request id.
  EXPECT_THAT(worker->Stderr(), HasSubstr("\"event\":\"request\",\"request_id\":\"p1\""));
  unlink(events.c_str());
}

TEST(FakeWorkerProcessTest, DrainGraceExpiryCancelsAndExitsZero) {
  const std::string events = TempPath("grace.jsonl");
  unlink(events.c_str());
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<ChildProcess> worker,
      ChildProcess::Start({FakeWorker(), "--model=m", "--name=beta", "--listen=127.0.0.1:0",
                           "--drain-grace=300ms", "--fake-event-log=" + events}));
  ASSERT_OK_AND_ASSIGN(std::string address, worker->WaitForListening(absl::Seconds(20)));
  auto stub = ConnectWorker(address);
  grpc::ClientContext ctx;
  auto reader = stub->Generate(&ctx, MakeGenerateRequest("forever", "tokens=1000000 delay_ms=5"));
  jetserve::v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));
  const absl::Time signalled = absl::Now();
  worker->Signal(SIGTERM);
  while (reader->Read(&response)) {
  }
  EXPECT_FALSE(reader->Finish().ok());
  EXPECT_EQ(worker->Wait(absl::Seconds(20)), 0) << worker->Stderr();
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(10));
  EXPECT_THAT(ReadFile(events), HasSubstr("{\"event\":\"cancelled\",\"request_id\":\"forever\""));
  unlink(events.c_str());
}

TEST(FakeWorkerProcessTest, SecondSignalCancelsAtOnce) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> worker,
                       ChildProcess::Start({FakeWorker(), "--model=m", "--name=delta",
                                            "--listen=127.0.0.1:0", "--drain-grace=10m"}));
  ASSERT_OK_AND_ASSIGN(std::string address, worker->WaitForListening(absl::Seconds(20)));
  auto stub = ConnectWorker(address);
  grpc::ClientContext ctx;
  auto reader = stub->Generate(&ctx, MakeGenerateRequest("stuck", "tokens=1000000 delay_ms=5"));
  jetserve::v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));
  worker->Signal(SIGTERM);
  EXPECT_FALSE(worker->Wait(absl::Milliseconds(300)).has_value()) << "drain must wait";
  worker->Signal(SIGINT);
  EXPECT_EQ(worker->Wait(absl::Seconds(10)), 0) << worker->Stderr();
  while (reader->Read(&response)) {
  }
  EXPECT_FALSE(reader->Finish().ok());
  EXPECT_THAT(worker->Stderr(), HasSubstr("\"event\":\"second_signal\""));
}

TEST(FakeWorkerProcessTest, CrashAtStartExitsOneWithMessage) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> worker,
                       ChildProcess::Start({FakeWorker(), "--model=m", "--name=c",
                                            "--listen=127.0.0.1:0", "--fake-crash-at-start"}));
  EXPECT_EQ(worker->Wait(absl::Seconds(20)), 1);
  EXPECT_THAT(worker->Stderr(), HasSubstr("fake crash at start"));
}

TEST(FakeWorkerProcessTest, MetricsScrapePassesPromtool) {
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<ChildProcess> worker,
      ChildProcess::Start({FakeWorker(), "--model=m", "--name=gamma", "--listen=127.0.0.1:0",
                           "--metrics-listen=127.0.0.1:0"}));
  ASSERT_OK_AND_ASSIGN(std::string address, worker->WaitForListening(absl::Seconds(20)));
  ASSERT_OK_AND_ASSIGN(std::string metrics_address,
                       worker->WaitForStdoutLine("metrics on ", absl::Seconds(5)));
  auto stub = ConnectWorker(address);
  ASSERT_TRUE(RunGenerate(*stub, MakeGenerateRequest("m1", "tokens=3")).status.ok());
  EXPECT_FALSE(RunGenerate(*stub, MakeGenerateRequest("m2", "fail_at=0")).status.ok());

  grpc::ClientContext info_ctx;
  wv1::WorkerInfo info;
  ASSERT_TRUE(stub->GetInfo(&info_ctx, wv1::GetInfoRequest(), &info).ok());
  EXPECT_EQ(info.metrics_address(), metrics_address);

  // The request counter is bumped when the server finishes the call, just after the client
  // sees the status: poll until nothing is in flight.
  std::string scrape;
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (absl::Now() < until) {
    ASSERT_OK_AND_ASSIGN(scrape, HttpGet(metrics_address, "/metrics"));
    if (scrape.find("jetserve_worker_requests_in_flight{model=\"gamma\"} 0") != std::string::npos) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(scrape, HasSubstr("jetserve_worker_requests_total{code=\"OK\",method=\"Generate\","
                                "model=\"gamma\"} 1"));
  EXPECT_THAT(scrape, HasSubstr("jetserve_worker_generated_tokens_total{model=\"gamma\"} 3"));

  if (access("/usr/bin/promtool", X_OK) != 0 && system("command -v promtool >/dev/null") != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus): scrape not linted";
  }
  const std::string file = TempPath("scrape.txt");
  {
    std::ofstream out(file);
    out << scrape;
  }
  const std::string command = absl::StrCat("promtool check metrics < ", file, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  const int rc = pclose(pipe);
  EXPECT_EQ(rc, 0) << output;
  unlink(file.c_str());
}

struct BadStart {
  std::vector<std::string> args;
  int exit_code;
  std::string message;
};

class RealWorkerRefusesTest : public ::testing::TestWithParam<BadStart> {};

TEST_P(RealWorkerRefusesTest, ExitsNonZeroWithClearMessage) {
  std::vector<std::string> argv = {RealWorker()};
  for (const std::string& a : GetParam().args) argv.push_back(a);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> worker, ChildProcess::Start(argv));
  EXPECT_EQ(worker->Wait(absl::Seconds(20)), GetParam().exit_code) << worker->Stderr();
  EXPECT_THAT(worker->Stderr(), HasSubstr(GetParam().message));
  EXPECT_EQ(worker->Stdout(), "");  // never got to "listening on"
}

std::string GgufFile() {
  const std::string path = TempPath("model.gguf");
  std::ofstream(path) << "GGUF\x03";
  return path;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RealWorkerRefusesTest,
    ::testing::Values(
        BadStart{{"--model=/nonexistent/model.gguf", "--name=m", "--listen=127.0.0.1:0"},
                 1,
                 "jetserve-worker: model file \"/nonexistent/model.gguf\" does not exist"},
        BadStart{{"--model=" + GgufFile(), "--name=m", "--listen=127.0.0.1:0"},
                 1,
                 "file truncated: version at offset 4 needs 4 bytes"},
        BadStart{{"--model=/etc/hostname", "--name=m", "--listen=127.0.0.1:0"},
                 1,
                 "is neither a GGUF file"},
        BadStart{{"--model=m.gguf", "--name=m", "--listen=127.0.0.1"},
                 2,
                 "--listen \"127.0.0.1\" has no port"},
        BadStart{{"--model=m.gguf", "--name=m", "--listen=127.0.0.1:0", "--device=gpu"},
                 2,
                 "--device \"gpu\": expected \"cpu\", \"cuda\" or \"cuda:N\""},
        BadStart{{"--model=m.gguf", "--name=bad name", "--listen=127.0.0.1:0"},
                 2,
                 "--name \"bad name\" contains ' '"},
        BadStart{{"--name=m", "--listen=127.0.0.1:0"}, 2, "--model is required"}));

}  // namespace
}  // namespace jetserve::testing
