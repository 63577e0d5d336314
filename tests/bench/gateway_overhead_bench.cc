// Gateway overhead benchmark: the same calls sent straight to a worker and through the
// gateway, in the same run, alternating rounds, reporting medians, p99 and ratios.
//
//   jetserve-gateway-bench --fake-worker=PATH --gateway=PATH [--requests=2000]
//                          [--rounds=5] [--concurrency=8] [--stream-tokens=32]
//
// The worker is the test-only fake worker (no model compute), so every microsecond
// measured is serving overhead: gRPC, the worker's own layer and, on the gateway path,
// routing and proxying. Both listen on Unix sockets, as local workers do in production.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "jetserve/v1/service.grpc.pb.h"
#include "jetserve/worker/v1/worker.grpc.pb.h"

extern char** environ;

namespace {

namespace v1 = ::jetserve::v1;
namespace wv1 = ::jetserve::worker::v1;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string fake_worker;
  std::string gateway;
  int requests = 2000;
  int rounds = 5;
  int concurrency = 8;
  int stream_tokens = 32;
};

bool ParseFlag(const std::string& arg, const char* name, std::string* out) {
  const std::string prefix = absl::StrCat("--", name, "=");
  if (arg.rfind(prefix, 0) != 0) return false;
  *out = arg.substr(prefix.size());
  return true;
}

class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log_path) {
    std::vector<char*> cargv;
    for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid_, cargv[0], &actions, nullptr, cargv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Process() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  bool ok() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

bool WaitServing(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    if (stub->Check(&ctx, req, &resp).ok() &&
        resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// One call of each kind, on either path. Returns false on a failed call.
class Target {
 public:
  virtual ~Target() = default;
  virtual bool Unary() = 0;
  virtual bool Stream(int tokens) = 0;
};

class DirectTarget : public Target {
 public:
  explicit DirectTarget(std::shared_ptr<grpc::Channel> ch) : stub_(wv1::Worker::NewStub(ch)) {}
  bool Unary() override {
    wv1::TokenizeRequest req;
    req.mutable_envelope()->set_request_id("bench");
    req.mutable_request()->set_model("bench");
    req.mutable_request()->set_text("The quick brown fox jumps over the lazy dog.");
    v1::TokenizeResponse resp;
    grpc::ClientContext ctx;
    return stub_->Tokenize(&ctx, req, &resp).ok();
  }
  bool Stream(int tokens) override {
    wv1::GenerateRequest req;
    req.mutable_envelope()->set_request_id("bench");
    req.mutable_request()->set_model("bench");
    req.mutable_request()->set_prompt(absl::StrCat("tokens=", tokens, " delay_ms=0"));
    grpc::ClientContext ctx;
    auto reader = stub_->Generate(&ctx, req);
    v1::GenerateResponse resp;
    int n = 0;
    while (reader->Read(&resp)) n += resp.token_ids_size();
    return reader->Finish().ok() && n == tokens;
  }

 private:
  std::unique_ptr<wv1::Worker::Stub> stub_;
};

class GatewayTarget : public Target {
 public:
  explicit GatewayTarget(std::shared_ptr<grpc::Channel> ch) : stub_(v1::Jetserve::NewStub(ch)) {}
  bool Unary() override {
    v1::TokenizeRequest req;
    req.set_model("bench");
    req.set_text("The quick brown fox jumps over the lazy dog.");
    v1::TokenizeResponse resp;
    grpc::ClientContext ctx;
    return stub_->Tokenize(&ctx, req, &resp).ok();
  }
  bool Stream(int tokens) override {
    v1::GenerateRequest req;
    req.set_model("bench");
    req.set_prompt(absl::StrCat("tokens=", tokens, " delay_ms=0"));
    grpc::ClientContext ctx;
    auto reader = stub_->Generate(&ctx, req);
    v1::GenerateResponse resp;
    int n = 0;
    while (reader->Read(&resp)) n += resp.token_ids_size();
    return reader->Finish().ok() && n == tokens;
  }

 private:
  std::unique_ptr<v1::Jetserve::Stub> stub_;
};

struct Sample {
  std::vector<double> latencies_us;  // sequential calls
  double throughput = 0;             // calls/s with `concurrency` callers
  int failures = 0;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

template <typename Call>
Sample Measure(int requests, int concurrency, Call call) {
  Sample s;
  s.latencies_us.reserve(requests);
  for (int i = 0; i < requests; ++i) {
    const auto t0 = Clock::now();
    if (!call()) ++s.failures;
    s.latencies_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::atomic<int> next{0}, failures{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      while (next.fetch_add(1) < requests) {
        if (!call()) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  s.throughput = requests / std::chrono::duration<double>(Clock::now() - t0).count();
  s.failures += failures.load();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    std::string v;
    if (ParseFlag(a, "fake-worker", &opt.fake_worker) || ParseFlag(a, "gateway", &opt.gateway)) {
      continue;
    }
    int* target = nullptr;
    for (auto [name, field] : {std::pair{"requests", &opt.requests},
                               {"rounds", &opt.rounds},
                               {"concurrency", &opt.concurrency},
                               {"stream-tokens", &opt.stream_tokens}}) {
      if (ParseFlag(a, name, &v)) target = field;
    }
    if (target == nullptr || !absl::SimpleAtoi(v, target) || *target <= 0) {
      std::fprintf(stderr, "jetserve-gateway-bench: bad argument %s\n", a.c_str());
      return 2;
    }
  }
  if (opt.fake_worker.empty() || opt.gateway.empty()) {
    std::fprintf(stderr,
                 "usage: jetserve-gateway-bench --fake-worker=PATH --gateway=PATH "
                 "[--requests=N] [--rounds=N] [--concurrency=N] [--stream-tokens=N]\n");
    return 2;
  }

  char tmpl[] = "/tmp/jetserve-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::filesystem::path dir = tmpl;
  const std::string worker_sock = (dir / "worker.sock").string();
  const std::string gateway_sock = (dir / "gateway.sock").string();
  {
    std::ofstream cfg(dir / "gateway.json");
    cfg << "{\"listen\": \"unix:" << gateway_sock << "\", \"models\": [{\"name\": \"bench\", "
        << "\"remote\": {\"addresses\": [\"unix:" << worker_sock << "\"]}, "
        << "\"queue_limit\": 1024}]}";
  }
  int status = 0;
  {
    Process worker({opt.fake_worker, "--model", "/dev/null", "--name", "bench", "--listen",
                    "unix:" + worker_sock, "--fake-capacity=1024"},
                   (dir / "worker.log").string());
    Process gateway({opt.gateway, "--config", (dir / "gateway.json").string()},
                    (dir / "gateway.log").string());
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    auto worker_ch =
        grpc::CreateCustomChannel("unix:" + worker_sock, grpc::InsecureChannelCredentials(), args);
    auto gateway_ch =
        grpc::CreateCustomChannel("unix:" + gateway_sock, grpc::InsecureChannelCredentials(), args);
    if (!worker.ok() || !gateway.ok() || !WaitServing(worker_ch, "") ||
        !WaitServing(gateway_ch, "bench")) {
      std::fprintf(stderr,
                   "jetserve-gateway-bench: worker or gateway did not become ready "
                   "(logs in %s)\n",
                   dir.c_str());
      return 1;
    }
    DirectTarget direct(worker_ch);
    GatewayTarget via(gateway_ch);
    Sample unary[2], stream[2];
    for (int r = 0; r < opt.rounds; ++r) {
      // Alternate which path goes first so warm-up and drift favour neither.
      for (int k = 0; k < 2; ++k) {
        const int which = (r + k) % 2;
        Target* t = which == 0 ? static_cast<Target*>(&direct) : &via;
        Sample u = Measure(opt.requests, opt.concurrency, [t] { return t->Unary(); });
        Sample s = Measure(opt.requests / 4 + 1, opt.concurrency,
                           [t, &opt] { return t->Stream(opt.stream_tokens); });
        unary[which].latencies_us.insert(unary[which].latencies_us.end(), u.latencies_us.begin(),
                                         u.latencies_us.end());
        unary[which].throughput += u.throughput / opt.rounds;
        unary[which].failures += u.failures;
        stream[which].latencies_us.insert(stream[which].latencies_us.end(), s.latencies_us.begin(),
                                          s.latencies_us.end());
        stream[which].throughput += s.throughput / opt.rounds;
        stream[which].failures += s.failures;
      }
    }
    std::printf("gateway overhead: %d rounds x %d calls, concurrency %d, stream of %d tokens\n",
                opt.rounds, opt.requests, opt.concurrency, opt.stream_tokens);
    std::printf("%-22s %12s %12s %12s %14s\n", "call", "p50 us", "p99 us", "calls/s", "failures");
    const char* names[2] = {"direct", "gateway"};
    for (auto [label, samples] :
         {std::pair{"unary Tokenize", unary}, {"stream Generate", stream}}) {
      for (int w = 0; w < 2; ++w) {
        std::printf("%-22s %12.1f %12.1f %12.0f %14d\n", absl::StrCat(label, " ", names[w]).c_str(),
                    Percentile(samples[w].latencies_us, 0.5),
                    Percentile(samples[w].latencies_us, 0.99), samples[w].throughput,
                    samples[w].failures);
        if (samples[w].failures > 0) status = 1;
      }
      const double p50d = Percentile(samples[0].latencies_us, 0.5);
      const double p50g = Percentile(samples[1].latencies_us, 0.5);
      const double p99d = Percentile(samples[0].latencies_us, 0.99);
      const double p99g = Percentile(samples[1].latencies_us, 0.99);
      std::printf(
          "%-22s added p50 %+.1f us (x%.2f), added p99 %+.1f us (x%.2f), "
          "throughput x%.2f\n",
          label, p50g - p50d, p50g / p50d, p99g - p99d, p99g / p99d,
          samples[1].throughput / samples[0].throughput);
    }
  }
  std::error_code ec;
  if (status == 0) std::filesystem::remove_all(dir, ec);
  return status;
}
