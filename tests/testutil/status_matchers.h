// GoogleMock matchers for absl::Status / absl::StatusOr (Debian 12's Abseil ships none).
//
//   EXPECT_THAT(reader.status(), StatusIs(absl::StatusCode::kInvalidArgument,
//                                         HasSubstr("n_dims")));
//   EXPECT_OK(DoThing());
//   ASSERT_OK_AND_ASSIGN(auto file, GgufFile::Open(path));
#ifndef JETSERVE_TESTS_TESTUTIL_STATUS_MATCHERS_H_
#define JETSERVE_TESTS_TESTUTIL_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jetserve::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

// StatusIs(code) / StatusIs(code, message_matcher): matches a Status or StatusOr<T>.
MATCHER_P2(StatusIs, code, message_matcher,
           std::string("status ") + absl::StatusCodeToString(code)) {
  const absl::Status& s = ::jetserve::testing::GetStatus(arg);
  if (s.code() != code) {
    *result_listener << "whose status is " << s;
    return false;
  }
  return ::testing::ExplainMatchResult(message_matcher, std::string(s.message()), result_listener);
}

MATCHER_P(StatusIs, code, std::string("status ") + absl::StatusCodeToString(code)) {
  const absl::Status& s = ::jetserve::testing::GetStatus(arg);
  if (s.code() != code) {
    *result_listener << "whose status is " << s;
    return false;
  }
  return true;
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = ::jetserve::testing::GetStatus(arg);
  if (!s.ok()) *result_listener << "whose status is " << s;
  return s.ok();
}

}  // namespace jetserve::testing

#define EXPECT_OK(expr) EXPECT_THAT((expr), ::jetserve::testing::IsOk())
#define ASSERT_OK(expr) ASSERT_THAT((expr), ::jetserve::testing::IsOk())

#define JETSERVE_STATUS_CONCAT_INNER_(a, b) a##b
#define JETSERVE_STATUS_CONCAT_(a, b) JETSERVE_STATUS_CONCAT_INNER_(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(JETSERVE_STATUS_CONCAT_(_statusor_, __LINE__), lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr)       \
  auto statusor = (rexpr);                                     \
  ASSERT_THAT(statusor.status(), ::jetserve::testing::IsOk()); \
  lhs = std::move(statusor).value()

#endif  // JETSERVE_TESTS_TESTUTIL_STATUS_MATCHERS_H_
