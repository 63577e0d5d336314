// Debian 12's Abseil is built with its own absl::string_view (not std::string_view), so
// absl::StrCat does not take std::string_view. The engine's APIs use std::string_view;
// Sv() adapts one for Abseil calls: absl::StrCat("tensor '", Sv(name), "'").
#ifndef JETSERVE_ENGINE_UTIL_STRING_VIEW_COMPAT_H_
#define JETSERVE_ENGINE_UTIL_STRING_VIEW_COMPAT_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace jetserve {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace jetserve

#endif  // JETSERVE_ENGINE_UTIL_STRING_VIEW_COMPAT_H_
