// A connector's Host without Kafka: records what a connector publishes and dead-letters,
// answers publishes with a settable result. For connector tests.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <yaml-cpp/yaml.h>

#include "connectors/host/host.h"
#include "connectors/sdk/connector.h"

namespace omniroute::testing {

class FakeHost : public sdk::Host {
 public:
  explicit FakeHost(std::vector<sdk::InboxInfo> inboxes) : inboxes_(std::move(inboxes)) {}
  void publish(v1::Envelope e, sdk::PublishDone done) override {
    sdk::PublishResult r;
    {
      std::lock_guard lock(mu_);
      r = result_;
      if (r.ok()) published_.push_back(e);
    }
    done(r);
  }
  void dead_letter(std::string_view, std::string_view reason) override {
    std::lock_guard lock(mu_);
    dead_.emplace_back(reason);
  }
  const std::vector<sdk::InboxInfo>& inboxes() const override { return inboxes_; }
  const sdk::Logger& logger() const override { return logger_; }

  std::vector<v1::Envelope> published() const {
    std::lock_guard lock(mu_);
    return published_;
  }
  std::vector<std::string> dead_letters() const {
    std::lock_guard lock(mu_);
    return dead_;
  }
  void set_result(sdk::PublishResult r) {
    std::lock_guard lock(mu_);
    result_ = std::move(r);
  }

 private:
  mutable std::mutex mu_;
  std::vector<v1::Envelope> published_;
  std::vector<std::string> dead_;
  sdk::PublishResult result_{sdk::PublishResult::Code::kOk, {}, "ev-1"};
  std::vector<sdk::InboxInfo> inboxes_;
  sdk::Logger logger_ = log::get("connector/test");
};

// Settings as the host resolves them (defaults filled, values checked) from YAML text.
inline sdk::Settings settings_of(const std::vector<sdk::ConfigField>& fields,
                                 const std::string& yaml) {
  std::vector<std::string> errors;
  auto s = connectors::resolve_settings(YAML::Load(yaml), fields, "test", errors);
  if (!errors.empty()) throw std::runtime_error(errors.front());
  return s;
}

// HMAC under `key` with OpenSSL directly (not the code under test): raw bytes.
inline std::string hmac_raw(const EVP_MD* md, const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}
inline std::string base64_of(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}
inline std::string hex_of(const std::string& bytes) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += k[c >> 4];
    out += k[c & 15];
  }
  return out;
}

}  // namespace omniroute::testing
