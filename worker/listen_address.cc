#include "worker/listen_address.h"

#include <sys/un.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jetserve::worker {

std::string ListenAddress::ToString() const {
  if (is_unix()) return absl::StrCat("unix:", unix_path);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text, absl::string_view flag,
                                                 const ListenAddressOptions& options) {
  ListenAddress address;
  if (text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " is empty; expected host:port",
                                                   options.allow_unix ? " or unix:/path" : ""));
  }
  if (absl::StartsWith(text, "unix:")) {
    if (!options.allow_unix) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, " \"", text, "\": Unix sockets are not supported here; use host:port"));
    }
    absl::string_view path = text.substr(5);
    if (absl::StartsWith(path, "//")) path.remove_prefix(2);  // unix:///abs/path
    if (path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " \"", text, "\": the socket path is empty"));
    }
    if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " \"", text, "\": the socket path is ",
                                                     path.size(), " bytes; the limit is ",
                                                     sizeof(sockaddr_un{}.sun_path) - 1));
    }
    address.unix_path = std::string(path);
    return address;
  }
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " \"", text, "\" has no port; expected host:port (e.g. 127.0.0.1:0)",
                     options.allow_unix ? " or unix:/path" : ""));
  }
  absl::string_view host = text.substr(0, colon);
  absl::string_view port = text.substr(colon + 1);
  if (host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " \"", text, "\" has no host; use 0.0.0.0 to listen on every interface"));
  }
  if (host.find(':') != absl::string_view::npos &&
      !(absl::StartsWith(host, "[") && absl::EndsWith(host, "]"))) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " \"", text, "\": write IPv6 hosts in brackets, e.g. [::1]:50051"));
  }
  int port_number = -1;
  if (port.empty() || port.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(port, &port_number) || port_number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " \"", text, "\": port \"", port, "\" is not an integer in [0, 65535]"));
  }
  address.host = std::string(host);
  address.port = port_number;
  return address;
}

}  // namespace jetserve::worker
