#include "worker/worker_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::worker {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;

WorkerFlags Valid() {
  WorkerFlags flags;
  flags.model = "m.gguf";
  flags.name = "smollm2-135m";
  flags.listen = "127.0.0.1:0";
  return flags;
}

TEST(WorkerConfigTest, BatchingFlags) {
  WorkerFlags flags = Valid();
  flags.max_seqs = 8;
  flags.max_queued = 3;
  flags.ctx = 2048;
  flags.kv_memory = "512M";
  ASSERT_OK_AND_ASSIGN(WorkerConfig config, ParseWorkerFlags(flags));
  EXPECT_EQ(config.max_seqs, 8);
  EXPECT_EQ(config.max_queued, 3);
  EXPECT_EQ(config.ctx, 2048);
  EXPECT_EQ(config.kv_memory_bytes, int64_t{512} << 20);
  EXPECT_TRUE(config.prefix_cache);  // on by default
  flags.prefix_cache = false;
  ASSERT_OK_AND_ASSIGN(config, ParseWorkerFlags(flags));
  EXPECT_FALSE(config.prefix_cache);
  EXPECT_EQ(*ParseByteSize("2G"), int64_t{2} << 30);
  EXPECT_EQ(*ParseByteSize("64KiB"), 65536);
  EXPECT_EQ(*ParseByteSize("1000"), 1000);
  for (const char* bad : {"", "M", "12T", "-5", "1.5G", "99999999999999999999G"}) {
    EXPECT_FALSE(ParseByteSize(bad).ok()) << bad;
  }
  flags.kv_memory = "lots";
  EXPECT_THAT(ParseWorkerFlags(flags),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--kv-memory")));
  flags.kv_memory = "";
  flags.max_seqs = 0;
  EXPECT_THAT(ParseWorkerFlags(flags),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max-seqs")));
  flags.max_seqs = 1;
  flags.ctx = -1;
  EXPECT_THAT(ParseWorkerFlags(flags),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--ctx")));
}

TEST(WorkerConfigTest, AcceptsValidFlags) {
  WorkerFlags flags = Valid();
  flags.device = "cuda:1";
  flags.metrics_listen = "0.0.0.0:9100";
  flags.log_level = "debug";
  absl::StatusOr<WorkerConfig> config = ParseWorkerFlags(flags);
  ASSERT_OK(config);
  EXPECT_EQ(config->device.kind, DeviceKind::kCuda);
  EXPECT_EQ(config->device.ordinal, 1);
  EXPECT_EQ(config->device.ToString(), "cuda:1");
  EXPECT_EQ(config->metrics_listen->port, 9100);
  EXPECT_EQ(config->log_level, LogLevel::kDebug);
  EXPECT_EQ(config->drain_grace, absl::Seconds(30));
}

TEST(WorkerConfigTest, NamesTheBadFlag) {
  struct Case {
    void (*edit)(WorkerFlags&);
    const char* message;
  };
  const Case cases[] = {
      {[](WorkerFlags& f) { f.model.clear(); }, "--model is required"},
      {[](WorkerFlags& f) { f.name.clear(); }, "--name is required"},
      {[](WorkerFlags& f) { f.name = "a b"; }, "--name \"a b\" contains ' '"},
      {[](WorkerFlags& f) { f.name = std::string(129, 'x'); }, "the limit is 128"},
      {[](WorkerFlags& f) { f.listen.clear(); }, "--listen is required"},
      {[](WorkerFlags& f) { f.listen = "x:y"; }, "--listen \"x:y\": port \"y\""},
      {[](WorkerFlags& f) { f.device = "tpu"; },
       "--device \"tpu\": expected \"cpu\", \"cuda\" or \"cuda:N\""},
      {[](WorkerFlags& f) { f.device = "cuda:"; }, "--device \"cuda:\": expected"},
      {[](WorkerFlags& f) { f.device = "cuda:-1"; }, "--device \"cuda:-1\": expected"},
      {[](WorkerFlags& f) { f.metrics_listen = "unix:/m"; }, "--metrics-listen"},
      {[](WorkerFlags& f) { f.log_level = "loud"; }, "--log-level \"loud\""},
      {[](WorkerFlags& f) { f.drain_grace = absl::Seconds(-1); }, "--drain-grace -1s is negative"},
      {[](WorkerFlags& f) { f.stream_queue = 0; }, "--stream-queue 0"},
      {[](WorkerFlags& f) { f.unary_threads = -2; }, "--unary-threads -2"},
  };
  for (const Case& c : cases) {
    WorkerFlags flags = Valid();
    c.edit(flags);
    EXPECT_THAT(ParseWorkerFlags(flags),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
  }
}

}  // namespace
}  // namespace jetserve::worker
