// Multi-process test of one model served by several remote workers behind one name: the
// gateway spreads calls across three workers on three loopback addresses, keeps serving
// when one is killed (the call that finds it gone goes to another worker), and takes the
// restarted worker back into rotation.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/service/gateway_harness.h"

namespace jetserve::testing {
namespace {

// Runs `n` sequential Generate calls; counts answers by the worker's name (the fake
// backend writes "[NAME #0]") and failures under "".
std::map<std::string, int> SpreadOf(GatewayProcess& g, int n) {
  std::map<std::string, int> by_worker;
  for (int i = 0; i < n; ++i) {
    GenerateResult r = RunGenerate(g.stub(), "m", "tokens=1", {.timeout = absl::Seconds(20)});
    if (!r.status.ok()) {
      ++by_worker[""];
      continue;
    }
    std::vector<std::string> parts = absl::StrSplit(r.text(), absl::ByAnyChar("[ "));
    by_worker[parts.size() > 1 ? parts[1] : r.text()]++;
  }
  return by_worker;
}

int ReadyReplicas(GatewayProcess& g) {
  grpc::ClientContext context;
  jetserve::v1::GetModelRequest request;
  request.set_name("m");
  jetserve::v1::ModelInfo info;
  if (!g.stub().GetModel(&context, request, &info).ok()) return -1;
  return info.ready_replicas();
}

bool WaitForReady(GatewayProcess& g, int n) {
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (absl::Now() < until) {
    if (ReadyReplicas(g) == n) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

TEST(GatewayScaleTest, ThreeWorkersBehindOneNameSpreadSurviveAKillAndRejoin) {
  TempDir dir;
  std::vector<std::unique_ptr<FakeWorkerProcess>> workers;
  for (const char* host : {"127.0.0.1", "127.0.0.2", "127.0.0.3"}) {
    const std::string name = absl::StrFormat("w%c", host[8]);
    auto w = FakeWorkerProcess::Start(dir, name, {absl::StrCat("--listen=", host, ":0")});
    ASSERT_TRUE(w.ok()) << w.status();
    workers.push_back(*std::move(w));
  }
  const std::string config = absl::StrFormat(
      R"({"listen": "127.0.0.1:0",
          "supervision": {"healthInterval": "0.1s"},
          "models": [{"name": "m", "remote": {"addresses": ["%s", "%s", "%s"]}}]})",
      workers[0]->address(), workers[1]->address(), workers[2]->address());
  auto gw = GatewayProcess::Start(dir, config);
  ASSERT_TRUE(gw.ok()) << gw.status();
  GatewayProcess& g = **gw;
  ASSERT_TRUE(WaitForReady(g, 3)) << g.log();

  // Sequential calls on idle workers: least-outstanding with least-recently-used tie-break
  // is a round robin, 10 calls each (at least 5: a probe that times out on a loaded
  // machine may take one out of rotation for a moment).
  std::map<std::string, int> spread = SpreadOf(g, 30);
  EXPECT_EQ(spread.size(), 3u);
  EXPECT_EQ(spread.count(""), 0u);
  for (const char* w : {"w1", "w2", "w3"}) EXPECT_GE(spread[w], 5) << w;

  // w2 is killed without warning. No call fails: the one routed to the dead worker finds
  // the connection refused before anything reached the client, so the gateway takes w2 out
  // of rotation at once and gives the call to another worker.
  const std::string w2_address = workers[1]->address();
  workers[1]->Kill();
  spread = SpreadOf(g, 30);
  EXPECT_EQ(spread.count(""), 0u) << g.log();
  EXPECT_EQ(spread.count("w2"), 0u);
  EXPECT_EQ(spread["w1"] + spread["w3"], 30);
  EXPECT_TRUE(g.WaitForLog({"\"event\":\"request\"", "\"attempts\":2"}, absl::Seconds(5)))
      << g.log();
  ASSERT_TRUE(WaitForReady(g, 2)) << g.log();
  spread = SpreadOf(g, 10);
  EXPECT_EQ(spread.size(), 2u);
  EXPECT_GE(spread["w1"], 3);
  EXPECT_GE(spread["w3"], 3);

  // A new process on the same address (a restarted pod keeps its address behind a
  // static list) rejoins the rotation after its first successful probe.
  auto w2b = FakeWorkerProcess::Start(dir, "w2b", {absl::StrCat("--listen=", w2_address)});
  ASSERT_TRUE(w2b.ok()) << w2b.status();
  ASSERT_TRUE(WaitForReady(g, 3)) << g.log();
  spread = SpreadOf(g, 30);
  EXPECT_EQ(spread.size(), 3u);
  EXPECT_EQ(spread.count(""), 0u);
  for (const char* w : {"w1", "w2b", "w3"}) EXPECT_GE(spread[w], 5) << w;
}

}  // namespace
}  // namespace jetserve::testing
