// Sign-in for people: a login and password become a session (a random token in an
// HttpOnly cookie, stored here only as its SHA-256) with its own CSRF token. Sessions end
// after agent_workspace.session_idle_minutes unused, after session_max_hours in any case,
// and on sign-out. Wrong passwords lock a login for a while; attempts are also limited per
// client address. Thread-safe; in memory (a restarted gateway signs everyone out).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "config/config.h"

namespace omniroute::workspace {

struct Session {
  std::string login, workspace, agent;
  config::Role role = config::Role::kAgent;
  std::string csrf;  // sent back in X-CSRF-Token on every state-changing request
  int64_t created_ms = 0, last_used_ms = 0;
};

// Why a sign-in was refused. Unknown logins and wrong passwords are the same answer.
enum class Refused { kBadCredentials, kLockedOut, kRateLimited, kTooManySessions };
struct Refusal {
  Refused why;
  int64_t retry_after_ms = 0;  // kLockedOut, kRateLimited
};

class SignIn {
 public:
  explicit SignIn(const config::AgentWorkspace& cfg);

  struct Opened {
    std::string token;  // for the cookie; never stored
    Session session;
  };
  // Checks the password (argon2id, slow on purpose: never under the lock).
  std::variant<Opened, Refusal> open(const std::string& login, const std::string& password,
                                     const std::string& client, int64_t now_ms);
  // The session of a cookie's token, touched; nullopt when unknown or expired.
  std::optional<Session> find(const std::string& token, int64_t now_ms);
  // Whether `presented` is the session's CSRF token (constant time).
  static bool csrf_ok(const Session& s, const std::string& presented);
  void close(const std::string& token);
  size_t open_sessions() const;

 private:
  struct Failures {
    int count = 0;
    int64_t locked_until_ms = 0;
  };
  bool expired(const Session& s, int64_t now_ms) const;
  const config::AgentWorkspace cfg_;  // a copy: a reload does not pull it away
  mutable std::mutex mu_;
  std::map<std::string, Session> sessions_;              // sha256(token) -> session
  std::map<std::string, Failures> failures_;             // login -> recent failures
  std::map<std::string, std::deque<int64_t>> attempts_;  // client -> attempt times
};

}  // namespace omniroute::workspace
