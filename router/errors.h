// Typed errors of the router. A refusal is a code from a small set (Errc, in its own
// std::error_category) plus words for the person reading it; callers branch on the code,
// never on the text. The desk protocol's Error.code is derived from the code.
#pragma once

#include <string>
#include <system_error>
#include <utility>

#include "omniroute/v1/agent.pb.h"

namespace omniroute::router {

enum class Errc {
  kOk = 0,
  kNotFound,      // no such customer, conversation, offer, agent
  kConflict,      // exists, but its state does not allow it
  kInvalid,       // the request itself is malformed
  kUnauthorized,  // the caller may not do this
  kTooLarge,      // over a configured size limit
  kRateLimited,   // too often; try again later
};

const std::error_category& router_category();
inline std::error_code make_error_code(Errc e) {
  return {static_cast<int>(e), router_category()};
}

// The outcome of an operation that may be refused: ok, or a code and why.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Errc code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok_status() { return {}; }
  bool ok() const { return code_ == Errc::kOk; }
  explicit operator bool() const { return !ok(); }  // true when refused
  Errc code() const { return code_; }
  std::error_code error_code() const { return make_error_code(code_); }
  const std::string& message() const { return message_; }

 private:
  Errc code_ = Errc::kOk;
  std::string message_;
};

// The agent protocol's code for a refusal.
v1::Error::Code desk_code(Errc e);

}  // namespace omniroute::router

template <>
struct std::is_error_code_enum<omniroute::router::Errc> : std::true_type {};
