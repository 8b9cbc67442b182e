// A WebSocket client for tests (Boost.Beast): connects with an Origin, collects every JSON
// frame it receives, sends frames, reports a refused handshake's HTTP status.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/support.h"

namespace omniroute::testing {

class WsClient {
 public:
  WsClient(const std::string& host, int port, const std::string& path, const std::string& origin)
      : ws_(boost::asio::make_strand(ioc_)) {
    namespace beast = boost::beast;
    namespace websocket = beast::websocket;
    try {
      boost::asio::ip::tcp::resolver resolver(ioc_);
      beast::get_lowest_layer(ws_).connect(resolver.resolve(host, std::to_string(port)));
      ws_.set_option(websocket::stream_base::decorator([origin](websocket::request_type& req) {
        if (!origin.empty()) req.set(beast::http::field::origin, origin);
      }));
      websocket::response_type res;
      ws_.handshake(res, host + ":" + std::to_string(port), path);
    } catch (const boost::system::system_error& e) {
      error_ = e.what();
      return;
    }
    connected_ = true;
    read();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~WsClient() {
    if (connected_) {
      boost::asio::post(ws_.get_executor(), [this] {
        boost::beast::error_code ec;
        boost::beast::get_lowest_layer(ws_).close();
      });
    }
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  bool connected() const { return connected_; }
  const std::string& error() const { return error_; }
  bool closed() const { return closed_; }

  void send(const nlohmann::json& frame) {
    const std::string text = frame.dump();
    boost::asio::post(ws_.get_executor(), [this, text] {
      boost::beast::error_code ec;
      ws_.text(true);
      ws_.write(boost::asio::buffer(text), ec);
    });
  }

  std::vector<nlohmann::json> frames() const {
    std::lock_guard lock(mu_);
    return frames_;
  }
  // The first received frame of this type (after `from` frames), or null when none came in time.
  nlohmann::json wait_for(const std::string& type, size_t from = 0,
                          std::chrono::milliseconds timeout = std::chrono::seconds(15)) const {
    nlohmann::json found;
    wait_until(
        [&] {
          auto f = frames();
          for (size_t i = from; i < f.size(); ++i)
            if (f[i].value("type", "") == type) {
              found = f[i];
              return true;
            }
          return false;
        },
        timeout);
    return found;
  }

 private:
  void read() {
    ws_.async_read(buf_, [this](boost::beast::error_code ec, size_t) {
      if (ec) {
        closed_ = true;
        return;
      }
      auto j = nlohmann::json::parse(boost::beast::buffers_to_string(buf_.data()), nullptr, false);
      buf_.consume(buf_.size());
      {
        std::lock_guard lock(mu_);
        frames_.push_back(std::move(j));
      }
      read();
    });
  }

  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buf_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<nlohmann::json> frames_;
  std::atomic<bool> closed_{false};
  bool connected_ = false;
  std::string error_;
};

}  // namespace omniroute::testing
