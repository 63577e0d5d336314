// `jetserve pull`: downloads a model file into the local model cache with libcurl.
//
//   jetserve pull hf://HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2-135m-instruct-q4_1.gguf
//   jetserve pull https://example.com/model.gguf --dir /models --sha256 HEX
//
// hf://ORG/REPO/FILE means https://huggingface.co/ORG/REPO/resolve/main/FILE. The file is
// written to DIR/NAME.part (resumed with an HTTP Range request when a previous pull was cut
// short), its SHA-256 checked against --sha256 and against the server's X-Linked-ETag/ETag
// when that is a 64-hex SHA-256 (as the Hugging Face hub sends for LFS files), then renamed
// to DIR/NAME. Progress goes to stderr; the final path to stdout.
#ifndef JETSERVE_TOOLS_JETSERVE_PULL_COMMAND_H_
#define JETSERVE_TOOLS_JETSERVE_PULL_COMMAND_H_

#include <iosfwd>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace jetserve::cli {

// The download URL of `url`: hf://ORG/REPO/FILE mapped to the hub, http(s):// as is;
// InvalidArgument otherwise.
absl::StatusOr<std::string> ResolvePullUrl(const std::string& url);

// $JETSERVE_MODELS, else ~/.cache/jetserve/models.
std::string DefaultModelDir();

struct PullOptions {
  std::string url;     // http(s):// or hf://
  std::string dir;     // empty: DefaultModelDir()
  std::string sha256;  // expected, hex; empty: unchecked (unless the server states one)
  bool progress = true;
};

// Downloads (or resumes) into options.dir and returns the final path. A file already in
// place is kept when it matches --sha256 (or none is given).
absl::StatusOr<std::string> PullModel(const PullOptions& options, std::ostream& progress);

// Runs `jetserve pull` with the words after "pull". Returns 0 ok, 1 failed, 2 bad usage.
int RunPullCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

std::string PullCommandUsage();

}  // namespace jetserve::cli

#endif  // JETSERVE_TOOLS_JETSERVE_PULL_COMMAND_H_
