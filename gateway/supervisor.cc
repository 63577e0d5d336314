#include "gateway/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"

extern char** environ;

namespace jetserve::gateway {
namespace {

// How often the supervisor looks for an exited child between health probes.
constexpr absl::Duration kReapInterval = absl::Milliseconds(20);
// Probe interval while a worker starts (it may become ready any moment).
constexpr absl::Duration kStartupProbeInterval = absl::Milliseconds(100);

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(status), " (", strsignal(WTERMSIG(status)),
                        ")");
  }
  return absl::StrCat("ended with wait status ", status);
}

// Resolves a bare program name through $PATH in the parent (execve does not search).
std::string ResolveBinary(const std::string& binary) {
  if (binary.find('/') != std::string::npos) return binary;
  const char* path = getenv("PATH");
  if (path == nullptr) return binary;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", binary);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return binary;
}

}  // namespace

Supervisor::Supervisor(SupervisorOptions options, Router* router, GatewayMetrics* metrics)
    : options_(std::move(options)),
      id_(options_.id.empty() ? absl::StrCat(options_.model, "/", options_.replica) : options_.id),
      router_(router),
      metrics_(metrics),
      routable_(options_.routable) {}

Supervisor::~Supervisor() { Stop(); }

void Supervisor::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Supervisor::RequestStop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

void Supervisor::Join() {
  if (thread_.joinable()) thread_.join();
}

Supervisor::Status Supervisor::GetStatus() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

void Supervisor::Activate() {
  absl::MutexLock lock(&publish_mu_);
  routable_ = true;
  if (published_ != nullptr) {
    router_->SetWorker(options_.model, published_, published_ready_, published_capacity_);
  }
}

void Supervisor::Publish(const std::shared_ptr<WorkerEndpoint>& endpoint, bool ready,
                         int capacity) {
  absl::MutexLock lock(&publish_mu_);
  published_ = endpoint;
  published_ready_ = ready;
  published_capacity_ = capacity;
  if (routable_) {
    router_->SetWorker(options_.model, endpoint, ready, capacity);
  } else {
    router_->SetWorker(options_.model, endpoint, false, 0);
  }
}

void Supervisor::SetStatus(State state, const std::string& detail) {
  absl::MutexLock lock(&mu_);
  status_.state = state;
  if (!detail.empty()) status_.detail = detail;
}

bool Supervisor::SleepFor(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), timeout);
  return stopping_;
}

absl::StatusOr<pid_t> Supervisor::Spawn() {
  std::vector<std::string> args = {ResolveBinary(options_.worker_binary),
                                   "--model",
                                   options_.model_path,
                                   "--name",
                                   options_.model,
                                   "--listen",
                                   "unix:" + options_.socket_path,
                                   "--device",
                                   options_.device};
  if (!options_.metrics_listen.empty()) {
    args.push_back("--metrics-listen");
    args.push_back(options_.metrics_listen);
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  for (const auto& [key, value] : options_.env) env[key] = value;
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  unlink(options_.socket_path.c_str());  // a stale socket from a previous run
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(pipefd[0]);
    close(pipefd[1]);
    return absl::ResourceExhaustedError(absl::StrCat("fork: ", strerror(err)));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until execve.
    close(pipefd[0]);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaction(sig, &dfl, nullptr);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    execve(argv[0], argv.data(), envp.data());
    int err = errno;
    ssize_t ignored = write(pipefd[1], &err, sizeof(err));
    (void)ignored;
    _exit(127);
  }
  close(pipefd[1]);
  int err = 0;
  ssize_t n;
  do {
    n = read(pipefd[0], &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  if (n == static_cast<ssize_t>(sizeof(err))) {
    waitpid(pid, nullptr, 0);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot execute worker binary \"", args[0], "\": ", strerror(err)));
  }
  return pid;
}

bool Supervisor::Reaped(pid_t pid, Exit* exit) {
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  exit->exited = true;
  exit->description =
      r == pid ? DescribeWaitStatus(status) : absl::StrCat("waitpid failed: ", strerror(errno));
  return true;
}

void Supervisor::Terminate(pid_t pid, WorkerEndpoint* endpoint, bool ready) {
  Exit exit;
  if (Reaped(pid, &exit)) return;
  const absl::Time until = absl::Now() + options_.drain_grace_period;
  // The worker is out of routing (the caller published it not ready), but calls routed to
  // it just before may still be on their way: the worker does not count them yet, and a
  // worker that stopped now would cancel them as they arrive (gRPC cancels calls that
  // reach a server shutting down; 2 in ~45000 calls during 200 reloads under load). Wait
  // for every call the router sent here to end first, within the grace period.
  while (!endpoint->WaitForNoRoutedCalls(std::min(until, absl::Now() + kReapInterval))) {
    if (absl::Now() >= until || Reaped(pid, &exit)) break;
  }
  if (exit.exited) return;
  if (ready) {
    const absl::Duration left = std::max(until - absl::Now(), absl::Milliseconds(1));
    auto drained = endpoint->Drain(left, absl::Seconds(2));
    if (drained.ok() && drained->running_requests() > 0) {
      // Wait for running calls (from elsewhere) to finish, up to the grace period.
      while (absl::Now() < until && !Reaped(pid, &exit)) {
        // A draining worker reports NOT_SERVING, so ask GetInfo directly.
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
        jetserve::worker::v1::WorkerInfo info;
        if (!endpoint->stub().GetInfo(&context, {}, &info).ok() ||
            (info.running_requests() == 0 && info.queued_requests() == 0)) {
          break;
        }
        absl::SleepFor(absl::Milliseconds(50));
      }
    }
  }
  if (exit.exited || Reaped(pid, &exit)) return;
  kill(pid, SIGTERM);
  const absl::Time kill_at = absl::Now() + options_.kill_grace_period;
  while (absl::Now() < kill_at) {
    if (Reaped(pid, &exit)) return;
    absl::SleepFor(kReapInterval);
  }
  JETSERVE_LOG(kWarning, "worker_kill").Add("worker", id_).Add("pid", int64_t{pid});
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void Supervisor::Run() {
  Backoff backoff(options_.backoff);
  int starts = 0;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    if (starts++ > 0 && metrics_ != nullptr) metrics_->Restarts(options_.model).Increment();
    auto endpoint = WorkerEndpoint::Create(id_, "unix:" + options_.socket_path);
    Publish(endpoint, false, 0);
    SetStatus(State::kStarting, "");
    const absl::Time started = absl::Now();
    Exit exit;
    bool ready = false;
    bool was_ready = false;
    bool stop = false;
    int failed_probes = 0;
    absl::StatusOr<pid_t> pid = Spawn();
    if (!pid.ok()) {
      exit.exited = true;
      exit.description = std::string(pid.status().message());
    } else {
      JETSERVE_LOG(kInfo, "worker_start")
          .Add("worker", id_)
          .Add("pid", int64_t{*pid})
          .Add("socket", options_.socket_path);
      absl::Time next_probe = absl::Now();
      while (!stop) {
        if (Reaped(*pid, &exit)) break;
        const absl::Time now = absl::Now();
        if (was_ready && failed_probes >= kFailedProbesToRestart) {
          // No answer at all (a hung or stopped process, not one reporting NOT_SERVING):
          // kill it so that it restarts.
          exit.description =
              absl::StrCat("did not answer ", failed_probes, " health probes in a row (hung)");
          JETSERVE_LOG(kWarning, "worker_hung").Add("worker", id_).Add("pid", int64_t{*pid});
          kill(*pid, SIGKILL);
          while (waitpid(*pid, nullptr, 0) < 0 && errno == EINTR) {
          }
          exit.exited = true;
          break;
        }
        if (!was_ready && now - started > options_.startup_timeout) {
          exit.description = absl::StrCat("did not report SERVING within ",
                                          absl::FormatDuration(options_.startup_timeout));
          kill(*pid, SIGKILL);
          while (waitpid(*pid, nullptr, 0) < 0 && errno == EINTR) {
          }
          exit.exited = true;
          break;
        }
        if (now >= next_probe) {
          auto info = endpoint->Probe(ProbeTimeout(options_.health_interval));
          const bool answered =
              info.ok() || info.status().code() == absl::StatusCode::kFailedPrecondition;
          failed_probes = answered ? 0 : failed_probes + 1;
          if (info.ok()) {
            if (!ready) {
              JETSERVE_LOG(kInfo, "worker_ready")
                  .Add("worker", id_)
                  .Add("pid", int64_t{*pid})
                  .Add("capacity", info->capacity().max_concurrent_requests())
                  .Add("metrics_address", info->metrics_address())
                  .Add("startup_ms", absl::ToDoubleMilliseconds(absl::Now() - started));
            }
            ready = true;
            was_ready = true;
            // Published before the status says SERVING: a reload that sees SERVING
            // activates the worker with what was published, and must not find it not
            // ready yet (the model would have no ready worker once the old ones leave).
            Publish(endpoint, true, info->capacity().max_concurrent_requests());
            {
              absl::MutexLock lock(&mu_);
              status_.state = State::kServing;
              status_.model = info->model();
            }
          } else if (ready && (failed_probes >= kFailedProbesToUnready || answered)) {
            ready = false;
            JETSERVE_LOG(kWarning, "worker_not_ready")
                .Add("worker", id_)
                .Add("error", std::string(info.status().message()));
            SetStatus(State::kNotServing, std::string(info.status().message()));
            Publish(endpoint, false, 0);
          }
          next_probe =
              absl::Now() + (ready ? options_.health_interval
                                   : std::min(options_.health_interval, kStartupProbeInterval));
        }
        stop = SleepFor(
            std::min(kReapInterval, std::max(next_probe - absl::Now(), absl::ZeroDuration())));
      }
      if (stop && !exit.exited) {
        SetStatus(State::kStopping, "");
        Publish(endpoint, false, 0);
        Terminate(*pid, endpoint.get(), ready);
        JETSERVE_LOG(kInfo, "worker_stopped").Add("worker", id_).Add("pid", int64_t{*pid});
        break;
      }
    }
    Publish(endpoint, false, 0);
    const absl::Duration uptime = absl::Now() - started;
    const absl::Duration delay = backoff.OnExit(uptime);
    std::string detail = absl::StrCat(
        "worker ", id_, " ", exit.description, " after ",
        absl::FormatDuration(absl::Trunc(uptime, absl::Milliseconds(1))), " (",
        backoff.consecutive_failures(), " in a row); restarting in ", absl::FormatDuration(delay));
    JETSERVE_LOG(kWarning, "worker_exit")
        .Add("worker", id_)
        .Add("reason", exit.description)
        .Add("uptime_ms", absl::ToDoubleMilliseconds(uptime))
        .Add("consecutive_failures", backoff.consecutive_failures())
        .Add("restart_in_ms", absl::ToDoubleMilliseconds(delay));
    {
      absl::MutexLock lock(&mu_);
      status_.state = State::kBackoff;
      status_.detail = detail;
      status_.consecutive_failures = backoff.consecutive_failures();
      ++status_.exits;
    }
    if (SleepFor(delay)) break;
  }
  {
    absl::MutexLock lock(&publish_mu_);
    published_.reset();
    router_->RemoveWorker(options_.model, id_);
  }
  SetStatus(State::kStopped, "");
}

}  // namespace jetserve::gateway
