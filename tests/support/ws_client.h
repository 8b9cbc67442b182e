// A WebSocket client for tests (Boost.Beast underneath, compiled once in ws_client.cc):
// connects with an Origin, collects every JSON frame it receives, sends frames, reports
// why a handshake was refused.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace omniroute::testing {

class WsClient {
 public:
  WsClient(const std::string& host, int port, const std::string& path, const std::string& origin,
           const std::string& cookie = "");
  ~WsClient();

  bool connected() const;
  const std::string& error() const;  // why the connection or handshake failed
  bool closed() const;               // the server closed it

  void send(const nlohmann::json& frame);
  std::vector<nlohmann::json> frames() const;
  // The first received frame of this type (after `from` frames), or null when none came in time.
  nlohmann::json wait_for(const std::string& type, size_t from = 0,
                          std::chrono::milliseconds timeout = std::chrono::seconds(15)) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace omniroute::testing
