// `jetserve bench`: continuous-batching throughput of a local GGUF decoder, in-process
// (engine/runtime's BatchScheduler, no gateway or worker). For each concurrency C it runs
// C requests of n generated tokens at once and prints one line with the aggregate
// generated tokens per second and its ratio to the first concurrency's (the peer measured
// in the same run).
//
//   jetserve bench -m smollm2.gguf --concurrency 1,4,8,16 -n 64
#ifndef JETSERVE_TOOLS_JETSERVE_BENCH_COMMAND_H_
#define JETSERVE_TOOLS_JETSERVE_BENCH_COMMAND_H_

#include <iosfwd>
#include <string>
#include <vector>

namespace jetserve::cli {

// Runs `jetserve bench` with the words after "bench". Returns 0 ok, 1 failed, 2 bad usage.
int RunBenchCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

std::string BenchCommandUsage();

}  // namespace jetserve::cli

#endif  // JETSERVE_TOOLS_JETSERVE_BENCH_COMMAND_H_
