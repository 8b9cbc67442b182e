#include "connectors/http/signature.h"

#include <fmt/format.h>

#include "common/crypto.h"
#include "ops/metrics.h"

namespace omniroute::connectors::http {

std::optional<Response> check_signed(const Request& req, std::string_view header,
                                     const std::function<std::string()>& expected,
                                     const sdk::Logger& log, std::string_view who) {
  return check_signed_by(
      req, header,
      [&](const std::string& presented) {
        return crypto::constant_time_equal(expected(), presented);
      },
      log, who);
}

std::optional<Response> check_signed_by(const Request& req, std::string_view header,
                                        const std::function<bool(const std::string&)>& valid,
                                        const sdk::Logger& log, std::string_view who) {
  const std::string presented = req.header(header);
  if (presented.empty()) {
    log->warn("{}: request without {} rejected", who, header);
    ops::metrics().auth_rejected.Add({{"surface", "webhook"}, {"reason", "unsigned"}}).Increment();
    return Response::error(401, fmt::format("missing {} header", header));
  }
  if (!valid(presented)) {
    log->warn("{}: request with a wrong {} rejected", who, header);
    ops::metrics()
        .auth_rejected.Add({{"surface", "webhook"}, {"reason", "bad_signature"}})
        .Increment();
    return Response::error(403, "bad signature");
  }
  return std::nullopt;
}

std::string hmac_sha256_tagged(std::string_view secret, std::string_view body) {
  return "sha256=" + crypto::hmac_sha256_hex(secret, body);
}

}  // namespace omniroute::connectors::http
