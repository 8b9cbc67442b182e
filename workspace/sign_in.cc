#include "workspace/sign_in.h"

#include "common/crypto.h"
#include "workspace/passwords.h"

namespace omniroute::workspace {
namespace {

constexpr int64_t kMinuteMs = 60 * 1000;

// Verified when the login is unknown, so that answer takes as long as a wrong password.
const std::string& dummy_hash() {
  static const std::string h = hash_password("not a password").value_or("");
  return h;
}

}  // namespace

SignIn::SignIn(const config::AgentWorkspace& cfg) : cfg_(cfg) {}

bool SignIn::expired(const Session& s, int64_t now_ms) const {
  return now_ms - s.last_used_ms > cfg_.session_idle_ms ||
         now_ms - s.created_ms > cfg_.session_max_ms;
}

std::variant<SignIn::Opened, Refusal> SignIn::open(const std::string& login,
                                                   const std::string& password,
                                                   const std::string& client, int64_t now_ms) {
  {
    std::lock_guard lock(mu_);
    if (attempts_.size() > 4096) {  // many addresses: forget those quiet for a minute
      for (auto it = attempts_.begin(); it != attempts_.end();)
        it = it->second.empty() || now_ms - it->second.back() >= kMinuteMs ? attempts_.erase(it)
                                                                           : std::next(it);
    }
    auto& times = attempts_[client];
    while (!times.empty() && now_ms - times.front() >= kMinuteMs) times.pop_front();
    if (static_cast<int>(times.size()) >= cfg_.login_attempts_per_minute)
      return Refusal{Refused::kRateLimited, kMinuteMs - (now_ms - times.front())};
    times.push_back(now_ms);
    if (auto f = failures_.find(login); f != failures_.end() && f->second.locked_until_ms > now_ms)
      return Refusal{Refused::kLockedOut, f->second.locked_until_ms - now_ms};
  }
  const config::Account* account = cfg_.account(login);
  const bool good = verify_password(account ? account->password_hash : dummy_hash(), password) &&
                    account != nullptr;
  std::lock_guard lock(mu_);
  if (!good) {
    if (account) {
      auto& f = failures_[login];
      if (++f.count >= cfg_.login_max_failures) {
        f.count = 0;
        f.locked_until_ms = now_ms + cfg_.lockout_ms;
      }
    }
    return Refusal{Refused::kBadCredentials, 0};
  }
  failures_.erase(login);
  // Expired sessions go first; then the account's count is checked.
  int mine = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (expired(it->second, now_ms)) {
      it = sessions_.erase(it);
      continue;
    }
    mine += it->second.login == login ? 1 : 0;
    ++it;
  }
  if (mine >= cfg_.max_sessions_per_account) return Refusal{Refused::kTooManySessions, 0};
  Opened o;
  o.token = crypto::random_hex(32);
  o.session.login = login;
  o.session.workspace = account->workspace;
  o.session.agent = account->agent;
  o.session.role = account->role;
  o.session.csrf = crypto::random_hex(32);
  o.session.created_ms = o.session.last_used_ms = now_ms;
  sessions_[crypto::sha256_hex(o.token)] = o.session;
  return o;
}

std::optional<Session> SignIn::find(const std::string& token, int64_t now_ms) {
  if (token.empty() || token.size() > 128) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = sessions_.find(crypto::sha256_hex(token));
  if (it == sessions_.end()) return std::nullopt;
  if (expired(it->second, now_ms)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used_ms = now_ms;
  return it->second;
}

bool SignIn::csrf_ok(const Session& s, const std::string& presented) {
  return !presented.empty() && crypto::constant_time_equal(s.csrf, presented);
}

void SignIn::close(const std::string& token) {
  std::lock_guard lock(mu_);
  sessions_.erase(crypto::sha256_hex(token));
}

size_t SignIn::open_sessions() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace omniroute::workspace
