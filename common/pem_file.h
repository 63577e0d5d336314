// Reads a PEM file (certificates or a private key) for TLS settings of the gateway and the
// worker, with errors that name the setting: "tls.cert_file: cannot open \"/x.pem\"".
//
//   absl::StatusOr<std::string> pem = ReadPemFile("--tls-cert", path);
#ifndef JETSERVE_COMMON_PEM_FILE_H_
#define JETSERVE_COMMON_PEM_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace jetserve {

// At most 1 MiB; the text must hold a PEM block ("-----BEGIN "). `field` names the
// setting in errors; the file's contents never appear in them.
absl::StatusOr<std::string> ReadPemFile(const std::string& field, const std::string& path);

}  // namespace jetserve

#endif  // JETSERVE_COMMON_PEM_FILE_H_
