// Early-return helpers for absl::Status / absl::StatusOr in the model and runtime code.
//
//   JS_RETURN_IF_ERROR(ReadThing());
//   JS_ASSIGN_OR_RETURN(int64_t n, file.GetInt("llama.block_count"));
#ifndef JETSERVE_ENGINE_MODEL_STATUS_MACROS_H_
#define JETSERVE_ENGINE_MODEL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define JS_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status js_status_ = (expr);      \
    if (!js_status_.ok()) return js_status_; \
  } while (0)

#define JS_CONCAT_INNER(a, b) a##b
#define JS_CONCAT(a, b) JS_CONCAT_INNER(a, b)
#define JS_ASSIGN_OR_RETURN(lhs, expr) \
  JS_ASSIGN_OR_RETURN_IMPL(JS_CONCAT(js_statusor_, __LINE__), lhs, expr)
#define JS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

#endif  // JETSERVE_ENGINE_MODEL_STATUS_MACROS_H_
