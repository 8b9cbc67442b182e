// The HTTP connector base: publish outcomes as HTTP answers, signature checks.
#include <gtest/gtest.h>

#include "common/log.h"
#include "connectors/http/connector.h"
#include "connectors/http/signature.h"

namespace omniroute::connectors::http {
namespace {

TEST(HttpBase, PublishFailuresAreAnsweredAsTheSendersMistakeOrRetryLater) {
  sdk::PublishResult r;
  r.code = sdk::PublishResult::Code::kInvalid;
  r.detail = "bad field";
  EXPECT_EQ(publish_failure(r).status, 400);
  EXPECT_NE(publish_failure(r).body.find("bad field"), std::string::npos);
  r.code = sdk::PublishResult::Code::kTooLarge;
  EXPECT_EQ(publish_failure(r).status, 413);
  r.code = sdk::PublishResult::Code::kUnavailable;
  r.detail = "broker 3 down: internal detail";
  EXPECT_EQ(publish_failure(r).status, 503);
  EXPECT_EQ(publish_failure(r).body.find("broker"), std::string::npos) << "no internals";
}

TEST(HttpBase, MissingSignatureIs401WrongIs403RightPasses) {
  auto log = log::get("test");
  Request req;
  req.body = "{}";
  auto expected = [] { return hmac_sha256_tagged("k", "{}"); };
  auto missing = check_signed(req, "X-Sig", expected, log, "t");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  req.headers = {{"x-sig", "sha256=00"}};
  auto wrong = check_signed(req, "X-Sig", expected, log, "t");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403);
  req.headers = {{"x-sig", expected()}};
  EXPECT_FALSE(check_signed(req, "X-Sig", expected, log, "t"));
}

}  // namespace
}  // namespace omniroute::connectors::http
