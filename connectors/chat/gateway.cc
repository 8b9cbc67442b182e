// The web chat gateway on the shared HTTP front door: the widget's script and page, the
// WebSocket upgrade (sessions are session.cc), the offline form, and delivery of what the
// router sends (replies, live notices, surveys) to every open tab of the visitor.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/utf8.h"
#include "connectors/chat/assets.h"
#include "connectors/chat/chat.h"
#include "connectors/chat/session.h"
#include "connectors/chat/visitors.h"
#include "connectors/http/connector.h"
#include "connectors/http/listener.h"
#include "connectors/http/server.h"
#include "connectors/state/kv.h"

namespace omniroute::connectors::chat {

namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
constexpr std::string_view kPrefix = "/v1/chat/";

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string item =
        s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '/')) item.pop_back();
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

class ChatConnector : public http::HttpConnector {
 public:
  explicit ChatConnector(const sdk::Settings& s)
      : HttpConnector("chat", s), core_(std::make_shared<Core>()) {
    core_->settings = s;
  }
  ~ChatConnector() override { stop(); }

  std::string prepare() override {
    core_->host = &host();
    std::string err;
    core_->kv = state::Kv::open(core_->settings.str("state_dir"), err);
    if (!core_->kv) return err;
    core_->buckets = std::make_unique<VisitorBuckets>(
        static_cast<double>(core_->settings.integer("visitor_rate_limit_per_minute")));
    start_pruner();
    return {};
  }

  std::vector<http::Route> routes() override {
    http::Route route;
    route.prefix = std::string(kPrefix);
    route.max_body_bytes = 16384;
    route.handler = [this](http::Request req, http::Respond respond) {
      handle(std::move(req), std::move(respond));
    };
    route.upgrade = [this](beast::tcp_stream stream, bhttp::request<bhttp::string_body> req,
                           http::ConnectionLease lease) {
      upgrade(std::move(stream), std::move(req), std::move(lease));
    };
    return {std::move(route)};
  }

  std::vector<std::string> paths() const override {
    return {"/v1/chat/{workspace}/{inbox}/ (page; widget.js; ws)"};
  }

  void stopping() override {
    {
      std::lock_guard lock(prune_mu_);
      stopping_ = true;
    }
    prune_cv_.notify_all();
    if (pruner_.joinable()) pruner_.join();
  }

  void routes_removed() override {
    std::vector<std::shared_ptr<WsSession>> open;
    {
      std::lock_guard lock(core_->mu);
      core_->alive = false;
      for (auto& [k, w] : core_->all)
        if (auto s = w.lock()) open.push_back(std::move(s));
    }
    for (auto& s : open) close_session(s);
    open.clear();
    // The sessions live on the server's threads: they must be gone before it is.
    std::unique_lock lock(core_->mu);
    core_->none_left.wait_for(lock, std::chrono::seconds(5), [&] { return core_->all.empty(); });
  }

  sdk::DeliveryResult deliver(const v1::OutboundMessage& m, const sdk::InboxInfo& inbox) override {
    const std::string& visitor = m.customer_handle();
    std::string v;
    if (!core_->kv->get("v/" + visitor, &v))
      return sdk::DeliveryResult::failed("unknown chat visitor " + visitor);
    const json owner = json::parse(v, nullptr, false);
    if (!owner.is_object() || owner.value("ws", "") != inbox.workspace_id ||
        owner.value("inbox", "") != inbox.inbox_id)
      return sdk::DeliveryResult::failed("visitor " + visitor + " belongs to another inbox");
    const std::string name = m.agent_display_name().empty() ? m.agent_id() : m.agent_display_name();
    if (m.has_notice()) {
      const auto& n = m.notice();
      json f;
      switch (n.kind()) {
        case v1::ChannelNotice::KIND_TYPING:
          f = {{"type", "typing"}, {"on", n.on()}, {"name", name}};
          break;
        case v1::ChannelNotice::KIND_AGENT_JOINED:
          f = {{"type", "agent_joined"}, {"name", name}};
          core_->remember(
              visitor,
              {{"author", "system"}, {"text", name + " joined the chat"}, {"at", wall_ms()}});
          break;
        case v1::ChannelNotice::KIND_QUEUE:
          f = {{"type", "queue"},
               {"position", n.queue_position()},
               {"expected_wait_s", n.expected_wait_s()},
               {"agents_available", n.agents_available()}};
          break;
        case v1::ChannelNotice::KIND_RESOLVED:
          f = {{"type", "resolved"}};
          break;
        default:
          return sdk::DeliveryResult::failed("unknown notice");
      }
      core_->push(visitor, f.dump());
      return sdk::DeliveryResult::delivered();
    }
    if (m.has_survey()) return survey(m, visitor);
    json atts = json::array();
    for (const auto& a : m.attachments())
      atts.push_back({{"name", a.name()}, {"url", a.url()}, {"content_type", a.content_type()}});
    const json entry = {{"id", m.outbound_id()}, {"author", "agent"},   {"name", name},
                        {"text", m.text_body()}, {"attachments", atts}, {"at", wall_ms()}};
    // Kept first: a visitor who is not connected sees it on their next visit.
    core_->remember(visitor, entry);
    json frame = entry;
    frame["type"] = "message";
    core_->push(visitor, frame.dump());
    return sdk::DeliveryResult::delivered(m.outbound_id());
  }

 private:
  // The rating question in the chat: kept in the transcript (a reload shows it, answered
  // or not) and recorded so only this visitor can answer it, until it expires.
  sdk::DeliveryResult survey(const v1::OutboundMessage& m, const std::string& visitor) {
    const v1::Survey& sv = m.survey();
    if (sv.expires_at_ms() < wall_ms()) return sdk::DeliveryResult::failed("survey expired");
    if (auto err =
            core_->kv->put(survey_key(visitor, sv.survey_id()),
                           json{{"scale", sv.scale()}, {"expires_ms", sv.expires_at_ms()}}.dump());
        !err.empty())
      return sdk::DeliveryResult::retry("survey not recorded: " + err);
    const json entry = {{"id", sv.survey_id()},
                        {"author", "survey"},
                        {"text", sv.question()},
                        {"scale", sv.scale()},
                        {"expires_ms", sv.expires_at_ms()},
                        {"thanks", sv.thanks()},
                        {"at", wall_ms()}};
    core_->remember(visitor, entry);
    json frame = entry;
    frame["type"] = "survey";
    core_->push(visitor, frame.dump());
    return sdk::DeliveryResult::delivered(m.outbound_id());
  }

  const sdk::InboxInfo* inbox_of(const std::vector<std::string>& seg) const {
    return seg.size() >= 2 ? core_->host->inbox(seg[0], seg[1]) : nullptr;
  }

  // Origin allow-list: listed origins, "*" for any; none listed = the page's own origin.
  bool origin_allowed(const sdk::InboxInfo& inbox, const std::string& origin,
                      const std::string& host) const {
    const auto allowed = split_list(inbox.settings.str("allowed_origins"));
    if (allowed.empty()) return origin == "http://" + host || origin == "https://" + host;
    for (const auto& a : allowed)
      if (a == "*" || a == origin) return true;
    return false;
  }

  // The offline form: nobody is available, the visitor leaves an email address and a
  // message; it becomes an email conversation in the inbox's `offline_email_inbox`,
  // answered by email, with the chat so far quoted for the agent. Cross-site: CORS for
  // the allowed origins, JSON body, 202 only after Kafka's ack.
  void offline(const sdk::InboxInfo& inbox, const http::Request& req,
               const http::Respond& respond) {
    const std::string origin = req.header("origin");
    const bool allowed = origin_allowed(inbox, origin, req.header("host"));
    auto cors = [&](http::Response r) {
      if (allowed && !origin.empty()) {
        r.headers.emplace_back("Access-Control-Allow-Origin", origin);
        r.headers.emplace_back("Vary", "Origin");
      }
      return r;
    };
    if (req.method == "OPTIONS") {  // preflight
      http::Response r;
      r.status = allowed ? 204 : 403;
      r.headers.emplace_back("Access-Control-Allow-Methods", "POST");
      r.headers.emplace_back("Access-Control-Allow-Headers", "Content-Type");
      r.headers.emplace_back("Access-Control-Max-Age", "600");
      respond(cors(std::move(r)));
      return;
    }
    if (req.method != "POST") {
      respond(http::Response::error(405, "use POST"));
      return;
    }
    if (!allowed) {
      core_->host->logger()->warn("chat {}/{}: offline form from origin '{}' refused",
                                  inbox.workspace_id, inbox.inbox_id,
                                  utf8::cut(utf8::sanitize(origin), 100));
      respond(http::Response::error(403, "origin not allowed"));
      return;
    }
    // The email inbox belongs to the email connector: only its id is needed here (the host
    // checked at start that it is an email inbox of this workspace).
    const std::string target_inbox = inbox.settings.str("offline_email_inbox");
    if (target_inbox.empty()) {
      respond(cors(http::Response::error(404, "this chat has no offline form")));
      return;
    }
    const json f = json::parse(req.body, nullptr, false);
    if (!f.is_object()) {
      respond(cors(http::Response::error(400, "body must be a JSON object")));
      return;
    }
    std::string email = string_field(f, "email", 254);
    for (auto& c : email) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto at = email.find('@');
    if (at == std::string::npos || at == 0 || email.find('.', at) == std::string::npos ||
        email.find_first_of(" <>\"(),;:") != std::string::npos) {
      respond(cors(http::Response::error(400, "a valid email address is required")));
      return;
    }
    const std::string name = string_field(f, "name", 128);
    std::string text =
        f.contains("message") && f["message"].is_string() ? f["message"].get<std::string>() : "";
    const size_t max = static_cast<size_t>(core_->settings.integer("max_message_bytes"));
    if (text.size() > max) {
      respond(cors(
          http::Response::error(400, fmt::format("message too long (at most {} bytes)", max))));
      return;
    }
    text = utf8::sanitize(text);
    // The visitor's chat so far, for the agent (only with the visitor's own token).
    std::string visitor, transcript;
    if (const std::string token = string_field(f, "token", 128); !token.empty()) {
      std::string v;
      if (core_->kv->get("s/" + crypto::sha256_hex(token), &v)) {
        const json session = json::parse(v, nullptr, false);
        if (session.is_object() && session.value("ws", "") == inbox.workspace_id &&
            session.value("inbox", "") == inbox.inbox_id) {
          visitor = session.value("visitor", "");
          for (const auto& e : core_->history(visitor, 50)) {
            const std::string who = e.value("author", "") == "visitor"
                                        ? (name.empty() ? "Visitor" : name)
                                        : e.value("name", e.value("author", ""));
            transcript += fmt::format("> {}: {}\n", who, e.value("text", ""));
          }
        }
      }
    }
    if (text.empty() && transcript.empty()) {
      respond(cors(http::Response::error(400, "message is empty")));
      return;
    }
    v1::Envelope env;
    auto* m = env.mutable_message();
    m->set_workspace_id(inbox.workspace_id);
    m->set_inbox_id(target_inbox);
    m->set_channel(v1::CHANNEL_EMAIL);
    m->set_customer_handle(email);
    m->set_customer_display_name(name);
    const std::string form_id = string_field(f, "id", 64);
    m->set_external_message_id(fmt::format("chat-offline:{}:{}", visitor.empty() ? email : visitor,
                                           form_id.empty() ? crypto::random_hex(8) : form_id));
    m->set_subject(inbox.settings.str("offline_subject"));
    m->set_text_body(transcript.empty()
                         ? text
                         : text + (text.empty() ? "" : "\n\n") +
                               "Chat before the visitor left this message:\n" + transcript);
    m->set_sent_at_ms(wall_ms());
    (*m->mutable_provider_metadata())["source"] = "chat_offline_form";
    (*m->mutable_provider_metadata())["chat_inbox"] = inbox.inbox_id;
    if (!visitor.empty()) (*m->mutable_provider_metadata())["chat_visitor"] = visitor;
    core_->host->publish(
        std::move(env), [respond, cors, core = core_, visitor](const sdk::PublishResult& r) {
          if (r.ok()) {
            if (!visitor.empty())
              core->remember(visitor, {{"author", "system"},
                                       {"text", "You left a message; we will answer by email."},
                                       {"at", wall_ms()}});
            respond(cors(http::Response::json(202, R"({"status":"accepted"})")));
          } else if (r.code == sdk::PublishResult::Code::kUnavailable) {
            respond(cors(http::Response::error(503, "not stored yet, try again in a moment")));
          } else {
            respond(cors(http::publish_failure(r)));
          }
        });
  }

  void upgrade(beast::tcp_stream stream, bhttp::request<bhttp::string_body> req,
               http::ConnectionLease lease) {
    const std::string target(req.target());
    const auto seg = http::path_segments(target.substr(0, target.find('?')), kPrefix);
    const sdk::InboxInfo* inbox = inbox_of(seg);
    const std::string origin(req[bhttp::field::origin]);
    const std::string host(req[bhttp::field::host]);
    int refuse = 0;
    if (seg.size() != 3 || seg[2] != "ws" || !inbox)
      refuse = 404;
    else if (!origin_allowed(*inbox, origin, host))
      refuse = 403;
    if (refuse) {
      if (refuse == 403)
        core_->host->logger()->warn("chat {}/{}: WebSocket from origin '{}' refused", seg[0],
                                    seg[1], utf8::cut(utf8::sanitize(origin), 100));
      auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
          static_cast<bhttp::status>(refuse), req.version());
      res->set(bhttp::field::content_type, "application/json");
      res->body() =
          json{{"error", refuse == 403 ? "origin not allowed" : "unknown chat inbox"}}.dump();
      res->keep_alive(false);
      res->prepare_payload();
      auto s = std::make_shared<beast::tcp_stream>(std::move(stream));
      bhttp::async_write(*s, *res, [s, res, lease](beast::error_code, size_t) {
        beast::error_code ec;
        s->socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
      });
      return;
    }
    start_session(std::move(stream), core_, *inbox, std::move(lease), std::move(req));
  }

  void handle(http::Request req, http::Respond respond) {
    const auto seg = http::path_segments(req.path, kPrefix);
    const sdk::InboxInfo* inbox = inbox_of(seg);
    if (!inbox) {
      respond(http::Response::error(404, "unknown chat inbox"));
      return;
    }
    if (seg.size() == 3 && seg[2] == "offline") {
      offline(*inbox, req, respond);
      return;
    }
    if (req.method != "GET") {
      respond(http::Response::error(405, "use GET"));
      return;
    }
    http::Response r;
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    if (seg.size() == 3 && seg[2] == "widget.js") {
      r.content_type = "text/javascript; charset=utf-8";
      r.body = std::string(kWidgetJs);
    } else if (seg.size() == 2 || (seg.size() == 3 && seg[2].empty())) {
      r.content_type = "text/html; charset=utf-8";
      std::string page(kWidgetPage);
      const std::string title = inbox->settings.str("title");
      std::string safe;
      for (char c : title) safe += (c == '<' || c == '>' || c == '&' || c == '"') ? ' ' : c;
      for (size_t p; (p = page.find("{{title}}")) != std::string::npos;) page.replace(p, 9, safe);
      r.body = page;
    } else {
      respond(http::Response::error(404, "unknown path"));
      return;
    }
    respond(std::move(r));
  }

  std::shared_ptr<Core> core_;
  // Sessions and transcripts past session_ttl_s go at start and then hourly.
  void start_pruner() {
    pruner_ = std::thread([this] {
      const int64_t ttl_ms = core_->settings.integer("session_ttl_s") * 1000;
      std::unique_lock lock(prune_mu_);
      while (!stopping_) {
        lock.unlock();
        if (size_t n = prune_expired(*core_->kv, ttl_ms, wall_ms()); n > 0)
          core_->host->logger()->info("chat: {} visitor sessions expired with their transcripts",
                                      n);
        lock.lock();
        prune_cv_.wait_for(lock, std::chrono::hours(1), [this] { return stopping_; });
      }
    });
  }

  std::thread pruner_;
  std::mutex prune_mu_;
  std::condition_variable prune_cv_;
  bool stopping_ = false;
};

}  // namespace

sdk::ConnectorFactory factory() {
  using T = sdk::ConfigField::Type;
  sdk::ConnectorFactory f;
  f.name = "chat";
  f.channel = v1::CHANNEL_CHAT;
  f.description = "Web chat: WebSocket gateway and the embeddable widget";
  f.settings = http::listener_fields();
  f.settings.insert(
      f.settings.end(),
      {
          {"session_ttl_s", T::kInt,
           "A visitor not seen this long starts over: the session and its transcript are deleted",
           "2592000", false, 60, 10LL * 365 * 86400},
          {"visitor_rate_limit_per_minute", T::kInt,
           "Messages one visitor may send per minute, all tabs and reconnects together", "60",
           false, 1, 100000},
          {"state_dir", T::kString, "Visitor sessions and transcripts (RocksDB)", "var/chat"},
          {"max_message_bytes", T::kInt, "Longest visitor message", "4096", false, 16, 1 << 20},
          {"rate_limit_per_minute", T::kInt, "Messages one connection may send per minute", "30",
           false, 1, 100000},
          {"idle_timeout_s", T::kInt, "A connection without visitor activity is closed after this",
           "1800", false, 5, 86400},
          {"max_history", T::kInt, "Messages of the transcript shown after a reload", "200", false,
           0, 100000},
      });
  f.inbox_settings = {
      {"allowed_origins", T::kString,
       "Sites that may open chats (\"https://www.acme.example, https://acme.example\"; * = any); "
       "empty: only the connector's own page",
       ""},
      {"title", T::kString, "Shown in the widget's header", "Chat with us"},
      {"greeting", T::kString, "First line the visitor sees", "Hi! How can we help?"},
      {"prechat", T::kString, "Name and email before the chat: off | optional | required",
       "optional"},
      {"offline_email_inbox", T::kString,
       "Email inbox of the workspace that takes the offline form (nobody available: the visitor "
       "leaves an address, the answer goes by email); empty: no offline form",
       "", false, 0, INT64_MAX, v1::CHANNEL_EMAIL},
      {"offline_subject", T::kString, "Subject of offline-form conversations",
       "Message from the website chat"},
  };
  f.create = [](const sdk::Settings& s) -> std::unique_ptr<sdk::Connector> {
    return std::make_unique<ChatConnector>(s);
  };
  // A message frame as the widget sends it, with the session's visitor fields beside it:
  // {"visitor": "v...", "name": "...", "email": "...", "lang": "...", "id": "...", "text": "..."}
  f.normalize = [](std::string_view payload, v1::InboundMessage& out) -> std::string {
    const json j = json::parse(payload, nullptr, false);
    if (!j.is_object()) return "payload is not a JSON object";
    const std::string visitor = string_field(j, "visitor", 64);
    if (visitor.empty()) return "missing visitor";
    return frame_to_message(j, visitor, string_field(j, "name", 128), string_field(j, "email", 254),
                            string_field(j, "lang", 35), 1 << 20, out);
  };
  return f;
}

}  // namespace omniroute::connectors::chat
