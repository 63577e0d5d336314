#include "common/pem_file.h"

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace jetserve {

absl::StatusOr<std::string> ReadPemFile(const std::string& field, const std::string& path) {
  constexpr std::streamsize kMaxPemBytes = 1 << 20;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(field, ": cannot open \"", path, "\""));
  std::string text(static_cast<size_t>(kMaxPemBytes) + 1, '\0');
  in.read(text.data(), kMaxPemBytes + 1);
  if (in.bad()) return absl::DataLossError(absl::StrCat(field, ": read error on \"", path, "\""));
  text.resize(static_cast<size_t>(in.gcount()));
  if (static_cast<std::streamsize>(text.size()) > kMaxPemBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": \"", path, "\" is larger than ", kMaxPemBytes, " bytes"));
  }
  if (!absl::StrContains(text, "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": \"", path, "\" holds no PEM block (-----BEGIN ...)"));
  }
  return text;
}

}  // namespace jetserve
