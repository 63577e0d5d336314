#include "tests/service/worker_test_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/impl/codegen/client_unary_call.h"
#include "grpcpp/impl/codegen/sync_stream.h"

namespace jetserve::testing {
namespace {

namespace wv1 = ::jetserve::worker::v1;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

}  // namespace

std::shared_ptr<grpc::Channel> WorkerChannel(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

std::unique_ptr<wv1::Worker::Stub> ConnectWorker(const std::string& address) {
  return wv1::Worker::NewStub(WorkerChannel(address));
}

wv1::GenerateRequest MakeGenerateRequest(const std::string& request_id, const std::string& prompt) {
  wv1::GenerateRequest request;
  request.mutable_envelope()->set_request_id(request_id);
  request.mutable_request()->set_model("test-model");
  request.mutable_request()->set_prompt(prompt);
  return request;
}

GenerateResult RunGenerate(wv1::Worker::Stub& stub, const wv1::GenerateRequest& request,
                           std::optional<absl::Duration> timeout) {
  grpc::ClientContext ctx;
  if (timeout) ctx.set_deadline(absl::ToChronoTime(absl::Now() + *timeout));
  GenerateResult result;
  std::unique_ptr<grpc::ClientReader<jetserve::v1::GenerateResponse>> reader =
      stub.Generate(&ctx, request);
  jetserve::v1::GenerateResponse response;
  while (reader->Read(&response)) result.messages.push_back(response);
  result.status = reader->Finish();
  return result;
}

absl::StatusOr<int> HealthStatus(const std::shared_ptr<grpc::Channel>& channel,
                                 const std::string& service) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  const grpc::Status status =
      grpc::health::v1::Health::NewStub(channel)->Check(&ctx, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return static_cast<int>(response.status());
}

absl::StatusOr<std::vector<std::string>> ReflectionServices(
    const std::shared_ptr<grpc::Channel>& channel) {
  // ServerReflectionRequest { string list_services = 7; } ->
  // ServerReflectionResponse { ListServiceResponse list_services_response = 6
  //   { repeated ServiceResponse service = 1 { string name = 1; } } }
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  const grpc::internal::RpcMethod method(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      grpc::internal::RpcMethod::BIDI_STREAMING);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel.get(), method, &ctx));
  stream->Write(ToByteBuffer(std::string("\x3a\x00", 2)));
  stream->WritesDone();
  grpc::ByteBuffer response;
  std::vector<std::string> names;
  while (stream->Read(&response)) {
    google::protobuf::UnknownFieldSet top;
    if (!top.ParseFromString(FromByteBuffer(response))) {
      return absl::InternalError("unparsable ServerReflectionResponse");
    }
    for (int i = 0; i < top.field_count(); ++i) {
      if (top.field(i).number() != 6) continue;
      google::protobuf::UnknownFieldSet list;
      list.ParseFromString(top.field(i).length_delimited());
      for (int j = 0; j < list.field_count(); ++j) {
        google::protobuf::UnknownFieldSet service;
        service.ParseFromString(list.field(j).length_delimited());
        for (int k = 0; k < service.field_count(); ++k) {
          if (service.field(k).number() == 1) names.push_back(service.field(k).length_delimited());
        }
      }
    }
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return names;
}

std::optional<double> MetricValue(const std::vector<prometheus::MetricFamily>& families,
                                  const std::string& name,
                                  const std::map<std::string, std::string>& labels) {
  for (const prometheus::MetricFamily& family : families) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      std::map<std::string, std::string> have;
      for (const prometheus::ClientMetric::Label& l : metric.label) have[l.name] = l.value;
      if (have != labels) continue;
      switch (family.type) {
        case prometheus::MetricType::Counter:
          return metric.counter.value;
        case prometheus::MetricType::Gauge:
          return metric.gauge.value;
        case prometheus::MetricType::Histogram:
          return static_cast<double>(metric.histogram.sample_count);
        default:
          return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::string> HttpGet(const std::string& host_port, const std::string& path) {
  std::vector<std::string> parts = absl::StrSplit(host_port, ':');
  if (parts.size() != 2) return absl::InvalidArgumentError("HttpGet: expected host:port");
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* info = nullptr;
  if (getaddrinfo(parts[0].c_str(), parts[1].c_str(), &hints, &info) != 0 || info == nullptr) {
    return absl::UnavailableError("HttpGet: cannot resolve " + host_port);
  }
  const int fd = socket(info->ai_family, info->ai_socktype, 0);
  const int rc = connect(fd, info->ai_addr, info->ai_addrlen);
  freeaddrinfo(info);
  if (rc != 0) {
    close(fd);
    return absl::UnavailableError("HttpGet: cannot connect to " + host_port);
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host_port, "\r\nConnection: close\r\n\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError("HttpGet: write failed");
  }
  std::string reply;
  char buffer[8192];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) reply.append(buffer, n);
  close(fd);
  const size_t body = reply.find("\r\n\r\n");
  if (body == std::string::npos || !absl::StartsWith(reply, "HTTP/1.")) {
    return absl::InternalError("HttpGet: malformed reply: " + reply.substr(0, 200));
  }
  if (reply.find(" 200 ") > reply.find("\r\n")) {
    return absl::InternalError("HttpGet: " + reply.substr(0, reply.find("\r\n")));
  }
  return reply.substr(body + 4);
}

std::string BinaryDir() {
  const char* dir = std::getenv("JETSERVE_BINARY_DIR");
  return dir != nullptr ? dir : ".";
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv) {
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  char dir_template[] = "/tmp/jetserve-child-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) return absl::InternalError("mkdtemp failed");
  child->stdout_path_ = absl::StrCat(dir_template, "/stdout");
  child->stderr_path_ = absl::StrCat(dir_template, "/stderr");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    const int out = open(child->stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(child->stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  child->pid_ = pid;
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_code_) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(10));
  }
}

absl::StatusOr<std::string> ChildProcess::WaitForStdoutLine(const std::string& prefix,
                                                            absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  while (absl::Now() < until) {
    for (absl::string_view line : absl::StrSplit(Stdout(), '\n')) {
      if (absl::StartsWith(line, prefix)) return std::string(line.substr(prefix.size()));
    }
    if (Wait(absl::ZeroDuration())) {
      return absl::FailedPreconditionError(
          absl::StrCat("process exited with ", *exit_code_, "; stderr: ", Stderr()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no line \"", prefix, "\" on stdout; stderr: ", Stderr()));
}

absl::StatusOr<std::string> ChildProcess::WaitForListening(absl::Duration timeout) {
  return WaitForStdoutLine("listening on ", timeout);
}

void ChildProcess::Signal(int signal) {
  if (pid_ > 0 && !exit_code_) kill(pid_, signal);
}

std::optional<int> ChildProcess::Wait(absl::Duration timeout) {
  if (exit_code_) return exit_code_;
  const absl::Time until = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (absl::Now() >= until) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

std::string ChildProcess::Stdout() const { return ReadFile(stdout_path_); }
std::string ChildProcess::Stderr() const { return ReadFile(stderr_path_); }

}  // namespace jetserve::testing
