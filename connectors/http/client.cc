#include "connectors/http/client.h"

#include <memory>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>

namespace omniroute::connectors::http {

namespace {

struct Sink {
  std::string* body;
  size_t max;
};

size_t collect(char* data, size_t size, size_t n, void* out) {
  auto* sink = static_cast<Sink*>(out);
  const size_t len = size * n;
  std::string& s = *sink->body;
  if (s.size() < sink->max) s.append(data, std::min(len, sink->max - s.size()));
  return len;
}

size_t header_line(char* data, size_t size, size_t n, void* out) {
  const size_t len = size * n;
  std::string_view line(data, len);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (size_t i = 0; i < kName.size() && match; ++i)
      match = std::tolower(static_cast<unsigned char>(line[i])) == kName[i];
    if (match) {
      std::string v(line.substr(kName.size()));
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.pop_back();
      while (!v.empty() && v.front() == ' ') v.erase(v.begin());
      *static_cast<std::string*>(out) = v;
    }
  }
  return len;
}

}  // namespace

ClientResponse send(const ClientRequest& req) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  ClientResponse r;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    r.error = "curl_easy_init failed";
    return r;
  }
  curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> guard(headers, &curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  if (req.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (req.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (!req.body.empty()) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
  }
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (!req.basic_user.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, req.basic_user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, req.basic_password.c_str());
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
  Sink sink{&r.body, req.max_response_bytes};
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &header_line);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.retry_after);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    r.error = curl_easy_strerror(rc);
    return r;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

sdk::DeliveryResult classify(const ClientResponse& r, std::string_view what) {
  if (!r.error.empty()) return sdk::DeliveryResult::retry(fmt::format("{}: {}", what, r.error));
  if (r.status >= 200 && r.status < 300) return sdk::DeliveryResult::delivered();
  std::string detail =
      fmt::format("{} answered HTTP {}: {}", what, r.status, r.body.substr(0, 300));
  if (!r.retry_after.empty()) detail += fmt::format(" (Retry-After {})", r.retry_after);
  if (r.status == 408 || r.status == 425 || r.status == 429 || r.status >= 500) {
    int64_t after_ms = 0;
    if (!r.retry_after.empty() && std::isdigit(static_cast<unsigned char>(r.retry_after[0]))) {
      try {
        after_ms = std::stoll(r.retry_after) * 1000;
      } catch (...) {
      }
    }
    return sdk::DeliveryResult::retry(detail, after_ms);
  }
  return sdk::DeliveryResult::failed(detail);
}

}  // namespace omniroute::connectors::http
