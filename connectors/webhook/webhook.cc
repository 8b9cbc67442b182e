#include "connectors/webhook/webhook.h"

#include <mutex>
#include <optional>

#include <curl/curl.h>
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "connectors/webhook/webhook_connector.h"

namespace omniroute::connectors::webhook {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string sign(std::string_view secret, std::string_view body) {
  return "sha256=" + crypto::hmac_sha256_hex(secret, body);
}

std::string parse_inbound(std::string_view json, const Limits& limits, v1::InboundMessage& out) {
  if (json.size() > limits.max_body_bytes) return "body too large";
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &out, opts);
  if (!st.ok()) return fmt::format("invalid InboundMessage JSON: {}", std::string(st.message()));
  if (out.external_message_id().empty()) return "missing field: external_message_id";
  if (out.customer_handle().empty()) return "missing field: customer_handle";
  if (out.text_body().empty() && out.html_body().empty() && out.attachments().empty()) {
    return "missing field: one of text_body, html_body or attachments is required";
  }
  if (out.external_message_id().size() > limits.max_id_bytes) return "external_message_id too long";
  if (out.customer_handle().size() > limits.max_id_bytes) return "customer_handle too long";
  if (out.thread().thread_id().size() > limits.max_id_bytes) return "thread.thread_id too long";
  if (static_cast<size_t>(out.attachments_size()) > limits.max_attachments) {
    return fmt::format("too many attachments ({} > {})", out.attachments_size(),
                       limits.max_attachments);
  }
  if (out.provider_metadata_size() + out.customer_attributes_size() >
      static_cast<int>(limits.max_metadata_entries)) {
    return fmt::format("too many metadata entries (limit {})", limits.max_metadata_entries);
  }
  if (out.channel() != v1::CHANNEL_UNSPECIFIED && out.channel() != v1::CHANNEL_WEBHOOK) {
    return "channel must be CHANNEL_WEBHOOK or absent";
  }
  return {};
}

// ------------------------------------------------------------------ HTTP server

class HttpServer {
 public:
  struct Options {
    Limits limits;
    int threads = 1;
    int request_timeout_ms = 15000;
    int max_connections = 1024;
  };

  HttpServer(sdk::Host& host, Options opts) : host_(host), opts_(opts), acceptor_(ioc_) {}
  ~HttpServer() { stop(); }

  std::string listen(const std::string& hostport) {
    auto colon = hostport.rfind(':');
    if (colon == std::string::npos) return "listen must be host:port, got " + hostport;
    beast::error_code ec;
    auto addr = net::ip::make_address(hostport.substr(0, colon), ec);
    if (ec) return "listen: bad address " + hostport.substr(0, colon);
    int port = 0;
    try {
      port = std::stoi(hostport.substr(colon + 1));
    } catch (...) {
      return "listen: bad port in " + hostport;
    }
    tcp::endpoint ep(addr, static_cast<uint16_t>(port));
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return fmt::format("listen on {}: {}", hostport, ec.message());
    address_ = fmt::format("{}:{}", addr.to_string(), acceptor_.local_endpoint().port());
    accept();
    for (int i = 0; i < opts_.threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
    return {};
  }

  void stop() {
    {
      std::lock_guard lock(life_->mu);
      life_->alive = false;
    }
    net::post(ioc_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  const std::string& address() const { return address_; }
  sdk::Host& host() { return host_; }
  const Options& options() const { return opts_; }
  std::atomic<int>& connections() { return connections_; }

  // Completions of publishes arrive on a Kafka thread; they are posted back here only
  // while the server lives.
  struct Life {
    std::mutex mu;
    bool alive = true;
  };
  std::shared_ptr<Life> life() { return life_; }

 private:
  void accept();

  sdk::Host& host_;
  Options opts_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::string address_;
  std::atomic<int> connections_{0};
  std::shared_ptr<Life> life_ = std::make_shared<Life>();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, HttpServer& server) : stream_(std::move(socket)), server_(server) {
    server_.connections()++;
  }
  ~Session() { server_.connections()--; }

  void start() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(server_.options().limits.max_body_bytes);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::milliseconds(server_.options().request_timeout_ms));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout) {
      close();
      return;
    }
    if (ec == http::error::body_limit) {
      respond(http::status::payload_too_large,
              {{"error",
                fmt::format("body exceeds {} bytes", server_.options().limits.max_body_bytes)}},
              false);
      return;
    }
    if (ec == http::error::header_limit) {
      respond(http::status::request_header_fields_too_large, {{"error", "headers too large"}},
              false);
      return;
    }
    if (ec) {
      respond(http::status::bad_request, {{"error", "malformed HTTP request: " + ec.message()}},
              false);
      return;
    }
    keep_alive_ = parser_->get().keep_alive();
    handle(parser_->release());
  }

  void handle(http::request<http::string_body> req) {
    std::string target(req.target());
    if (req.method() == http::verb::get && target == "/healthz") {
      respond(http::status::ok, {{"status", "ok"}}, keep_alive_);
      return;
    }
    // /v1/webhook/{workspace}/{inbox}/messages
    static const std::string kPrefix = "/v1/webhook/";
    static const std::string kSuffix = "/messages";
    if (target.rfind(kPrefix, 0) != 0 || target.size() <= kPrefix.size() + kSuffix.size() ||
        target.compare(target.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      respond(http::status::not_found,
              {{"error", "unknown path; POST /v1/webhook/{workspace}/{inbox}/messages"}},
              keep_alive_);
      return;
    }
    std::string middle =
        target.substr(kPrefix.size(), target.size() - kPrefix.size() - kSuffix.size());
    auto slash = middle.find('/');
    if (slash == std::string::npos || middle.find('/', slash + 1) != std::string::npos) {
      respond(http::status::not_found, {{"error", "unknown path"}}, keep_alive_);
      return;
    }
    std::string ws = middle.substr(0, slash), inbox_id = middle.substr(slash + 1);
    if (req.method() != http::verb::post) {
      respond(http::status::method_not_allowed, {{"error", "use POST"}}, keep_alive_);
      return;
    }
    sdk::Host& host = server_.host();
    const sdk::InboxInfo* inbox = host.inbox(ws, inbox_id);
    if (!inbox) {
      respond(http::status::not_found, {{"error", "unknown inbox"}}, keep_alive_);
      return;
    }
    auto sig = req[std::string(kSignatureHeader)];
    if (sig.empty()) {
      host.logger()->warn("{}/{}: request without signature rejected", ws, inbox_id);
      respond(http::status::unauthorized,
              {{"error", "missing " + std::string(kSignatureHeader) + " header"}}, keep_alive_);
      return;
    }
    const std::string expected = sign(inbox->settings.str("secret"), req.body());
    if (!crypto::constant_time_equal(expected, std::string_view(sig.data(), sig.size()))) {
      host.logger()->warn("{}/{}: request with bad signature rejected", ws, inbox_id);
      respond(http::status::unauthorized, {{"error", "bad signature"}}, keep_alive_);
      return;
    }
    v1::Envelope env;
    v1::InboundMessage* msg = env.mutable_message();
    if (auto err = parse_inbound(req.body(), server_.options().limits, *msg); !err.empty()) {
      host.logger()->info("{}/{}: request rejected: {}", ws, inbox_id, err);
      respond(http::status::bad_request, {{"error", err}}, keep_alive_);
      return;
    }
    if ((!msg->workspace_id().empty() && msg->workspace_id() != ws) ||
        (!msg->inbox_id().empty() && msg->inbox_id() != inbox_id)) {
      respond(http::status::bad_request,
              {{"error", "workspace_id/inbox_id in body differ from the URL"}}, keep_alive_);
      return;
    }
    msg->set_workspace_id(ws);
    msg->set_inbox_id(inbox_id);
    msg->set_channel(v1::CHANNEL_WEBHOOK);
    msg->clear_event_id();  // the host assigns it
    host.publish(std::move(env),
                 [self = shared_from_this(), life = server_.life()](const sdk::PublishResult& r) {
                   std::lock_guard lock(life->mu);
                   if (!life->alive) return;
                   net::post(self->stream_.get_executor(), [self, r] { self->on_published(r); });
                 });
  }

  void on_published(const sdk::PublishResult& r) {
    if (r.ok()) {
      respond(http::status::accepted, {{"status", "accepted"}, {"event_id", r.event_id}},
              keep_alive_);
    } else if (r.code == sdk::PublishResult::Code::kInvalid) {
      respond(http::status::bad_request, {{"error", r.detail}}, keep_alive_);
    } else {
      respond(http::status::service_unavailable,
              {{"error", "event store unavailable, retry later"}}, keep_alive_);
    }
  }

  void respond(http::status status, const nlohmann::json& body, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::content_type, "application/json");
    res->set(http::field::server, "omniroute");
    if (status == http::status::service_unavailable) res->set(http::field::retry_after, "5");
    res->keep_alive(keep_alive);
    res->body() = body.dump();
    res->prepare_payload();
    stream_.expires_after(std::chrono::milliseconds(server_.options().request_timeout_ms));
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec || !res->keep_alive()) {
                          self->close();
                          return;
                        }
                        self->read();
                      });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer& server_;
  bool keep_alive_ = false;
};

}  // namespace

void HttpServer::accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec != net::error::operation_aborted) accept();
      return;
    }
    if (connections_.load() >= opts_.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<Session>(std::move(socket), *this)->start();
    }
    accept();
  });
}

// ------------------------------------------------------------------ connector

WebhookConnector::WebhookConnector(const sdk::Settings& settings) : settings_(settings) {
  limits_.max_body_bytes = static_cast<size_t>(settings_.integer("max_body_bytes"));
  limits_.max_attachments = static_cast<size_t>(settings_.integer("max_attachments"));
}

WebhookConnector::~WebhookConnector() {
  stop();
}

std::string WebhookConnector::start(sdk::Host& host) {
  HttpServer::Options o;
  o.limits = limits_;
  o.threads = static_cast<int>(settings_.integer("threads"));
  o.request_timeout_ms = static_cast<int>(settings_.integer("request_timeout_ms"));
  o.max_connections = static_cast<int>(settings_.integer("max_connections"));
  server_ = std::make_unique<HttpServer>(host, o);
  std::string err = server_->listen(settings_.str("listen"));
  if (!err.empty()) return err;
  host.logger()->info("listening on http://{}/v1/webhook/{{workspace}}/{{inbox}}/messages",
                      server_->address());
  return {};
}

void WebhookConnector::stop() {
  if (server_) server_->stop();
}

std::vector<std::string> WebhookConnector::endpoints() const {
  if (!server_) return {};
  return {fmt::format("http://{}/v1/webhook/{{workspace}}/{{inbox}}/messages", server_->address())};
}

namespace {
size_t collect(char* data, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  size_t len = size * n;
  if (s->size() < 2048) s->append(data, std::min(len, 2048 - s->size()));
  return len;
}
}  // namespace

PostResult signed_post(const std::string& url, std::string_view secret, const std::string& body,
                       const std::string& delivery_id, long timeout_ms) {
  static std::once_flag curl_once;
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  PostResult r;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    r.curl_error = "curl_easy_init failed";
    return r;
  }
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  const std::string sig = fmt::format("{}: {}", kSignatureHeader, sign(secret, body));
  const std::string id = fmt::format("{}: {}", kDeliveryIdHeader, delivery_id);
  if (!secret.empty()) headers = curl_slist_append(headers, sig.c_str());
  if (!delivery_id.empty()) headers = curl_slist_append(headers, id.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> guard(headers, &curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    r.curl_error = curl_easy_strerror(rc);
    return r;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

sdk::DeliveryResult WebhookConnector::deliver(const v1::OutboundMessage& message,
                                              const sdk::InboxInfo& inbox) {
  const std::string url = inbox.settings.str("callback_url");
  if (url.empty()) return sdk::DeliveryResult::failed("inbox has no callback_url");
  std::string body;
  google::protobuf::util::JsonPrintOptions po;
  po.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &body, po).ok()) {
    return sdk::DeliveryResult::failed("cannot encode reply as JSON");
  }
  PostResult r = signed_post(url, inbox.settings.str("secret"), body, message.outbound_id(),
                             static_cast<long>(settings_.integer("delivery_timeout_ms")));
  if (!r.curl_error.empty()) return sdk::DeliveryResult::retry("callback: " + r.curl_error);
  if (r.status >= 200 && r.status < 300) return sdk::DeliveryResult::delivered();
  std::string detail =
      fmt::format("callback answered HTTP {}: {}", r.status, r.body.substr(0, 200));
  if (r.status == 408 || r.status == 425 || r.status == 429 || r.status >= 500)
    return sdk::DeliveryResult::retry(detail);
  return sdk::DeliveryResult::failed(detail);
}

}  // namespace omniroute::connectors::webhook
