#include "tests/service/gateway_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gateway/worker_endpoint.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "jetserve/config/v1/gateway_config.pb.h"

namespace jetserve::testing {
namespace {

pid_t SpawnGateway(const std::string& config_path, const std::string& log_path) {
  const std::string binary = GatewayBinary();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // Child: the gateway dies with the test (and its workers with it).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  FILE* log = freopen(log_path.c_str(), "a", stderr);
  if (log == nullptr) _exit(126);
  dup2(fileno(stderr), STDOUT_FILENO);
  execl(binary.c_str(), binary.c_str(), "--config", config_path.c_str(),
        static_cast<char*>(nullptr));
  _exit(127);
}

bool LineHasAll(absl::string_view line, const std::vector<std::string>& parts) {
  for (const auto& p : parts) {
    if (!absl::StrContains(line, p)) return false;
  }
  return true;
}

}  // namespace

std::string BinaryPath(const std::string& relative) {
  const char* dir = getenv("JETSERVE_BINARY_DIR");
  return absl::StrCat(dir != nullptr ? dir : ".", "/", relative);
}
std::string GatewayBinary() { return BinaryPath("bin/jetserve-gateway"); }
std::string FakeWorkerBinary() { return BinaryPath("tests/service/jetserve-fake-worker"); }

TempDir::TempDir() {
  std::string pattern = "/tmp/jsgw-XXXXXX";
  if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::unique_ptr<GatewayProcess>> GatewayProcess::Start(
    const TempDir& dir, const std::string& config_json) {
  const std::string config_path = dir.File("gateway.json");
  {
    std::ofstream out(config_path);
    out << config_json;
  }
  std::unique_ptr<GatewayProcess> gw(new GatewayProcess());
  gw->log_path_ = dir.File("gateway.log");
  gw->pid_ = SpawnGateway(config_path, gw->log_path_);
  if (gw->pid_ < 0) return absl::InternalError("fork failed");
  jetserve::config::v1::GatewayConfig parsed;
  const bool want_metrics =
      google::protobuf::util::JsonStringToMessage(config_json, &parsed).ok() &&
      !parsed.metrics_listen().empty();
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (absl::Now() < until) {
    for (const auto& line : gw->LogLines({"\"event\":\"listening\""})) {
      gw->port_ = static_cast<int>(JsonInt(line, "port"));
    }
    for (const auto& line : gw->LogLines({"\"event\":\"metrics_listening\""})) {
      gw->metrics_port_ = static_cast<int>(JsonInt(line, "port"));
    }
    if (gw->port_ > 0 && (!want_metrics || gw->metrics_port_ > 0)) break;
    int status;
    if (waitpid(gw->pid_, &status, WNOHANG) == gw->pid_) {
      gw->pid_ = -1;
      return absl::InternalError(absl::StrCat("gateway exited early: ", gw->log()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (gw->port_ <= 0) return absl::DeadlineExceededError("gateway did not report its port");
  gw->channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", gw->port_),
                                     grpc::InsecureChannelCredentials());
  gw->stub_ = jetserve::v1::Jetserve::NewStub(gw->channel_);
  return gw;
}

GatewayProcess::~GatewayProcess() { Stop(); }

std::vector<std::string> GatewayProcess::LogLines(const std::vector<std::string>& parts) const {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(log(), '\n')) {
    if (LineHasAll(line, parts)) out.emplace_back(line);
  }
  return out;
}

bool GatewayProcess::WaitForLog(const std::vector<std::string>& parts,
                                absl::Duration timeout) const {
  const absl::Time until = absl::Now() + timeout;
  do {
    if (!LogLines(parts).empty()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  } while (absl::Now() < until);
  return false;
}

int64_t GatewayProcess::RssKib() const {
  std::string status = ReadFileOrEmpty(absl::StrCat("/proc/", pid_, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, "VmRSS:")) {
      int64_t kib = 0;
      line = absl::StripAsciiWhitespace(line);
      line = line.substr(0, line.find(' '));
      if (absl::SimpleAtoi(line, &kib)) return kib;
    }
  }
  return -1;
}

int GatewayProcess::Stop(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const absl::Time until = absl::Now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) {
      status = -1;
      break;
    }
    if (absl::Now() > until) {
      std::string text = log();
      fprintf(stderr, "gateway %d did not exit within %s of SIGTERM; killing it. Log tail:\n%s\n",
              static_cast<int>(pid_), absl::FormatDuration(timeout).c_str(),
              text.substr(text.size() > 4000 ? text.size() - 4000 : 0).c_str());
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  pid_ = -1;
  return status;
}

absl::StatusOr<std::string> GatewayProcess::Scrape() const {
  if (metrics_port_ <= 0) return absl::FailedPreconditionError("metrics are off");
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket");
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(metrics_port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect: ", strerror(errno)));
  }
  const std::string request =
      "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError("write");
  }
  std::string response;
  char buffer[8192];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  close(fd);
  size_t body = response.find("\r\n\r\n");
  if (!absl::StartsWith(response, "HTTP/1.") || body == std::string::npos ||
      !absl::StrContains(response.substr(0, body), " 200 ")) {
    return absl::UnavailableError(absl::StrCat("bad response: ", response.substr(0, 200)));
  }
  return response.substr(body + 4);
}

absl::StatusOr<std::unique_ptr<FakeWorkerProcess>> FakeWorkerProcess::Start(
    const TempDir& dir, const std::string& name, const std::vector<std::string>& args) {
  const std::string log_path = dir.File(name + ".worker.log");
  std::vector<std::string> argv = {
      FakeWorkerBinary(), "--model", "/models/" + name, "--name", name, "--listen", "127.0.0.1:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::unique_ptr<FakeWorkerProcess> w(new FakeWorkerProcess());
  const pid_t parent = getpid();
  w->pid_ = fork();
  if (w->pid_ < 0) return absl::InternalError("fork failed");
  if (w->pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (freopen(log_path.c_str(), "a", stdout) == nullptr) _exit(126);
    dup2(fileno(stdout), STDERR_FILENO);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (absl::Now() < until) {
    for (absl::string_view line : absl::StrSplit(ReadFileOrEmpty(log_path), '\n')) {
      if (absl::ConsumePrefix(&line, "listening on ")) {
        w->address_ = std::string(line);
        size_t colon = line.rfind(':');
        if (colon != absl::string_view::npos) {
          (void)absl::SimpleAtoi(line.substr(colon + 1), &w->port_);
        }
      }
    }
    if (w->port_ > 0) return w;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("fake worker did not start: ", ReadFileOrEmpty(log_path)));
}

FakeWorkerProcess::~FakeWorkerProcess() { Kill(); }

void FakeWorkerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

ProcessResult RunGatewayToExit(const TempDir& dir, const std::string& config_json) {
  const std::string config_path = dir.File("bad.json");
  {
    std::ofstream out(config_path);
    out << config_json;
  }
  const std::string log_path = dir.File("bad.log");
  ProcessResult result;
  pid_t pid = SpawnGateway(config_path, log_path);
  int status = 0;
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (absl::Now() > until) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.output = ReadFileOrEmpty(log_path);
  return result;
}

std::string GenerateResult::text() const {
  std::string out;
  for (const auto& m : messages) out += m.text();
  return out;
}

GenerateResult RunGenerate(jetserve::v1::Jetserve::Stub& stub, const std::string& model,
                           const std::string& prompt, const GenerateOptions& options) {
  grpc::ClientContext context;
  if (options.timeout.has_value()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + *options.timeout));
  }
  if (!options.request_id.empty()) context.AddMetadata("x-request-id", options.request_id);
  if (!options.traceparent.empty()) context.AddMetadata("traceparent", options.traceparent);
  for (const auto& [key, value] : options.metadata) context.AddMetadata(key, value);
  jetserve::v1::GenerateRequest request;
  request.set_model(model);
  request.set_prompt(prompt);
  GenerateResult result;
  auto reader = stub.Generate(&context, request);
  jetserve::v1::GenerateResponse response;
  while (reader->Read(&response)) result.messages.push_back(response);
  result.status = reader->Finish();
  for (const auto* md :
       {&context.GetServerInitialMetadata(), &context.GetServerTrailingMetadata()}) {
    auto it = md->find("x-request-id");
    if (it != md->end() && result.request_id.empty()) {
      result.request_id = std::string(it->second.data(), it->second.size());
    }
  }
  return result;
}

int HealthOf(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  auto status = jetserve::gateway::CheckHealth(channel, service, absl::Seconds(2));
  if (!status.ok()) return -1;
  return static_cast<int>(*status);
}

bool WaitForHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                   int want, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  do {
    if (HealthOf(channel, service) == want) return true;
    absl::SleepFor(absl::Milliseconds(10));
  } while (absl::Now() < until);
  return false;
}

bool WaitForReadyReplicas(jetserve::v1::Jetserve::Stub& stub, const std::string& model, int n,
                          absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  do {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    jetserve::v1::GetModelRequest request;
    request.set_name(model);
    jetserve::v1::ModelInfo info;
    if (stub.GetModel(&context, request, &info).ok() && info.ready_replicas() >= n) return true;
    absl::SleepFor(absl::Milliseconds(10));
  } while (absl::Now() < until);
  return false;
}

int CountEvents(const std::string& log_path, const std::string& event,
                const std::string& request_id) {
  int n = 0;
  const std::string want_event = absl::StrCat("\"event\":\"", event, "\"");
  const std::string want_id = absl::StrCat("\"request_id\":\"", request_id, "\"");
  for (absl::string_view line : absl::StrSplit(ReadFileOrEmpty(log_path), '\n')) {
    if (absl::StrContains(line, want_event) &&
        (request_id.empty() || absl::StrContains(line, want_id))) {
      ++n;
    }
  }
  return n;
}

bool WaitForEvent(const std::string& log_path, const std::string& event,
                  const std::string& request_id, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  do {
    if (CountEvents(log_path, event, request_id) > 0) return true;
    absl::SleepFor(absl::Milliseconds(10));
  } while (absl::Now() < until);
  return false;
}

std::optional<double> MetricValue(const std::string& scrape, const std::string& name,
                                  const std::map<std::string, std::string>& labels) {
  for (absl::string_view line : absl::StrSplit(scrape, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    size_t brace = line.find('{');
    size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    absl::string_view metric = line.substr(0, std::min(brace, space));
    if (metric != name) continue;
    std::map<std::string, std::string> found;
    if (brace != absl::string_view::npos) {
      size_t close = line.find('}', brace);
      if (close == absl::string_view::npos) continue;
      for (absl::string_view pair :
           absl::StrSplit(line.substr(brace + 1, close - brace - 1), ',', absl::SkipEmpty())) {
        size_t eq = pair.find('=');
        if (eq == absl::string_view::npos) continue;
        absl::string_view value = pair.substr(eq + 1);
        if (value.size() >= 2) value = value.substr(1, value.size() - 2);
        found[std::string(pair.substr(0, eq))] = std::string(value);
      }
    }
    if (found != labels) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(space + 1), &v)) return v;
  }
  return std::nullopt;
}

int64_t JsonInt(const std::string& line, const std::string& key) {
  const std::string needle = absl::StrCat("\"", key, "\":");
  size_t at = line.find(needle);
  if (at == std::string::npos) return -1;
  size_t start = at + needle.size();
  size_t end = start;
  while (end < line.size() &&
         (isdigit(static_cast<unsigned char>(line[end])) || line[end] == '-')) {
    ++end;
  }
  int64_t v = -1;
  if (!absl::SimpleAtoi(absl::string_view(line).substr(start, end - start), &v)) return -1;
  return v;
}

}  // namespace jetserve::testing
