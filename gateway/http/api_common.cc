#include "gateway/http/api_common.h"

namespace jetserve::gateway::http {

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kUnimplemented:  // the model cannot do the task
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", t, absl::UTCTimeZone());
}

Json ToolArgumentsJson(const std::string& arguments_json) {
  if (arguments_json.empty()) return Json::object();
  Json v = Json::parse(arguments_json, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) return Json(arguments_json);
  return v;
}

void SetJsonSchema(const Json& schema, jetserve::v1::ResponseFormat* format) {
  format->set_json_schema(DumpJson(schema));
}

}  // namespace jetserve::gateway::http
