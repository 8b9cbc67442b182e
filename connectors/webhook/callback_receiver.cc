#include "connectors/webhook/callback_receiver.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "connectors/webhook/webhook.h"

namespace omniroute::connectors::webhook {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

int post_signed(const std::string& url, const std::string& secret, const std::string& body,
                std::string* response, long timeout_ms) {
  PostResult r = signed_post(url, secret, body, {}, timeout_ms);
  if (response) *response = std::move(r.body);
  return r.curl_error.empty() ? static_cast<int>(r.status) : 0;
}

struct CallbackReceiver::Impl {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  uint16_t port = 0;
};

CallbackReceiver::CallbackReceiver(std::string secret, uint16_t port)
    : impl_(std::make_unique<Impl>()), secret_(std::move(secret)) {
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(net::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  thread_ = std::thread([this] { serve(); });
}

CallbackReceiver::~CallbackReceiver() {
  stop_ = true;
  beast::error_code ec;
  // Wake the blocking accept with a connection of our own.
  tcp::socket s(impl_->ioc);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), impl_->port), ec);
  if (thread_.joinable()) thread_.join();
}

std::string CallbackReceiver::url() const {
  return fmt::format("http://127.0.0.1:{}/replies", impl_->port);
}

void CallbackReceiver::fail_next(int count, int status) {
  fail_status_ = status;
  fail_count_ = count;
}

size_t CallbackReceiver::received_count() const {
  std::lock_guard lock(mu_);
  return received_.size();
}

std::vector<v1::OutboundMessage> CallbackReceiver::received() const {
  std::lock_guard lock(mu_);
  return received_;
}

void CallbackReceiver::serve() {
  while (!stop_) {
    beast::error_code ec;
    tcp::socket sock(impl_->ioc);
    impl_->acceptor.accept(sock, ec);
    if (ec || stop_) continue;
    beast::flat_buffer buf;
    // One connection may carry several requests (keep-alive).
    while (!stop_) {
      http::request<http::string_body> req;
      http::read(sock, buf, req, ec);
      if (ec) break;
      ++requests_;
      http::status status = http::status::ok;
      if (fail_count_ > 0) {
        --fail_count_;
        status = static_cast<http::status>(fail_status_.load());
      } else if (std::string(req[std::string(kSignatureHeader)]) != sign(secret_, req.body())) {
        ++bad_signatures_;
        status = http::status::unauthorized;
      } else {
        v1::OutboundMessage m;
        if (!google::protobuf::util::JsonStringToMessage(req.body(), &m).ok()) {
          status = http::status::bad_request;
        } else {
          std::lock_guard lock(mu_);
          if (seen_.insert(std::string(req[std::string(kDeliveryIdHeader)])).second) {
            received_.push_back(std::move(m));
          } else {
            ++duplicates_;
          }
        }
      }
      http::response<http::string_body> res{status, 11};
      res.set(http::field::content_type, "application/json");
      res.body() = "{}";
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(sock, res, ec);
      if (ec || !req.keep_alive()) break;
    }
    sock.shutdown(tcp::socket::shutdown_both, ec);
  }
}

}  // namespace omniroute::connectors::webhook
