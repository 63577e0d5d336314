#include "tools/jetserve/pull_command.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tools/jetserve/cli_args.h"

namespace jetserve::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

bool IsSha256Hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (const char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Lowercase hex SHA-256 of a file.
absl::StatusOr<std::string> FileSha256(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(fopen(path.c_str(), "rb"), fclose);
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("OpenSSL: cannot start a SHA-256 digest");
  }
  std::vector<unsigned char> buf(1 << 20);
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), f.get())) > 0) {
    EVP_DigestUpdate(ctx.get(), buf.data(), n);
  }
  if (ferror(f.get())) return absl::DataLossError(absl::StrCat("error reading ", path));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  std::ostringstream hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(md[i]);
  }
  return hex.str();
}

// The file name a URL names: its last path segment, without query or fragment.
absl::StatusOr<std::string> FileNameOf(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  const size_t scheme = path.find("://");
  if (scheme != std::string::npos) path = path.substr(scheme + 3);
  const size_t slash = path.rfind('/');
  std::string name = slash == std::string::npos ? "" : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", url, "\" does not name a file (expected .../NAME)"));
  }
  return name;
}

// State shared with libcurl's callbacks during one transfer.
struct Transfer {
  FILE* file = nullptr;
  bool truncate_on_200 = false;  // a Range request: a 200 answer restarts the file
  long status = 0;               // of the last response header block
  std::string linked_etag;       // X-Linked-ETag of any response (a hub redirect carries it)
  std::string etag;              // ETag of the last response
  std::ostream* progress = nullptr;
  std::string name;
  curl_off_t offset = 0;  // bytes already there before this request
  std::chrono::steady_clock::time_point last_report;
  bool reported = false;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  absl::StripAsciiWhitespace(&line);
  if (absl::StartsWith(line, "HTTP/")) {
    const size_t sp = line.find(' ');
    t->status = sp == std::string::npos ? 0 : std::atol(line.c_str() + sp + 1);
    t->etag.clear();
    return size * n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  const std::string key = absl::AsciiStrToLower(line.substr(0, colon));
  std::string value = line.substr(colon + 1);
  absl::StripAsciiWhitespace(&value);
  if (absl::StartsWith(value, "W/")) value.erase(0, 2);
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  if (key == "x-linked-etag") t->linked_etag = absl::AsciiStrToLower(value);
  if (key == "etag") t->etag = absl::AsciiStrToLower(value);
  return size * n;
}

size_t OnData(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->truncate_on_200 && t->status == 200) {
    // The server ignored the Range header and sends the whole file.
    if (ftruncate(fileno(t->file), 0) != 0 || fseek(t->file, 0, SEEK_SET) != 0) return 0;
    t->offset = 0;
    t->truncate_on_200 = false;
  }
  return fwrite(data, size, n, t->file) * size;
}

int OnProgress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->progress == nullptr) return 0;
  const auto clock = std::chrono::steady_clock::now();
  const bool done = total > 0 && now == total;
  if (!done && t->reported && clock - t->last_report < std::chrono::milliseconds(250)) return 0;
  if (now == 0 && !done) return 0;
  t->last_report = clock;
  t->reported = true;
  const double mib = 1024.0 * 1024.0;
  std::ostream& p = *t->progress;
  p << "\rpulling " << t->name << ": " << std::fixed << std::setprecision(1)
    << (t->offset + now) / mib << " MiB";
  if (total > 0) {
    p << " / " << (t->offset + total) / mib << " MiB ("
      << static_cast<int>(100.0 * (t->offset + now) / (t->offset + total)) << "%)";
  }
  p << std::flush;
  return 0;
}

// One GET of `url` into `part`, resuming from its current size. OK when the part file now
// holds the whole body; *transfer gets the headers.
absl::Status Fetch(const std::string& url, const std::string& part, Transfer* t) {
  std::error_code ec;
  const uintmax_t have = fs::exists(part, ec) ? fs::file_size(part, ec) : 0;
  std::unique_ptr<FILE, int (*)(FILE*)> file(fopen(part.c_str(), have > 0 ? "ab" : "wb"), fclose);
  if (file == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", part, ": ", std::strerror(errno)));
  }
  t->file = file.get();
  t->offset = static_cast<curl_off_t>(have);
  t->truncate_on_200 = have > 0;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (curl == nullptr) return absl::InternalError("libcurl: cannot start a transfer");
  char error[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "jetserve-pull/1");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  // Give up on a stalled connection (under 1 KiB/s for a minute); a rerun resumes.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
  if (have > 0) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(have));
  const CURLcode rc = curl_easy_perform(c);
  if (t->reported && t->progress != nullptr) *t->progress << "\n";
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  if (fflush(file.get()) != 0) {
    return absl::DataLossError(absl::StrCat("cannot write ", part, ": ", std::strerror(errno)));
  }
  if (rc == CURLE_OK) return absl::OkStatus();
  if (rc == CURLE_RANGE_ERROR) {
    return absl::OutOfRangeError(absl::StrCat(url, " does not support resuming"));
  }
  if (rc == CURLE_HTTP_RETURNED_ERROR) {
    const std::string msg = absl::StrCat("HTTP ", code, " from ", url);
    if (code == 416) return absl::OutOfRangeError(msg);
    if (code == 404) return absl::NotFoundError(msg);
    return absl::UnavailableError(msg);
  }
  return absl::UnavailableError(
      absl::StrCat("downloading ", url, ": ", error[0] != '\0' ? error : curl_easy_strerror(rc),
                   have > 0 || fs::file_size(part, ec) > 0 ? " (rerun to resume)" : ""));
}

}  // namespace

absl::StatusOr<std::string> ResolvePullUrl(const std::string& url) {
  absl::string_view rest(url);
  if (absl::ConsumePrefix(&rest, "hf://")) {
    // ORG/REPO/FILE, FILE possibly in subfolders.
    const size_t org = rest.find('/');
    const size_t repo = org == absl::string_view::npos ? org : rest.find('/', org + 1);
    if (org == 0 || repo == absl::string_view::npos || repo == org + 1 || repo + 1 >= rest.size()) {
      return absl::InvalidArgumentError(absl::StrCat("\"", url, "\": expected hf://ORG/REPO/FILE"));
    }
    return absl::StrCat("https://huggingface.co/", rest.substr(0, repo), "/resolve/main/",
                        rest.substr(repo + 1));
  }
  if (absl::StartsWith(url, "https://") || absl::StartsWith(url, "http://")) return url;
  return absl::InvalidArgumentError(
      absl::StrCat("\"", url, "\": expected an http(s):// URL or hf://ORG/REPO/FILE"));
}

std::string DefaultModelDir() {
  const char* env = getenv("JETSERVE_MODELS");
  if (env != nullptr && *env != '\0') return env;
  const char* home = getenv("HOME");
  return absl::StrCat(home != nullptr ? home : ".", "/.cache/jetserve/models");
}

absl::StatusOr<std::string> PullModel(const PullOptions& options, std::ostream& progress) {
  absl::StatusOr<std::string> url = ResolvePullUrl(options.url);
  if (!url.ok()) return url.status();
  absl::StatusOr<std::string> name = FileNameOf(*url);
  if (!name.ok()) return name.status();
  const std::string want = absl::AsciiStrToLower(options.sha256);
  if (!want.empty() && !IsSha256Hex(want)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--sha256 \"", options.sha256, "\" is not 64 hex digits"));
  }
  const std::string dir = options.dir.empty() ? DefaultModelDir() : options.dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  const std::string target = dir + "/" + *name;
  const std::string part = target + ".part";

  if (fs::exists(target, ec)) {
    if (want.empty()) return target;
    absl::StatusOr<std::string> have = FileSha256(target);
    if (!have.ok()) return have.status();
    if (*have == want) return target;
    return absl::FailedPreconditionError(absl::StrCat(target, " exists with sha256 ", *have,
                                                      ", not ", want, "; remove it to pull again"));
  }

  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) {
    return absl::InternalError(absl::StrCat("libcurl: ", curl_easy_strerror(init)));
  }
  Transfer t;
  t.progress = options.progress ? &progress : nullptr;
  t.name = *name;
  absl::Status s = Fetch(*url, part, &t);
  if (absl::IsOutOfRange(s)) {
    // 416 (the part file is not a prefix of what the server has now) or no Range support:
    // start over.
    fs::remove(part, ec);
    t = Transfer{.progress = t.progress, .name = t.name};
    s = Fetch(*url, part, &t);
  }
  if (!s.ok()) {
    if (fs::exists(part, ec) && fs::file_size(part, ec) == 0) fs::remove(part, ec);
    return s;
  }
  absl::StatusOr<std::string> got = FileSha256(part);
  if (!got.ok()) return got.status();
  std::string stated = IsSha256Hex(t.linked_etag) ? t.linked_etag : "";
  if (stated.empty() && IsSha256Hex(t.etag)) stated = t.etag;
  for (const auto& [expected, source] :
       {std::pair{want, std::string("--sha256")}, {stated, std::string("the server's ETag")}}) {
    if (expected.empty() || expected == *got) continue;
    fs::remove(part, ec);
    return absl::DataLossError(absl::StrCat("sha256 mismatch for ", *url, ": ", source, " says ",
                                            expected, ", the download has ", *got,
                                            "; removed the download"));
  }
  fs::rename(part, target, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot rename ", part, " to ", target, ": ", ec.message()));
  }
  return target;
}

int RunPullCommand(const std::vector<std::string>& words, std::ostream& out, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args =
      ParseArgs(words, {{"dir", 'd', true}, {"sha256", '\0', true}, {"quiet", 'q', false}});
  if (!args.ok()) {
    err << "jetserve pull: " << args.status().message() << "\n";
    return kExitUsage;
  }
  if (args->positional().size() != 1) {
    err << "usage: jetserve pull URL [--dir DIR] [--sha256 HEX] [--quiet]\n";
    return kExitUsage;
  }
  PullOptions o;
  o.url = args->positional()[0];
  o.dir = args->GetOr("dir", "");
  o.sha256 = args->GetOr("sha256", "");
  o.progress = !args->Has("quiet");
  absl::StatusOr<std::string> path = PullModel(o, err);
  if (!path.ok()) {
    err << "jetserve pull: " << path.status().message() << "\n";
    return absl::IsInvalidArgument(path.status()) ? kExitUsage : kExitFailed;
  }
  out << *path << "\n";
  return kExitOk;
}

std::string PullCommandUsage() {
  return R"(  jetserve pull URL [--dir DIR] [--sha256 HEX] [--quiet]
                    downloads a model into DIR (default $JETSERVE_MODELS or
                    ~/.cache/jetserve/models) and prints its path. URL: http(s)://... or
                    hf://ORG/REPO/FILE. An interrupted pull resumes from NAME.part; the
                    SHA-256 is checked against --sha256 and the server's ETag when it is one.
)";
}

}  // namespace jetserve::cli
