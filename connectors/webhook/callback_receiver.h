// A reference receiver for webhook callbacks: what an integrator's endpoint does.
// Verifies X-Omniroute-Signature over the raw body, decodes the OutboundMessage JSON,
// ignores re-sends by X-Omniroute-Delivery-Id, and answers 200. Used by `up --demo`,
// the tests, and as an example for integrators.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "omniroute/v1/events.pb.h"

namespace omniroute::connectors::webhook {

// The integrator's side of an inbound call: POST `body` to `url`, signed under `secret`
// (an empty secret sends no signature). Returns the HTTP status (0 when the connection
// failed) and fills `response` with the body.
int post_signed(const std::string& url, const std::string& secret, const std::string& body,
                std::string* response = nullptr, long timeout_ms = 30000);

class CallbackReceiver {
 public:
  // Listens on 127.0.0.1:<port> (0 = any free port).
  CallbackReceiver(std::string secret, uint16_t port = 0);
  ~CallbackReceiver();

  std::string url() const;  // http://127.0.0.1:<port>/replies
  // Status code to answer for the next `count` requests (tests of retries).
  void fail_next(int count, int status);

  std::vector<v1::OutboundMessage> received() const;
  size_t received_count() const;
  size_t duplicates() const { return duplicates_; }
  size_t bad_signatures() const { return bad_signatures_; }
  size_t requests() const { return requests_; }

 private:
  void serve();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string secret_;
  mutable std::mutex mu_;
  std::vector<v1::OutboundMessage> received_;
  std::set<std::string> seen_;
  std::atomic<size_t> duplicates_{0}, bad_signatures_{0}, requests_{0};
  std::atomic<int> fail_count_{0}, fail_status_{500};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace omniroute::connectors::webhook
