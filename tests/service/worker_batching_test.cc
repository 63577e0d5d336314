// The shipped jetserve-worker serving a random llama model with continuous batching, over
// gRPC: concurrent calls with random client cancellations and deadlines each end with
// the status the client caused (or complete with all their tokens); afterwards the worker
// reports every KV block free and nothing running, and a request filling the whole
// context completes. The queue bound gives exactly the excess calls RESOURCE_EXHAUSTED.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model/random_model.h"
#include "gtest/gtest.h"
#include "tests/service/worker_test_client.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::testing {
namespace {

namespace wv1 = ::jetserve::worker::v1;

class WorkerBatchingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::string(absl::StrCat("/tmp/jetserve-worker-batching-", getpid(), ".gguf"));
    model::RandomDecoderSpec spec;
    for (const auto& s : model::RandomDecoderSpecs()) {
      if (s.name == "llama-Q8_0.gguf") spec = s;
    }
    spec.context_length = 1024;
    ASSERT_OK(model::WriteRandomDecoder(spec, *path_));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove(*path_);
    delete path_;
  }

  std::string StartWorker(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {BinaryDir() + "/bin/jetserve-worker", "--model=" + *path_,
                                     "--name=tiny", "--listen=127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    absl::StatusOr<std::unique_ptr<ChildProcess>> p = ChildProcess::Start(argv);
    EXPECT_OK(p);
    if (!p.ok()) return "";
    worker_ = std::move(*p);
    absl::StatusOr<std::string> address = worker_->WaitForListening(absl::Seconds(30));
    EXPECT_OK(address);
    return address.ok() ? *address : "";
  }

  static wv1::GenerateRequest Request(const std::string& prompt, int max_tokens) {
    wv1::GenerateRequest r = MakeGenerateRequest("r", prompt);
    r.mutable_request()->mutable_stop()->set_ignore_eos(true);
    if (max_tokens > 0) r.mutable_request()->mutable_stop()->set_max_tokens(max_tokens);
    r.mutable_request()->mutable_sampling()->set_seed(1);
    return r;
  }

  static wv1::WorkerInfo Info(wv1::Worker::Stub& stub) {
    grpc::ClientContext ctx;
    wv1::WorkerInfo info;
    EXPECT_TRUE(stub.GetInfo(&ctx, wv1::GetInfoRequest(), &info).ok());
    return info;
  }

  static std::string* path_;
  std::unique_ptr<ChildProcess> worker_;
};
std::string* WorkerBatchingTest::path_ = nullptr;

TEST_F(WorkerBatchingTest, RandomCancellationsAndDeadlinesThenAllBlocksFree) {
  const std::string address =
      StartWorker({"--max-seqs=8", "--max-queued=200", "--ctx=256", "--kv-memory=1M"});
  ASSERT_FALSE(address.empty());
  auto stub = ConnectWorker(address);
  const wv1::WorkerInfo before = Info(*stub);
  EXPECT_EQ(before.capacity().max_concurrent_requests(), 8);
  EXPECT_EQ(before.capacity().context_length(), 256);
  EXPECT_GT(before.capacity().kv_blocks_total(), 0);
  // 1 MiB of 16-token blocks (2 layers x 16 x 128 x 2 x 4 bytes = 32 KiB each) = 32 blocks:
  // fewer than 8 full contexts (128 blocks), so admission waits and sequences preempt.
  EXPECT_EQ(before.capacity().kv_blocks_total(), 32);

  constexpr int kCalls = 60;
  enum Kind { kComplete, kCancel, kDeadline };
  std::mt19937 rng(17);
  std::vector<Kind> kinds;
  std::vector<int> max_tokens;
  for (int i = 0; i < kCalls; ++i) {
    kinds.push_back(static_cast<Kind>(std::uniform_int_distribution<int>(0, 2)(rng)));
    max_tokens.push_back(kinds.back() == kComplete ? std::uniform_int_distribution<int>(1, 30)(rng)
                                                   : 200);
  }
  std::vector<grpc::Status> status(kCalls);
  std::vector<int> tokens(kCalls, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      grpc::ClientContext ctx;
      if (kinds[i] == kDeadline) {
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(20 + 7 * i)));
      }
      auto reader = stub->Generate(&ctx, Request("prompt " + std::to_string(i), max_tokens[i]));
      jetserve::v1::GenerateResponse m;
      while (reader->Read(&m)) {
        tokens[i] += m.token_ids_size();
        if (kinds[i] == kCancel && tokens[i] >= 1 + i % 5) ctx.TryCancel();
      }
      status[i] = reader->Finish();
    });
  }
  for (std::thread& t : threads) t.join();
  int complete = 0, cancelled = 0, expired = 0;
  for (int i = 0; i < kCalls; ++i) {
    SCOPED_TRACE(::testing::Message()
                 << "call " << i << " kind " << kinds[i] << ": " << status[i].error_message());
    if (status[i].ok()) {
      ++complete;
      EXPECT_NE(kinds[i], kCancel);
      EXPECT_EQ(tokens[i], max_tokens[i]);
    } else if (kinds[i] == kCancel) {
      ++cancelled;
      EXPECT_EQ(status[i].error_code(), grpc::StatusCode::CANCELLED);
    } else {
      ++expired;
      EXPECT_EQ(kinds[i], kDeadline);
      EXPECT_EQ(status[i].error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    }
  }
  std::cout << kCalls << " calls: " << complete << " complete, " << cancelled << " cancelled, "
            << expired << " past their deadline\n";
  EXPECT_GT(cancelled, 0);
  EXPECT_GT(expired, 0);

  // The worker frees cancelled sequences at its next step: poll briefly.
  wv1::WorkerInfo after;
  for (int i = 0; i < 200; ++i) {
    after = Info(*stub);
    if (after.capacity().kv_blocks_free() == after.capacity().kv_blocks_total() &&
        after.running_requests() == 0 && after.queued_requests() == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(after.capacity().kv_blocks_free(), after.capacity().kv_blocks_total());
  EXPECT_EQ(after.running_requests(), 0);
  EXPECT_EQ(after.queued_requests(), 0);

  // A request of the whole context (no max_tokens: until the context is full).
  GenerateResult full = RunGenerate(*stub, Request("the whole context", 0));
  ASSERT_TRUE(full.status.ok()) << full.status.error_message();
  ASSERT_FALSE(full.messages.empty());
  const jetserve::v1::Usage& u = full.messages.back().usage();
  EXPECT_EQ(u.prompt_tokens() + u.completion_tokens(), 256);
  EXPECT_EQ(full.messages.back().finish_reason(), jetserve::v1::FINISH_REASON_LENGTH);
}

TEST_F(WorkerBatchingTest, QueueBoundRejectsExactlyTheExcess) {
  const std::string address = StartWorker({"--max-seqs=2", "--max-queued=3", "--ctx=1024"});
  ASSERT_FALSE(address.empty());
  auto stub = ConnectWorker(address);
  // Long generations: none finishes while the 9 calls arrive.
  constexpr int kCalls = 9;
  std::vector<grpc::Status> status(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      status[i] = RunGenerate(*stub, Request("long " + std::to_string(i), 900)).status;
    });
  }
  for (std::thread& t : threads) t.join();
  int exhausted = 0;
  for (const grpc::Status& s : status) {
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
  }
  EXPECT_EQ(exhausted, kCalls - 2 - 3);
}

}  // namespace
}  // namespace jetserve::testing
