// Outbound HTTP for connectors (libcurl): one request, bounded by a timeout, and the
// classification every provider API shares (2xx delivered; 408/425/429/5xx and network
// errors retried by the host with backoff; other 4xx final).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "connectors/sdk/connector.h"

namespace omniroute::connectors::http {

struct ClientRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::string basic_user, basic_password;  // HTTP Basic when basic_user is set
  long timeout_ms = 10000;
  size_t max_response_bytes = 64 << 10;  // the answer's body is cut here
};

struct ClientResponse {
  long status = 0;          // 0: no HTTP answer (see error)
  std::string body;         // first max_response_bytes
  std::string retry_after;  // Retry-After header, if any
  std::string error;        // libcurl's error when no answer came
};

ClientResponse send(const ClientRequest& request);

// 2xx -> delivered (provider id filled by the caller); retryable -> retry; else failed.
// `what` names the provider in the detail ("Twilio", "Graph API").
sdk::DeliveryResult classify(const ClientResponse& response, std::string_view what);

}  // namespace omniroute::connectors::http
