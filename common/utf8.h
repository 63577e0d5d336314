// Strict UTF-8 checks (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF),
// the same rule protobuf applies to proto3 string fields. For logs that must stay valid
// JSON and for the gateway's diagnosis of requests that do not parse.
//
//   size_t bad = FirstInvalidUtf8(text);  // std::string_view::npos when all valid
#ifndef JETSERVE_COMMON_UTF8_H_
#define JETSERVE_COMMON_UTF8_H_

#include <cstddef>
#include <string_view>

namespace jetserve {

// Length of the valid UTF-8 sequence starting at s[i] (i < s.size()), or 0 if it is not
// valid.
size_t Utf8SequenceLength(std::string_view s, size_t i);

// Offset of the first byte that does not start a valid sequence; npos when `s` is valid.
size_t FirstInvalidUtf8(std::string_view s);

}  // namespace jetserve

#endif  // JETSERVE_COMMON_UTF8_H_
