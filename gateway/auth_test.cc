// API keys: parsing, hashing, the three error codes, token buckets on a fake clock,
// concurrency slots, reload, and that secrets appear in no error and no metric.
#include "gateway/auth.h"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace jetserve::gateway {
namespace {

namespace cv1 = ::jetserve::config::v1;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAlice[] = "alice-secret-0123456789";
constexpr char kBob[] = "bob-secret-abcdefghijkl";
constexpr char kOps[] = "ops-secret-ZYXWVUTSRQPO";

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/jsauth-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { (void)system(("rm -rf " + dir_).c_str()); }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  absl::StatusOr<std::unique_ptr<Authenticator>> Make(const cv1::AuthConfig& config) {
    AuthOptions o;
    o.registry = &registry_;
    o.now = [this] { return now_; };
    o.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
    return Authenticator::Create(config, std::move(o));
  }

  std::string Scrape() { return prometheus::TextSerializer().Serialize(registry_.Collect()); }

  std::string dir_;
  prometheus::Registry registry_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  std::map<std::string, std::string> env_;
};

AuthHeaders Bearer(const std::string& key) {
  static std::string value;
  value = "Bearer " + key;
  return {.authorization = value};
}

TEST(Sha256Test, KnownVectors) {
  // FIPS 180-2 appendix B.1 and the empty string.
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(AuthTest, NoKeysMeansAnonymousAndAdmitted) {
  auto auth = Make(cv1::AuthConfig());
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_FALSE((*auth)->enabled());
  auto who = (*auth)->Authenticate({});
  ASSERT_TRUE(who.ok());
  EXPECT_TRUE(who->anonymous());
  EXPECT_TRUE((*auth)->Admit(*who, "any").ok());
  EXPECT_TRUE((*auth)->CheckAdmin(*who).ok());
}

TEST_F(AuthTest, FileKeysByBearerAndXApiKey) {
  cv1::AuthConfig config;
  config.set_keys_file(WriteFile("keys.json", absl::StrCat(R"({"keys": [
      {"name": "alice", "key": ")",
                                                           kAlice, R"(", "models": ["m1"]},
      {"name": "bob", "keySha256": ")",
                                                           Sha256Hex(kBob), R"("},
      {"name": "ops", "key": ")",
                                                           kOps, R"(", "admin": true}]})")));
  auto auth = Make(config);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ((*auth)->size(), 3);

  auto alice = (*auth)->Authenticate(Bearer(kAlice));
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->name(), "alice");
  EXPECT_FALSE(alice->admin());
  // Scheme case-insensitive (RFC 7235), extra spaces tolerated.
  std::string lower = absl::StrCat("bearer   ", kBob);
  auto bob = (*auth)->Authenticate({.authorization = lower});
  ASSERT_TRUE(bob.ok()) << bob.status();
  EXPECT_EQ(bob->name(), "bob");
  auto ops = (*auth)->Authenticate({.x_api_key = kOps});
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(ops->name(), "ops");
  EXPECT_TRUE(ops->admin());

  // UNAUTHENTICATED: missing, wrong scheme, unknown, a prefix of a real key.
  for (const AuthHeaders& h :
       {AuthHeaders{}, AuthHeaders{.authorization = "Basic YWxpY2U6eA=="},
        AuthHeaders{.authorization = "Bearer"}, AuthHeaders{.x_api_key = "nope-nope-nope-nope"},
        AuthHeaders{.x_api_key = absl::string_view(kAlice, 10)}}) {
    auto r = (*auth)->Authenticate(h);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << h.authorization;
    EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr(kAlice)));
  }

  // PERMISSION_DENIED: alice may use m1 only; bob everything.
  EXPECT_TRUE((*auth)->Admit(*alice, "m1").ok());
  auto denied = (*auth)->Admit(*alice, "m2");
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(denied.status().message()), HasSubstr("\"m2\""));
  EXPECT_TRUE((*auth)->Admit(*alice, "").ok());  // ListModels: no model
  EXPECT_TRUE((*auth)->Admit(*bob, "m2").ok());
  EXPECT_EQ((*auth)->CheckAdmin(*bob).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE((*auth)->CheckAdmin(*ops).ok());
  // With keys configured, an anonymous identity is not admitted.
  EXPECT_EQ((*auth)->Admit(KeyIdentity(), "m1").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*auth)->CheckAdmin(KeyIdentity()).code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthTest, EnvironmentKeys) {
  env_["JS_KEYS"] = absl::StrCat("ci:", kAlice, ", dev:", kBob);
  cv1::AuthConfig config;
  config.set_keys_env("JS_KEYS");
  auto auth = Make(config);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ((*auth)->Authenticate(Bearer(kAlice))->name(), "ci");
  EXPECT_EQ((*auth)->Authenticate(Bearer(kBob))->name(), "dev");
  config.set_keys_env("JS_UNSET");
  EXPECT_EQ(Make(config).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(AuthTest, BadKeyFilesNameTheFieldNeverTheSecret) {
  struct Case {
    std::string json;
    std::string want;
  };
  const std::string sha = Sha256Hex(kBob);
  for (const Case& c : {
           Case{absl::StrCat(R"({"keys": [{"name": "a", "key": "short"}]})"), "printable ASCII"},
           Case{absl::StrCat(R"({"keys": [{"name": "a b", "key": ")", kAlice, R"("}]})"),
                "keys[0].name"},
           Case{absl::StrCat(R"({"keys": [{"name": "a", "key": ")", kAlice, R"(", "keySha256": ")",
                             sha, R"("}]})"),
                "exactly one"},
           Case{R"({"keys": [{"name": "a", "keySha256": "xyz"}]})", "64 hex digits"},
           Case{absl::StrCat(R"({"keys": [{"name": "a", "key": ")", kAlice, R"("}, {"name": "a",
                "key": ")",
                             kBob, R"("}]})"),
                "duplicate key name"},
           Case{absl::StrCat(R"({"keys": [{"name": "a", "key": ")", kAlice, R"("}, {"name": "b",
                "keySha256": ")",
                             Sha256Hex(kAlice), R"("}]})"),
                "same secret"},
           Case{absl::StrCat(R"({"keys": [{"name": "a", "key": ")", kAlice,
                             R"(", "limits": {"requestsPerMinute": -1}}]})"),
                "requests_per_minute"},
           Case{absl::StrCat(R"({"keys": [{"name": "a", "secret": ")", kAlice, R"("}]})"),
                "malformed key file"},
       }) {
    cv1::AuthConfig config;
    config.set_keys_file(WriteFile("bad.json", c.json));
    auto auth = Make(config);
    ASSERT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    const std::string message(auth.status().message());
    EXPECT_THAT(message, HasSubstr(c.want));
    EXPECT_THAT(message, Not(HasSubstr(kAlice)));
    EXPECT_THAT(message, Not(HasSubstr(kBob)));
  }
  cv1::AuthConfig missing;
  missing.set_keys_file(dir_ + "/absent.json");
  EXPECT_EQ(Make(missing).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(AuthTest, RequestRateTokenBucket) {
  // 60 per minute: a full minute's burst, then one more per second.
  cv1::AuthConfig config;
  config.set_keys_file(WriteFile(
      "keys.json", absl::StrCat(R"({"keys": [{"name": "a", "key": ")", kAlice, R"(", "limits": {
      "requestsPerMinute": 60, "maxConcurrentStreams": 0}}]})")));
  auto auth = Make(config);
  ASSERT_TRUE(auth.ok()) << auth.status();
  auto a = *(*auth)->Authenticate(Bearer(kAlice));
  for (int i = 0; i < 60; ++i) ASSERT_TRUE((*auth)->Admit(a, "m").ok()) << i;
  auto over = (*auth)->Admit(a, "m");
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(over.status().message()), HasSubstr("retry in 1s"));
  now_ += absl::Milliseconds(999);
  EXPECT_EQ((*auth)->Admit(a, "m").status().code(), absl::StatusCode::kResourceExhausted);
  now_ += absl::Milliseconds(1);
  EXPECT_TRUE((*auth)->Admit(a, "m").ok());
  EXPECT_FALSE((*auth)->Admit(a, "m").ok());
  now_ += absl::Seconds(10);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE((*auth)->Admit(a, "m").ok()) << i;
  EXPECT_FALSE((*auth)->Admit(a, "m").ok());
}

TEST_F(AuthTest, TokenRateChargedAfterTheCall) {
  cv1::AuthConfig config;
  config.mutable_default_limits()->set_tokens_per_minute(600);  // 10 per second
  env_["K"] = absl::StrCat("a:", kAlice);
  config.set_keys_env("K");
  auto auth = Make(config);
  ASSERT_TRUE(auth.ok()) << auth.status();
  auto a = *(*auth)->Authenticate(Bearer(kAlice));
  {
    auto call = (*auth)->Admit(a, "m");
    ASSERT_TRUE(call.ok());
    call->RecordUsage(500, 150);  // 650 of 600: the bucket is at -50
  }
  auto over = (*auth)->Admit(a, "m");
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(over.status().message()), HasSubstr("tokens per minute"));
  now_ += absl::Seconds(5);  // +50: exactly 0, still not positive
  EXPECT_EQ((*auth)->Admit(a, "m").status().code(), absl::StatusCode::kResourceExhausted);
  now_ += absl::Milliseconds(100);  // +1
  EXPECT_TRUE((*auth)->Admit(a, "m").ok());
  const std::string s = Scrape();
  EXPECT_THAT(s, HasSubstr("jetserve_gateway_key_prompt_tokens_total{key=\"a\"} 500"));
  EXPECT_THAT(s, HasSubstr("jetserve_gateway_key_generated_tokens_total{key=\"a\"} 150"));
  EXPECT_THAT(s, HasSubstr("jetserve_gateway_key_rejected_total{key=\"a\",reason=\"tokens\"} 2"));
}

TEST_F(AuthTest, ConcurrencySlotsAndReloadKeepsState) {
  const std::string path =
      WriteFile("keys.json", absl::StrCat(R"({"keys": [{"name": "a", "key": ")", kAlice,
                                          R"(", "limits": {"maxConcurrentStreams": 2}}]})"));
  cv1::AuthConfig config;
  config.set_keys_file(path);
  auto auth = Make(config);
  ASSERT_TRUE(auth.ok()) << auth.status();
  auto a = *(*auth)->Authenticate(Bearer(kAlice));
  auto first = (*auth)->Admit(a, "m");
  auto second = (*auth)->Admit(a, "m");
  ASSERT_TRUE(first.ok() && second.ok());
  auto third = (*auth)->Admit(a, "m");
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(third.status().message()), HasSubstr("2 calls in flight"));
  EXPECT_THAT(Scrape(), HasSubstr("jetserve_gateway_key_streams{key=\"a\"} 2"));

  // Reload: same name, new limit 3 and a new key; the two calls in flight still count.
  WriteFile("keys.json", absl::StrCat(R"({"keys": [{"name": "a", "key": ")", kAlice,
                                      R"(", "limits": {"maxConcurrentStreams": 3}},
                                      {"name": "b", "key": ")",
                                      kBob, R"("}]})"));
  ASSERT_TRUE((*auth)->Reload(config).ok());
  EXPECT_EQ((*auth)->size(), 2);
  auto a2 = *(*auth)->Authenticate(Bearer(kAlice));
  auto third_now = (*auth)->Admit(a2, "m");
  EXPECT_TRUE(third_now.ok());
  EXPECT_EQ((*auth)->Admit(a2, "m").status().code(), absl::StatusCode::kResourceExhausted);
  // Freed slots come back, through the old identity's admissions too.
  first->Release();
  second = Admission();
  EXPECT_TRUE((*auth)->Admit(a2, "m").ok());
  EXPECT_THAT(Scrape(), HasSubstr("jetserve_gateway_key_streams{key=\"a\"} 1"));

  // A bad file keeps the old keys.
  WriteFile("keys.json", "{not json");
  EXPECT_EQ((*auth)->Reload(config).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE((*auth)->Authenticate(Bearer(kBob)).ok());
  // A key removed by reload is refused.
  WriteFile("keys.json", absl::StrCat(R"({"keys": [{"name": "b", "key": ")", kBob, R"("}]})"));
  ASSERT_TRUE((*auth)->Reload(config).ok());
  EXPECT_EQ((*auth)->Authenticate(Bearer(kAlice)).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthTest, MetricsNameKeysNeverSecrets) {
  cv1::AuthConfig config;
  config.set_keys_file(WriteFile("keys.json", absl::StrCat(R"({"keys": [{"name": "a", "key": ")",
                                                           kAlice, R"(", "models": ["m1"]}]})")));
  auto auth = Make(config);
  ASSERT_TRUE(auth.ok());
  auto a = *(*auth)->Authenticate(Bearer(kAlice));
  (void)(*auth)->Admit(a, "m1");
  (void)(*auth)->Admit(a, "m2");
  (void)(*auth)->Authenticate(Bearer(kBob));
  (void)(*auth)->Authenticate({});
  const std::string s = Scrape();
  EXPECT_THAT(s, HasSubstr("jetserve_gateway_key_requests_total{key=\"a\"} 1"));
  EXPECT_THAT(s, HasSubstr("jetserve_gateway_key_rejected_total{key=\"a\",reason=\"model\"} 1"));
  EXPECT_THAT(s, HasSubstr("jetserve_gateway_auth_failures_total 2"));
  EXPECT_THAT(s, Not(HasSubstr(kAlice)));
  EXPECT_THAT(s, Not(HasSubstr(kBob)));
  EXPECT_THAT(s, Not(HasSubstr(Sha256Hex(kAlice))));
}

}  // namespace
}  // namespace jetserve::gateway
