// The web chat gateway: WebSocket sessions (Boost.Beast) on the shared HTTP front door,
// the widget's script and page, visitors' sessions and transcripts in the connector's
// state, agent replies and live notices pushed to every open tab of the visitor.
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
using json = nlohmann::json;

constexpr std::string_view kPrefix = "/v1/chat/";

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

class WsSession;

// A visitor's "message" frame -> InboundMessage (workspace and inbox not set). "" or the
// reason the visitor is told. Used by the gateway and by `omniroute normalize chat`.
std::string frame_to_message(const json& f, const std::string& visitor, const std::string& name,
                             const std::string& email, const std::string& lang, size_t max_text,
                             v1::InboundMessage& m);

// A string member of a frame, cut to `max` bytes (at a character boundary); "" otherwise.
std::string string_field(const json& f, const char* key, size_t max) {
  if (!f.contains(key) || !f[key].is_string()) return {};
  return utf8::cut(f[key].get<std::string>(), max);
}

// What sessions, publish completions and the connector share. Sessions reach the host and
// the state only through it; `alive` turns false when the connector stops.
struct Core {
  sdk::Host* host = nullptr;
  sdk::Settings settings;
  std::unique_ptr<VisitorBuckets> buckets;  // per visitor, across tabs and reconnects
  std::unique_ptr<state::Kv> kv;
  std::mutex mu;
  bool alive = true;
  std::multimap<std::string, std::weak_ptr<WsSession>> by_visitor;
  std::map<const WsSession*, std::weak_ptr<WsSession>> all;
  std::condition_variable none_left;
  std::atomic<uint64_t> seq{0};

  // Appends to the visitor's transcript (what a reload shows).
  void remember(const std::string& visitor, const json& entry) {
    const int64_t at = entry.value("at", wall_ms());
    if (auto err =
            kv->put(fmt::format("t/{}/{:013}-{:06}", visitor, at, seq++ % 1000000), entry.dump());
        !err.empty())
      host->logger()->warn("chat: a transcript line was not kept (a reload will miss it): {}", err);
  }
  json history(const std::string& visitor, size_t max) const {
    std::deque<json> out;
    kv->scan("t/" + visitor + "/", [&](std::string_view, std::string_view v) {
      out.push_back(json::parse(v, nullptr, false));
      if (out.size() > max) out.pop_front();
      return true;
    });
    json arr = json::array();
    for (auto& e : out)
      if (e.is_object()) arr.push_back(std::move(e));
    return arr;
  }
  void push(const std::string& visitor, const std::string& frame);
};

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(beast::tcp_stream&& stream, std::shared_ptr<Core> core, const sdk::InboxInfo& inbox,
            http::ConnectionLease lease)
      : lease_(std::move(lease)),
        ws_(std::move(stream)),
        core_(std::move(core)),
        inbox_(inbox),
        hello_timer_(ws_.get_executor()),
        idle_timer_(ws_.get_executor()) {
    const auto& s = core_->settings;
    max_text_ = static_cast<size_t>(s.integer("max_message_bytes"));
    per_minute_ = static_cast<double>(s.integer("rate_limit_per_minute"));
    tokens_ = per_minute_;
    idle_s_ = static_cast<int>(s.integer("idle_timeout_s"));
  }

  ~WsSession() {
    std::lock_guard lock(core_->mu);
    core_->all.erase(this);
    if (!visitor_.empty()) {
      auto range = core_->by_visitor.equal_range(visitor_);
      for (auto it = range.first; it != range.second;) {
        if (it->second.expired() || it->second.lock().get() == this)
          it = core_->by_visitor.erase(it);
        else
          ++it;
      }
    }
    core_->none_left.notify_all();
  }

  void start(bhttp::request<bhttp::string_body> req) {
    {
      std::lock_guard lock(core_->mu);
      if (!core_->alive) return;
      core_->all[this] = weak_from_this();
    }
    websocket::stream_base::timeout t{std::chrono::seconds(30), std::chrono::seconds(60), true};
    ws_.set_option(t);  // dead peers: pings every 30 s, closed after 60 s of silence
    ws_.read_message_max(2 * max_text_ + 4096);  // JSON escaping may double the text
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(bhttp::field::server, "omniroute"); }));
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->hello_timer_.expires_after(std::chrono::seconds(10));
      self->hello_timer_.async_wait([weak = self->weak_from_this()](beast::error_code e) {
        auto s = weak.lock();
        if (!e && s && s->visitor_.empty())
          s->close(websocket::close_code::policy_error, "no hello");
      });
      self->read();
    });
  }

  // From any thread.
  void send(std::string frame) {
    net::post(ws_.get_executor(), [self = shared_from_this(), f = std::move(frame)]() mutable {
      if (self->closing_) return;
      if (self->out_.size() >= 1000) {  // a reader that does not read: let it reconnect
        self->close(websocket::close_code::try_again_later, "too slow");
        return;
      }
      self->out_.push_back(std::move(f));
      if (self->out_.size() == 1) self->write_next();
    });
  }

  void close_from_any_thread() {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      self->close(websocket::close_code::going_away, "server stopping");
    });
  }

 private:
  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->hello_timer_.cancel();
        self->idle_timer_.cancel();
        return;  // closed, too big, timed out: the session ends
      }
      const std::string text = beast::buffers_to_string(self->in_.data());
      self->in_.consume(self->in_.size());
      self->on_frame(text);
      if (!self->closing_) self->read();
    });
  }

  void write_next() {
    ws_.text(true);
    ws_.async_write(net::buffer(out_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      if (ec) return;
                      self->out_.pop_front();
                      if (!self->out_.empty())
                        self->write_next();
                      else if (self->close_when_flushed_)
                        self->close(websocket::close_code::policy_error, self->close_reason_);
                    });
  }

  // Sends `frame`, then closes (the browser learns why).
  void send_then_close(std::string frame, const char* reason) {
    net::post(ws_.get_executor(), [self = shared_from_this(), f = std::move(frame), reason] {
      if (self->closing_) return;
      self->close_when_flushed_ = true;
      self->close_reason_ = reason;
      self->out_.push_back(f);
      if (self->out_.size() == 1) self->write_next();
    });
  }

  void close(websocket::close_code code, const char* reason) {
    if (closing_) return;
    closing_ = true;
    hello_timer_.cancel();
    idle_timer_.cancel();
    ws_.async_close(websocket::close_reason(code, reason),
                    [self = shared_from_this()](beast::error_code) {});
  }

  // `retry`: whether sending the same message again later can succeed; the widget
  // gives a refused message back to the visitor instead of re-sending it.
  void error(const std::string& id, const std::string& reason, bool retry = false,
             int retry_after_ms = 0) {
    json e = {{"type", "error"}, {"reason", reason}, {"retry", retry}};
    if (!id.empty()) e["id"] = id;
    if (retry_after_ms > 0) e["retry_after_ms"] = retry_after_ms;
    send(e.dump(-1, ' ', false, json::error_handler_t::replace));
  }

  void touch() {
    idle_timer_.expires_after(std::chrono::seconds(idle_s_));
    idle_timer_.async_wait([weak = weak_from_this()](beast::error_code e) {
      if (auto s = weak.lock(); s && !e) s->close(static_cast<websocket::close_code>(4000), "idle");
    });
  }

  bool take_token() {
    const auto now = std::chrono::steady_clock::now();
    const double minutes = std::chrono::duration<double>(now - last_refill_).count() / 60.0;
    last_refill_ = now;
    tokens_ = std::min(per_minute_, tokens_ + minutes * per_minute_);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

  void on_frame(const std::string& text) {
    const json f = json::parse(text, nullptr, false);
    if (!f.is_object() || !f.contains("type") || !f["type"].is_string()) {
      error("", "frames are JSON objects with a \"type\"");
      return;
    }
    const std::string type = f["type"];
    if (type == "hello") {
      if (visitor_.empty()) hello(f);
      return;
    }
    if (visitor_.empty()) {
      close(websocket::close_code::policy_error, "hello first");
      return;
    }
    if (type == "message") {
      touch();
      message(f);
    } else if (type == "typing") {
      touch();
      typing(f.value("on", true));
    } else if (type == "profile") {
      profile(f);
    } else if (type == "ping") {
      send(R"({"type":"pong"})");
    } else {
      error("", "unknown frame type");
    }
  }

  static std::string field(const json& f, const char* key, size_t max) {
    return string_field(f, key, max);
  }

  void hello(const json& f) {
    hello_timer_.cancel();
    const std::string token = field(f, "token", 128);
    json session;
    std::string v;
    if (!token.empty() && core_->kv->get("s/" + crypto::sha256_hex(token), &v)) {
      session = json::parse(v, nullptr, false);
      if (!session.is_object() || session.value("ws", "") != inbox_.workspace_id ||
          session.value("inbox", "") != inbox_.inbox_id)
        session = json();
    }
    // A visitor not seen for session_ttl_s starts over (what was kept is deleted by the
    // pruner; an expired token resumes nothing meanwhile).
    const int64_t ttl_ms = core_->settings.integer("session_ttl_s") * 1000;
    if (session.is_object() && session_last_ms(session.dump()) < wall_ms() - ttl_ms)
      session = json();
    if (session.is_object()) {
      token_ = token;
    } else {
      // A new visitor. The token is the only key to the transcript: only its hash is kept.
      token_ = crypto::random_hex(24);
      session = {{"visitor", "v" + crypto::random_hex(12)},
                 {"ws", inbox_.workspace_id},
                 {"inbox", inbox_.inbox_id},
                 {"created_ms", wall_ms()}};
    }
    apply_profile(f, session);
    if (inbox_.settings.str("prechat") == "required" &&
        (!session.contains("name") || !session.contains("email"))) {
      send_then_close(json{{"type", "prechat_required"}}.dump(), "name and email required");
      return;
    }
    session["last_ms"] = wall_ms();
    if (!save_session(session) ||
        !core_->kv
             ->put("v/" + session["visitor"].get<std::string>(),
                   json{{"ws", inbox_.workspace_id}, {"inbox", inbox_.inbox_id}}.dump())
             .empty()) {
      send_then_close(json{{"type", "error"},
                           {"reason", "the chat could not be started; try again in a moment"},
                           {"retry", true}}
                          .dump(),
                      "session not stored");
      return;
    }
    visitor_ = session["visitor"];
    name_ = session.value("name", "");
    email_ = session.value("email", "");
    lang_ = session.value("lang", "");
    {
      std::lock_guard lock(core_->mu);
      core_->by_visitor.emplace(visitor_, weak_from_this());
    }
    touch();
    send(json{{"type", "welcome"},
              {"token", token_},
              {"visitor", visitor_},
              {"name", name_},
              {"title", inbox_.settings.str("title")},
              {"greeting", inbox_.settings.str("greeting")},
              {"prechat", inbox_.settings.str("prechat")},
              {"offline_form", !inbox_.settings.str("offline_email_inbox").empty()},
              {"max_message_bytes", max_text_},
              {"history", core_->history(visitor_, static_cast<size_t>(
                                                       core_->settings.integer("max_history")))}}
             .dump());
  }

  // Pre-chat details (name, email) and the browser's language, from a hello or a later
  // "profile" frame (the form is often filled after the connection opened).
  static void apply_profile(const json& f, json& session) {
    if (auto name = field(f, "name", 128); !name.empty()) session["name"] = name;
    if (auto email = field(f, "email", 254); !email.empty()) {
      for (auto& c : email) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (email.find('@') != std::string::npos && email.find_first_of(" <>\"") == std::string::npos)
        session["email"] = email;
    }
    if (auto lang = field(f, "lang", 35); !lang.empty()) session["lang"] = lang;
  }

  // The session record under the hash of its token; false (logged) when it was not stored.
  bool save_session(const json& session) {
    if (auto err = core_->kv->put("s/" + crypto::sha256_hex(token_), session.dump());
        !err.empty()) {
      core_->host->logger()->error("chat: visitor session not stored: {}", err);
      return false;
    }
    return true;
  }

  void profile(const json& f) {
    const std::string key = "s/" + crypto::sha256_hex(token_);
    std::string v;
    json session = core_->kv->get(key, &v) ? json::parse(v, nullptr, false) : json();
    if (!session.is_object()) return;
    apply_profile(f, session);
    if (!save_session(session)) return;  // logged; the visitor keeps the old profile
    name_ = session.value("name", "");
    email_ = session.value("email", "");
    lang_ = session.value("lang", "");
  }

  void message(const json& f) {
    const std::string id = field(f, "id", 64);
    if (id.empty()) {
      error("", "message needs an id");
      return;
    }
    if (!f.contains("text") || !f["text"].is_string()) {
      error(id, "message needs a text");
      return;
    }
    v1::Envelope env;
    auto* m = env.mutable_message();
    if (auto err = frame_to_message(f, visitor_, name_, email_, lang_, max_text_, *m);
        !err.empty()) {
      error(id, err);
      return;
    }
    if (!take_token() || !core_->buckets->take(visitor_)) {
      error(id, "too many messages: wait a moment and send again", true, 5000);
      return;
    }
    m->set_workspace_id(inbox_.workspace_id);
    m->set_inbox_id(inbox_.inbox_id);
    const json entry = {
        {"id", id}, {"author", "visitor"}, {"text", m->text_body()}, {"at", wall_ms()}};
    core_->host->publish(std::move(env), [weak = weak_from_this(), core = core_, entry, id,
                                          visitor = visitor_](const sdk::PublishResult& r) {
      if (r.ok()) core->remember(visitor, entry);
      auto self = weak.lock();
      if (!self) return;  // the tab went away; a reload shows it from the transcript
      if (r.ok())
        self->send(json{{"type", "ack"}, {"id", id}}.dump());
      else if (r.code == sdk::PublishResult::Code::kUnavailable)
        self->error(id, "not delivered yet, retrying", true, 3000);
      else
        self->error(id, r.detail);
    });
  }

  // Only changes reach Kafka, and an "on" is repeated at most every 2 s while the visitor
  // keeps typing: a script sending typing frames in a loop costs one event per 2 s.
  void typing(bool on) {
    const auto now = std::chrono::steady_clock::now();
    if (on == typing_on_ && (!on || now - last_typing_ < std::chrono::seconds(2))) return;
    if (on != typing_on_ && now - last_typing_ < std::chrono::milliseconds(500)) {
      if (on) return;  // on/off flapping: the next "on" after the pause counts
    }
    typing_on_ = on;
    last_typing_ = now;
    v1::Envelope env;
    auto* s = env.mutable_signal();
    s->set_workspace_id(inbox_.workspace_id);
    s->set_inbox_id(inbox_.inbox_id);
    s->set_channel(v1::CHANNEL_CHAT);
    s->set_customer_handle(visitor_);
    s->set_kind(v1::Signal::KIND_TYPING);
    s->set_ref_id(on ? "on" : "off");
    s->set_at_ms(wall_ms());
    core_->host->publish(std::move(env), [](const sdk::PublishResult&) {});
  }

  http::ConnectionLease lease_;  // this connection's place under the server's caps
  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<Core> core_;
  const sdk::InboxInfo& inbox_;
  net::steady_timer hello_timer_, idle_timer_;
  beast::flat_buffer in_;
  std::deque<std::string> out_;
  bool closing_ = false;
  bool close_when_flushed_ = false;
  const char* close_reason_ = "";
  std::string visitor_, token_, name_, email_, lang_;
  size_t max_text_ = 4096;
  double per_minute_ = 30, tokens_ = 30;
  int idle_s_ = 600;
  std::chrono::steady_clock::time_point last_refill_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_typing_{};
  bool typing_on_ = false;  // what the router was last told
};

std::string frame_to_message(const json& f, const std::string& visitor, const std::string& name,
                             const std::string& email, const std::string& lang, size_t max_text,
                             v1::InboundMessage& m) {
  const std::string id = string_field(f, "id", 64);
  if (id.empty()) return "message needs an id";
  if (!f.contains("text") || !f["text"].is_string()) return "message needs a text";
  std::string text = f["text"];
  if (text.size() > max_text) return fmt::format("message too long (at most {} bytes)", max_text);
  text = utf8::sanitize(text);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty()) return "empty message";
  m.set_channel(v1::CHANNEL_CHAT);
  m.set_customer_handle(visitor);
  m.set_customer_display_name(name);
  m.set_external_message_id(visitor + ":" + id);
  m.set_text_body(text);
  m.set_language(lang);
  m.set_sent_at_ms(wall_ms());
  if (!email.empty()) {
    // Typed into a form, not proven: recorded with the customer, never linked on.
    auto* ident = m.add_identities();
    ident->set_kind(v1::Identity::KIND_EMAIL);
    ident->set_value(email);
    ident->set_verified(false);
  }
  return {};
}

void Core::push(const std::string& visitor, const std::string& frame) {
  std::vector<std::shared_ptr<WsSession>> targets;
  {
    std::lock_guard lock(mu);
    auto range = by_visitor.equal_range(visitor);
    for (auto it = range.first; it != range.second; ++it)
      if (auto s = it->second.lock()) targets.push_back(std::move(s));
  }
  for (auto& s : targets) s->send(frame);
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
    for (auto& s : open) s->close_from_any_thread();
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
    std::make_shared<WsSession>(std::move(stream), core_, *inbox, std::move(lease))
        ->start(std::move(req));
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
