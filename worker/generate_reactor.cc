#include "worker/generate_reactor.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace jetserve::worker {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Time CallDeadline(const grpc::CallbackServerContext& ctx,
                        const jetserve::worker::v1::Envelope& envelope) {
  absl::Time deadline = absl::InfiniteFuture();
  const auto grpc_deadline = ctx.deadline();
  // gRPC reports "no deadline" as a time point centuries away.
  if (grpc_deadline - std::chrono::system_clock::now() < std::chrono::hours(24 * 365 * 10)) {
    deadline = absl::FromChrono(grpc_deadline);
  }
  if (envelope.has_deadline() &&
      (envelope.deadline().seconds() != 0 || envelope.deadline().nanos() != 0)) {
    deadline = std::min(deadline, absl::FromUnixSeconds(envelope.deadline().seconds()) +
                                      absl::Nanoseconds(envelope.deadline().nanos()));
  }
  return deadline;
}

GenerateReactor::GenerateReactor(
    grpc::CallbackServerContext* ctx,
    const rpc::CheckedRequest<jetserve::worker::v1::GenerateRequest>* request, Backend* backend,
    CallTracker* tracker, const Options& options)
    : ctx_(ctx),
      request_(&request->message),
      tracker_(tracker),
      options_(options),
      started_(absl::Now()),
      call_(request_->envelope().request_id(), CallDeadline(*ctx, request_->envelope())) {
  absl::Status admitted = tracker_->Begin(this);
  if (admitted.ok()) admitted = request->status;
  if (!admitted.ok()) {
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      backend_finished_ = true;
      final_status_ = admitted;
      finish = TakeFinishLocked();
    }
    if (finish) ServerWriteReactor::Finish(*finish);
    return;
  }
  backend->Generate(this);
}

bool GenerateReactor::Write(jetserve::v1::GenerateResponse response) {
  bool start = false;
  bool overrun = false;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_ || backend_finished_) return false;
    completion_tokens_ += response.token_ids_size();
    if (response.has_usage()) prompt_tokens_ = response.usage().prompt_tokens();
    if (!write_in_flight_) {
      in_flight_message_ = std::move(response);
      write_in_flight_ = true;
      start = true;
    } else if (static_cast<int>(queue_.size()) >= options_.hard_limit) {
      failure_ = absl::ResourceExhaustedError(
          absl::StrCat("the backend queued more than ", options_.hard_limit,
                       " messages for a client that is not reading (it must respect Writable())"));
      CancelLocked(failure_.message());
      overrun = true;
    } else {
      queue_.push_back(std::move(response));
      if (static_cast<int>(queue_.size()) >= options_.max_queued) blocked_ = true;
    }
  }
  if (overrun) {
    Wake();
    return false;
  }
  if (start) StartWrite(&in_flight_message_);
  return true;
}

bool GenerateReactor::Writable() const {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return false;
  if (static_cast<int>(queue_.size()) < options_.max_queued) return true;
  blocked_ = true;
  return false;
}

void GenerateReactor::SetWakeCallback(absl::AnyInvocable<void()> wake) {
  absl::MutexLock lock(&wake_mu_);
  wake_ = std::move(wake);
}

void GenerateReactor::Finish(absl::Status status) {
  {
    absl::MutexLock lock(&wake_mu_);
    wake_ = nullptr;
  }
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    if (backend_finished_) {
      JETSERVE_LOG(kError, "backend_finished_twice").Add("request_id", call_.request_id());
      return;
    }
    backend_finished_ = true;
    final_status_ = std::move(status);
    finish = TakeFinishLocked();
  }
  if (finish) ServerWriteReactor::Finish(*finish);
}

void GenerateReactor::OnWriteDone(bool ok) {
  bool start = false;
  bool wake = false;
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok) {
      // The client is gone: it cancelled, or its deadline expired first on its side.
      if (!cancelled_) {
        CancelLocked(call_.NearDeadline() ? "deadline exceeded" : "the client went away",
                     /*deadline_exceeded=*/call_.NearDeadline());
        wake = true;
      }
    } else if (!queue_.empty()) {
      in_flight_message_ = std::move(queue_.front());
      queue_.pop_front();
      write_in_flight_ = true;
      start = true;
    }
    if (blocked_ && static_cast<int>(queue_.size()) < options_.max_queued) {
      blocked_ = false;
      wake = true;
    }
    finish = TakeFinishLocked();
  }
  if (start) StartWrite(&in_flight_message_);
  if (wake) Wake();
  if (finish) ServerWriteReactor::Finish(*finish);
}

void GenerateReactor::OnCancel() {
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    if (call_.NearDeadline()) {
      CancelLocked("deadline exceeded", /*deadline_exceeded=*/true);
    } else {
      CancelLocked("the client cancelled the call");
    }
    finish = TakeFinishLocked();
  }
  Wake();
  if (finish) ServerWriteReactor::Finish(*finish);
}

void GenerateReactor::Cancel(absl::string_view reason) {
  bool finishing;
  {
    absl::MutexLock lock(&mu_);
    CancelLocked(reason);
    finishing = finish_started_;
  }
  Wake();
  // OnCancel follows and finishes the call if the backend already has.
  if (!finishing) ctx_->TryCancel();
}

void GenerateReactor::OnDone() {
  CallRecord record;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    status = end_status_;
    record.prompt_tokens = prompt_tokens_;
    record.completion_tokens = completion_tokens_;
  }
  record.method = "Generate";
  record.request_id = call_.request_id();
  record.code = status.code();
  record.message = status.message();
  record.duration = absl::Now() - started_;
  tracker_->End(this, record);
  delete this;
}

void GenerateReactor::CancelLocked(absl::string_view reason, bool deadline_exceeded) {
  if (cancelled_) return;
  cancelled_ = true;
  queue_.clear();
  call_.Cancel(reason, deadline_exceeded);
}

std::optional<grpc::Status> GenerateReactor::TakeFinishLocked() {
  if (finish_started_ || !backend_finished_ || write_in_flight_) return std::nullopt;
  finish_started_ = true;
  if (!failure_.ok()) {
    end_status_ = failure_;
  } else if (cancelled_) {
    end_status_ = call_.CancelledStatus();
  } else {
    end_status_ = final_status_;
  }
  return ToGrpcStatus(end_status_);
}

void GenerateReactor::Wake() {
  absl::MutexLock lock(&wake_mu_);
  if (wake_) wake_();
}

}  // namespace jetserve::worker
