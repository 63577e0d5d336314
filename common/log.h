// Structured logging: one JSON object per line on stderr, for log collectors (Loki,
// Fluent Bit) and for humans with `jq`. Each process sets its component once; each
// request's line carries its request id so gateway and worker lines join.
//
//   jetserve::SetLogComponent("gateway");
//   JETSERVE_LOG(kInfo, "request").Add("request_id", id).Add("model", m).Add("ms", 12.5);
//
// The line is written when the LogLine is destroyed (end of the full expression), with a
// single write(2) so concurrent lines never interleave.
#ifndef JETSERVE_COMMON_LOG_H_
#define JETSERVE_COMMON_LOG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace jetserve {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Process-wide settings; call before starting threads.
void SetLogComponent(std::string_view component);
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();
// Parses "debug", "info", "warning", "error"; returns false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel* level);

class LogLine {
 public:
  LogLine(LogLevel level, std::string_view event);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  LogLine& Add(std::string_view key, std::string_view value);
  LogLine& Add(std::string_view key, const char* value) {
    return Add(key, std::string_view(value));
  }
  LogLine& Add(std::string_view key, const std::string& value) {
    return Add(key, std::string_view(value));
  }
  // Debian 12's Abseil has its own string_view type (not std::string_view).
  LogLine& Add(std::string_view key, absl::string_view value) {
    return Add(key, std::string_view(value.data(), value.size()));
  }
  LogLine& Add(std::string_view key, int64_t value);
  LogLine& Add(std::string_view key, int value) { return Add(key, int64_t{value}); }
  LogLine& Add(std::string_view key, uint64_t value);
  LogLine& Add(std::string_view key, double value);
  LogLine& Add(std::string_view key, bool value);

 private:
  bool enabled_;
  std::string line_;
};

// Appends `text` to `out` as a JSON string literal (quotes included); invalid UTF-8 bytes
// become U+FFFD so every line stays valid JSON.
void AppendJsonString(std::string_view text, std::string* out);

}  // namespace jetserve

#define JETSERVE_LOG(level, event) ::jetserve::LogLine(::jetserve::LogLevel::level, event)

#endif  // JETSERVE_COMMON_LOG_H_
