#include "router/errors.h"

namespace omniroute::router {
namespace {

class Category : public std::error_category {
 public:
  const char* name() const noexcept override { return "omniroute.router"; }
  std::string message(int e) const override {
    switch (static_cast<Errc>(e)) {
      case Errc::kOk:
        return "ok";
      case Errc::kNotFound:
        return "not found";
      case Errc::kConflict:
        return "conflict";
      case Errc::kInvalid:
        return "invalid";
      case Errc::kUnauthorized:
        return "unauthorized";
      case Errc::kTooLarge:
        return "too large";
      case Errc::kRateLimited:
        return "rate limited";
    }
    return "unknown";
  }
};

}  // namespace

const std::error_category& router_category() {
  static const Category c;
  return c;
}

v1::Error::Code desk_code(Errc e) {
  switch (e) {
    case Errc::kNotFound:
      return v1::Error::CODE_NOT_FOUND;
    case Errc::kConflict:
      return v1::Error::CODE_CONFLICT;
    case Errc::kUnauthorized:
      return v1::Error::CODE_UNAUTHORIZED;
    case Errc::kTooLarge:
      return v1::Error::CODE_TOO_LARGE;
    case Errc::kRateLimited:
      return v1::Error::CODE_RATE_LIMITED;
    case Errc::kOk:
    case Errc::kInvalid:
      break;
  }
  return v1::Error::CODE_INVALID;
}

}  // namespace omniroute::router
