#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/utf8.h"

namespace jetserve {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
// Set once at start-up, before threads; read-only afterwards.
std::string* g_component = new std::string("jetserve");

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void SetLogComponent(std::string_view component) { g_component->assign(component); }
void SetMinLogLevel(LogLevel level) { g_min_level.store(static_cast<int>(level)); }
LogLevel MinLogLevel() { return static_cast<LogLevel>(g_min_level.load()); }

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (text == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

void AppendJsonString(std::string_view text, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(text, i);
      if (n == 0) {
        out->append("\xEF\xBF\xBD");
        ++i;
      } else {
        out->append(text.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

LogLine::LogLine(LogLevel level, std::string_view event)
    : enabled_(static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed)) {
  if (!enabled_) return;
  line_.reserve(256);
  line_.append("{\"ts\":\"");
  line_.append(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()));
  line_.append("\",\"level\":\"");
  line_.append(LevelName(level));
  line_.append("\",\"component\":");
  AppendJsonString(*g_component, &line_);
  line_.append(",\"event\":");
  AppendJsonString(event, &line_);
}

LogLine::~LogLine() {
  if (!enabled_) return;
  line_.append("}\n");
  // One write per line: lines from concurrent threads never interleave. A failed write of
  // a log line has nowhere better to be reported.
  size_t off = 0;
  while (off < line_.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line_.data() + off, line_.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

LogLine& LogLine::Add(std::string_view key, std::string_view value) {
  if (!enabled_) return *this;
  line_.push_back(',');
  AppendJsonString(key, &line_);
  line_.push_back(':');
  AppendJsonString(value, &line_);
  return *this;
}

LogLine& LogLine::Add(std::string_view key, int64_t value) {
  if (!enabled_) return *this;
  line_.push_back(',');
  AppendJsonString(key, &line_);
  absl::StrAppend(&line_, ":", value);
  return *this;
}

LogLine& LogLine::Add(std::string_view key, uint64_t value) {
  if (!enabled_) return *this;
  line_.push_back(',');
  AppendJsonString(key, &line_);
  absl::StrAppend(&line_, ":", value);
  return *this;
}

LogLine& LogLine::Add(std::string_view key, double value) {
  if (!enabled_) return *this;
  line_.push_back(',');
  AppendJsonString(key, &line_);
  if (std::isfinite(value)) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), ":%.6g", value);
    line_.append(buf);
  } else {
    line_.append(":null");
  }
  return *this;
}

LogLine& LogLine::Add(std::string_view key, bool value) {
  if (!enabled_) return *this;
  line_.push_back(',');
  AppendJsonString(key, &line_);
  line_.append(value ? ":true" : ":false");
  return *this;
}

}  // namespace jetserve
