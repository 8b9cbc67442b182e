#include "connectors/chat/session.h"

#include <chrono>
#include <deque>
#include <utility>

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/beast/websocket.hpp>

#include "common/crypto.h"
#include "common/utf8.h"

namespace omniroute::connectors::chat {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;

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

  // What the visitor's frame `id` became: "ack" once Kafka has it, else why not.
  void acknowledge(const std::string& id, const sdk::PublishResult& r) {
    if (r.ok())
      send(json{{"type", "ack"}, {"id", id}}.dump());
    else if (r.code == sdk::PublishResult::Code::kUnavailable)
      error(id, "not delivered yet, retrying", true, 3000);
    else
      error(id, r.detail);
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
    } else if (type == "csat") {
      touch();
      csat(f);
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
      // The tab may have gone; a reload shows it from the transcript.
      if (auto self = weak.lock()) self->acknowledge(id, r);
    });
  }

  // A rating of a survey this visitor was sent (and has not let expire), with an optional
  // comment; acknowledged once Kafka has it, then shown answered on every tab.
  void csat(const json& f) {
    const std::string id = field(f, "id", 64), survey = field(f, "survey", 200);
    if (id.empty() || survey.empty()) {
      error(id, "csat needs an id and a survey");
      return;
    }
    std::string v;
    const json sent =
        core_->kv->get(survey_key(visitor_, survey), &v) ? json::parse(v, nullptr, false) : json();
    if (!sent.is_object()) {
      error(id, "no such survey");
      return;
    }
    if (sent.value("expires_ms", int64_t{0}) < wall_ms()) {
      error(id, "this survey has closed");
      return;
    }
    const uint32_t scale = sent.value("scale", 5u);
    if (!f.contains("rating") || !f["rating"].is_number_integer() ||
        f["rating"].get<int64_t>() < 1 || f["rating"].get<int64_t>() > scale) {
      error(id, fmt::format("rating must be a whole number from 1 to {}", scale));
      return;
    }
    if (f.contains("comment") && f["comment"].is_string() &&
        f["comment"].get<std::string>().size() > max_text_) {
      error(id, fmt::format("comment too long (at most {} bytes)", max_text_));
      return;
    }
    if (!take_token() || !core_->buckets->take(visitor_)) {
      error(id, "too many messages: wait a moment and send again", true, 5000);
      return;
    }
    const auto rating = static_cast<uint32_t>(f["rating"].get<int64_t>());
    v1::Envelope env;
    auto* a = env.mutable_csat();
    a->set_workspace_id(inbox_.workspace_id);
    a->set_inbox_id(inbox_.inbox_id);
    a->set_channel(v1::CHANNEL_CHAT);
    a->set_customer_handle(visitor_);
    a->set_survey_id(survey);
    a->set_rating(rating);
    a->set_comment(utf8::sanitize(field(f, "comment", max_text_)));
    a->set_external_id(visitor_ + ":csat:" + id);
    const json entry = {{"author", "rating"},
                        {"survey", survey},
                        {"rating", rating},
                        {"text", a->comment()},
                        {"at", wall_ms()}};
    core_->host->publish(std::move(env), [weak = weak_from_this(), core = core_, entry, id,
                                          visitor = visitor_](const sdk::PublishResult& r) {
      if (r.ok()) {
        core->remember(visitor, entry);
        json rated = entry;
        rated["type"] = "rated";
        core->push(visitor, rated.dump());
      }
      if (auto self = weak.lock()) self->acknowledge(id, r);
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

void start_session(beast::tcp_stream stream, std::shared_ptr<Core> core,
                   const sdk::InboxInfo& inbox, http::ConnectionLease lease,
                   bhttp::request<bhttp::string_body> req) {
  std::make_shared<WsSession>(std::move(stream), std::move(core), inbox, std::move(lease))
      ->start(std::move(req));
}

void close_session(const std::shared_ptr<WsSession>& s) {
  s->close_from_any_thread();
}

}  // namespace omniroute::connectors::chat
