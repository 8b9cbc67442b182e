#include "tests/support/ws_client.h"

#include <atomic>
#include <mutex>
#include <thread>
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "tests/support/support.h"

namespace omniroute::testing {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;

struct WsClient::Impl {
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{net::make_strand(ioc)};
  beast::flat_buffer buf;
  std::thread thread;
  mutable std::mutex mu;
  std::vector<nlohmann::json> frames;
  std::atomic<bool> closed{false};
  bool connected = false;
  std::string error;

  void read() {
    ws.async_read(buf, [this](beast::error_code ec, size_t) {
      if (ec) {
        closed = true;
        return;
      }
      auto j = nlohmann::json::parse(beast::buffers_to_string(buf.data()), nullptr, false);
      buf.consume(buf.size());
      {
        std::lock_guard lock(mu);
        frames.push_back(std::move(j));
      }
      read();
    });
  }
};

WsClient::WsClient(const std::string& host, int port, const std::string& path,
                   const std::string& origin, const std::string& cookie)
    : impl_(std::make_unique<Impl>()) {
  auto& ws = impl_->ws;
  try {
    net::ip::tcp::resolver resolver(impl_->ioc);
    beast::get_lowest_layer(ws).connect(resolver.resolve(host, std::to_string(port)));
    ws.set_option(websocket::stream_base::decorator([origin, cookie](websocket::request_type& req) {
      if (!origin.empty()) req.set(beast::http::field::origin, origin);
      if (!cookie.empty()) req.set(beast::http::field::cookie, cookie);
    }));
    websocket::response_type res;
    ws.handshake(res, host + ":" + std::to_string(port), path);
  } catch (const boost::system::system_error& e) {
    impl_->error = e.what();
    return;
  }
  impl_->connected = true;
  impl_->read();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

WsClient::~WsClient() {
  if (impl_->connected)
    net::post(impl_->ws.get_executor(), [this] { beast::get_lowest_layer(impl_->ws).close(); });
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

bool WsClient::connected() const {
  return impl_->connected;
}
const std::string& WsClient::error() const {
  return impl_->error;
}
bool WsClient::closed() const {
  return impl_->closed;
}

void WsClient::send(const nlohmann::json& frame) {
  const std::string text = frame.dump();
  net::post(impl_->ws.get_executor(), [this, text] {
    beast::error_code ec;
    impl_->ws.text(true);
    impl_->ws.write(net::buffer(text), ec);
  });
}

std::vector<nlohmann::json> WsClient::frames() const {
  std::lock_guard lock(impl_->mu);
  return impl_->frames;
}

nlohmann::json WsClient::wait_for(const std::string& type, size_t from,
                                  std::chrono::milliseconds timeout) const {
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

}  // namespace omniroute::testing
