// Where tests find their files, and reading them:
//
//   const std::string dir = SourcePath("tests/data/encoder");     // committed data
//   const std::string model = ModelPath("SmolLM2-135M-Instruct.Q4_1.gguf");  // big models
//   if (!FileExists(model)) GTEST_SKIP() << model << " is absent";
//   nlohmann::json refs = ReadJson(dir + "/refs.json");           // is_discarded() on error
//   const std::string out = TempPath("model.gguf");  // in this process's own temp folder
//
// $JETSERVE_SOURCE_DIR is the repository root (set by ctest; "." otherwise);
// $JETSERVE_MODEL_DIR the folder of model files too big to commit (default
// /work/cache/models, where the oracles' models are cached).
#ifndef JETSERVE_TESTS_TESTUTIL_TEST_FILES_H_
#define JETSERVE_TESTS_TESTUTIL_TEST_FILES_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "nlohmann/json.hpp"

namespace jetserve::testing {

inline std::string SourcePath(const std::string& relative) {
  const char* src = std::getenv("JETSERVE_SOURCE_DIR");
  return std::string(src != nullptr ? src : ".") + "/" + relative;
}

inline std::string ModelPath(const std::string& name) {
  const char* dir = std::getenv("JETSERVE_MODEL_DIR");
  return std::string(dir != nullptr ? dir : "/work/cache/models") + "/" + name;
}

inline bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

// The file's bytes; empty when it cannot be read.
inline std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A folder of this process's own (mkdtemp under $TEST_TMPDIR, $TMPDIR or /tmp), made on
// first use and removed at exit. Files written under a fixed name in a shared folder collide
// with those of another test process running at the same time (another build folder or
// worktree, or another test binary): one truncates and rewrites a file the other has
// mapped, and the other dies of SIGBUS. Aborts when no folder can be made (a test
// environment error).
inline const std::string& ProcessTempDir() {
  struct Folder {
    Folder() {
      const char* base = std::getenv("TEST_TMPDIR");
      if (base == nullptr || *base == '\0') base = std::getenv("TMPDIR");
      if (base == nullptr || *base == '\0') base = "/tmp";
      std::string pattern = std::string(base) + "/jetserve-test-XXXXXX";
      if (mkdtemp(pattern.data()) == nullptr) std::abort();
      path = pattern;
    }
    ~Folder() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
    std::string path;
  };
  static const Folder folder;
  return folder.path;
}

// `name` in ProcessTempDir().
inline std::string TempPath(const std::string& name) { return ProcessTempDir() + "/" + name; }

// Parsed JSON; a discarded value (is_discarded()) when the file is missing or malformed.
inline nlohmann::json ReadJson(const std::string& path) {
  return nlohmann::json::parse(ReadFileOrEmpty(path), nullptr, false);
}

}  // namespace jetserve::testing

#endif  // JETSERVE_TESTS_TESTUTIL_TEST_FILES_H_
