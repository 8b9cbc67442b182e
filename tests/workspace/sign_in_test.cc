// Sign-in for people: passwords, lock-out, rate limits, session expiry, CSRF.
#include "workspace/sign_in.h"

#include <gtest/gtest.h>

#include "workspace/passwords.h"

namespace omniroute::workspace {
namespace {

config::AgentWorkspace accounts() {
  config::AgentWorkspace w;
  w.enabled = true;
  w.session_idle_ms = 1000;
  w.session_max_ms = 5000;
  w.login_max_failures = 3;
  w.lockout_ms = 10000;
  w.login_attempts_per_minute = 100;
  w.max_sessions_per_account = 2;
  static const std::string hash = hash_password("correct horse").value();
  w.accounts.push_back({"alice", "acme", "alice", hash, config::Role::kAgent});
  w.accounts.push_back({"sam", "acme", "sam", hash, config::Role::kSupervisor});
  return w;
}

TEST(Passwords, Argon2idHashesVerifyOnlyTheirPassword) {
  auto h = hash_password("s3cret pass");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(verify_password(*h, "s3cret pass"));
  EXPECT_FALSE(verify_password(*h, "s3cret pasS"));
  EXPECT_NE(*h, hash_password("s3cret pass").value()) << "a new salt every time";
  EXPECT_FALSE(verify_password("not a hash", "x"));
  EXPECT_FALSE(verify_password("", ""));
}

TEST(SignIn, TheRightPasswordOpensASessionOfThatAgentWithItsOwnCsrfToken) {
  auto cfg = accounts();
  SignIn s(cfg);
  auto r = s.open("sam", "correct horse", "10.0.0.1", 0);
  ASSERT_TRUE(std::holds_alternative<SignIn::Opened>(r));
  const auto& o = std::get<SignIn::Opened>(r);
  EXPECT_EQ(o.token.size(), 64u);
  EXPECT_EQ(o.session.agent, "sam");
  EXPECT_EQ(o.session.role, config::Role::kSupervisor);
  auto found = s.find(o.token, 500);
  ASSERT_TRUE(found);
  EXPECT_TRUE(SignIn::csrf_ok(*found, o.session.csrf));
  EXPECT_FALSE(SignIn::csrf_ok(*found, ""));
  EXPECT_FALSE(SignIn::csrf_ok(*found, o.token)) << "the cookie is not the CSRF token";
  EXPECT_FALSE(s.find("deadbeef", 500));
}

TEST(SignIn, WrongPasswordsAndUnknownLoginsGetTheSameAnswerThenALockOut) {
  auto cfg = accounts();
  SignIn s(cfg);
  auto unknown = s.open("mallory", "correct horse", "10.0.0.9", 0);
  ASSERT_TRUE(std::holds_alternative<Refusal>(unknown));
  EXPECT_EQ(std::get<Refusal>(unknown).why, Refused::kBadCredentials);
  for (int i = 0; i < 3; ++i) {
    auto r = s.open("alice", "wrong", "10.0.0.9", i);
    ASSERT_TRUE(std::holds_alternative<Refusal>(r));
    EXPECT_EQ(std::get<Refusal>(r).why, Refused::kBadCredentials);
  }
  auto locked = s.open("alice", "correct horse", "10.0.0.9", 100);
  ASSERT_TRUE(std::holds_alternative<Refusal>(locked)) << "even the right password waits";
  EXPECT_EQ(std::get<Refusal>(locked).why, Refused::kLockedOut);
  EXPECT_GT(std::get<Refusal>(locked).retry_after_ms, 9000);
  EXPECT_TRUE(std::holds_alternative<SignIn::Opened>(s.open("alice", "correct horse", "x", 10200)))
      << "after the lock-out";
}

TEST(SignIn, SessionsEndWhenIdleAtTheirMaximumAgeOnSignOutAndAreCappedPerAccount) {
  auto cfg = accounts();
  SignIn s(cfg);
  auto a = std::get<SignIn::Opened>(s.open("alice", "correct horse", "c", 0));
  auto b = std::get<SignIn::Opened>(s.open("alice", "correct horse", "c", 0));
  auto third = s.open("alice", "correct horse", "c", 0);
  ASSERT_TRUE(std::holds_alternative<Refusal>(third));
  EXPECT_EQ(std::get<Refusal>(third).why, Refused::kTooManySessions);
  for (int64_t t = 900; t <= 4900; t += 800) EXPECT_TRUE(s.find(a.token, t)) << t;
  EXPECT_FALSE(s.find(b.token, 4900)) << "idle for more than a second";
  EXPECT_FALSE(s.find(a.token, 5100)) << "older than the maximum, however busy";
  auto c = std::get<SignIn::Opened>(s.open("alice", "correct horse", "c", 6000));
  s.close(c.token);
  EXPECT_FALSE(s.find(c.token, 6001));
}

TEST(SignIn, OneAddressCannotTryForever) {
  auto cfg = accounts();
  cfg.login_attempts_per_minute = 3;
  SignIn s(cfg);
  for (int i = 0; i < 3; ++i) (void)s.open("bob", "x", "10.0.0.7", i);
  auto r = s.open("alice", "correct horse", "10.0.0.7", 10);
  ASSERT_TRUE(std::holds_alternative<Refusal>(r));
  EXPECT_EQ(std::get<Refusal>(r).why, Refused::kRateLimited);
  EXPECT_TRUE(
      std::holds_alternative<SignIn::Opened>(s.open("alice", "correct horse", "10.0.0.8", 10)))
      << "other addresses are not affected";
  EXPECT_TRUE(
      std::holds_alternative<SignIn::Opened>(s.open("alice", "correct horse", "10.0.0.7", 60010)));
}

}  // namespace
}  // namespace omniroute::workspace
