// The social connectors at run time: Meta's webhooks (GET verification, POST signed with
// X-Hub-Signature-256) and Telegram's (X-Telegram-Bot-Api-Secret-Token) in; the Graph API
// and the Bot API out; messaging windows and provider message ids kept in the
// connector's own state.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/utf8.h"
#include "connectors/http/client.h"
#include "connectors/http/connector.h"
#include "connectors/http/listener.h"
#include "connectors/http/signature.h"
#include "connectors/social/social.h"
#include "connectors/state/kv.h"
#include "connectors/state/provider_ids.h"

namespace omniroute::connectors::social {

namespace {

using json = nlohmann::json;

constexpr int64_t kHourMs = 3600 * 1000;
constexpr int64_t kIdTtlMs = 30 * 24 * kHourMs;  // receipts come within days

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string when(int64_t ms) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  return fmt::format("{:%Y-%m-%d %H:%M} UTC", fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

bool is_meta(Platform p) {
  return p != Platform::kTelegram;
}

// The inbox setting that names the platform account an inbox is.
const char* account_key(Platform p) {
  switch (p) {
    case Platform::kMessenger:
      return "page_id";
    case Platform::kInstagram:
      return "account_id";
    case Platform::kWhatsApp:
      return "phone_number_id";
    case Platform::kTelegram:
      return "bot_token";
  }
  return "";
}

// Graph API error codes that mean "slow down" (retried by the host with backoff).
bool graph_rate_limited(int code) {
  return code == 4 || code == 17 || code == 32 || code == 613 || code == 80007 || code == 130429 ||
         code == 131048 || code == 131056;
}

class SocialConnector : public http::HttpConnector {
 public:
  SocialConnector(Platform p, const sdk::Settings& s)
      : HttpConnector(platform_name(p), s),
        p_(p),
        prefix_(fmt::format("/v1/{}/", platform_name(p))) {
    limits_.max_events = static_cast<size_t>(s.integer("max_events"));
    limits_.max_text_bytes = static_cast<size_t>(s.integer("max_text_bytes"));
  }
  ~SocialConnector() override { stop(); }

  std::string prepare() override {
    std::string err;
    kv_ = state::Kv::open(settings().str("state_dir"), err);
    if (!kv_) return err;
    ids_ = std::make_unique<state::ProviderIds>(*kv_, "pid/", kIdTtlMs);
    ids_->prune(wall_ms());
    for (const auto& inbox : host().inboxes()) {
      std::string account = inbox.settings.str(account_key(p_));
      if (p_ == Platform::kTelegram) account = account.substr(0, account.find(':'));  // bot id
      if (account.empty())
        return fmt::format("{}/{} has no {}", inbox.workspace_id, inbox.inbox_id, account_key(p_));
      if (!accounts_.emplace(account, &inbox).second)
        return fmt::format("two inboxes for the same account {}", account);
    }
    return {};
  }

  std::vector<http::Route> routes() override {
    http::Route route;
    route.prefix = prefix_;
    route.max_body_bytes = static_cast<size_t>(settings().integer("max_body_bytes"));
    route.handler = [this](http::Request req, http::Respond respond) {
      handle(std::move(req), std::move(respond));
    };
    return {std::move(route)};
  }

  std::vector<std::string> paths() const override {
    if (is_meta(p_)) return {prefix_ + "webhook"};
    return {prefix_ + "{workspace}/{inbox}"};
  }

  sdk::DeliveryResult deliver(const v1::OutboundMessage& m, const sdk::InboxInfo& inbox) override {
    switch (p_) {
      case Platform::kMessenger:
      case Platform::kInstagram:
        return deliver_messenger(m, inbox);
      case Platform::kWhatsApp:
        return deliver_whatsapp(m, inbox);
      case Platform::kTelegram:
        return deliver_telegram(m, inbox);
    }
    return sdk::DeliveryResult::failed("unknown platform");
  }

 private:
  // ---------------------------------------------------------------- in

  void handle(http::Request req, http::Respond respond) {
    const auto seg = http::path_segments(req.path, prefix_);
    if (is_meta(p_)) {
      if (seg.size() != 1 || seg[0] != "webhook") {
        respond(http::Response::error(404, fmt::format("unknown path; use {}webhook", prefix_)));
        return;
      }
      if (req.method == "GET") {
        verify_subscription(req, respond);
        return;
      }
      if (req.method != "POST") {
        respond(http::Response::error(405, "use GET (verification) or POST"));
        return;
      }
      if (auto refused = http::check_signed(
              req, "X-Hub-Signature-256",
              [&] { return meta_signature(settings().str("app_secret"), req.body); },
              host().logger(), platform_name(p_))) {
        respond(std::move(*refused));
        return;
      }
      std::vector<Event> events;
      ParseReport report;
      if (auto err = parse_meta(req.body, p_, limits_, events, &report); !err.empty()) {
        host().logger()->info("{}: webhook rejected: {}", platform_name(p_), err);
        respond(http::Response::error(400, err));
        return;
      }
      // One bad event fails only itself; what carries nothing for an agent is counted.
      for (const auto& [why, raw] : report.rejected) {
        host().logger()->info("{}: one event of a webhook sent to the DLQ: {}", platform_name(p_),
                              why);
        host().dead_letter(raw, fmt::format("{}: {}", platform_name(p_), why));
      }
      skipped_ += static_cast<uint64_t>(report.skipped);
      rejected_ += report.rejected.size();
      if (report.skipped > 0)
        host().logger()->debug("{}: {} events with nothing for an agent skipped ({} so far)",
                               platform_name(p_), report.skipped, skipped_.load());
      publish_all(std::move(events), nullptr, std::move(respond));
      return;
    }
    // Telegram: /v1/telegram/{workspace}/{inbox}
    if (seg.size() != 2) {
      respond(http::Response::error(404, "unknown path; POST /v1/telegram/{workspace}/{inbox}"));
      return;
    }
    if (req.method != "POST") {
      respond(http::Response::error(405, "use POST"));
      return;
    }
    const sdk::InboxInfo* inbox = host().inbox(seg[0], seg[1]);
    if (!inbox) {
      respond(http::Response::error(404, "unknown inbox"));
      return;
    }
    if (auto refused = http::check_signed(
            req, "X-Telegram-Bot-Api-Secret-Token",
            [&] { return inbox->settings.str("secret_token"); }, host().logger(),
            fmt::format("telegram {}/{}", seg[0], seg[1]))) {
      respond(std::move(*refused));
      return;
    }
    std::vector<Event> events;
    const std::string bot = inbox->settings.str("bot_token");
    if (auto err = parse_telegram(req.body, bot.substr(0, bot.find(':')), limits_, events);
        !err.empty()) {
      host().logger()->info("telegram {}/{}: update rejected: {}", seg[0], seg[1], err);
      respond(http::Response::error(400, err));
      return;
    }
    publish_all(std::move(events), inbox, std::move(respond));
  }

  void verify_subscription(const http::Request& req, const http::Respond& respond) {
    std::string mode, token, challenge;
    for (const auto& [k, v] : http::parse_form(req.query)) {
      if (k == "hub.mode") mode = v;
      if (k == "hub.verify_token") token = v;
      if (k == "hub.challenge") challenge = v;
    }
    if (mode != "subscribe" || challenge.empty() || challenge.size() > 256 ||
        !crypto::constant_time_equal(settings().str("verify_token"), token)) {
      host().logger()->warn("{}: subscription verification refused", platform_name(p_));
      respond(http::Response::error(403, "verification failed"));
      return;
    }
    http::Response r;
    r.content_type = "text/plain";
    r.body = challenge;
    respond(std::move(r));
  }

  // Publishes every event of one request; answers 200 when Kafka has all of them, 503 when
  // any failed (the platform retries the whole request; the router drops what it has).
  void publish_all(std::vector<Event> events, const sdk::InboxInfo* fixed, http::Respond respond) {
    struct Pending {
      std::atomic<int> left{0};
      std::atomic<bool> failed{false};
      http::Respond respond;
    };
    auto pending = std::make_shared<Pending>();
    pending->respond = std::move(respond);
    std::vector<std::pair<v1::Envelope, std::function<void()>>> todo;
    for (auto& e : events) {
      const sdk::InboxInfo* inbox = fixed;
      if (!inbox) {
        auto it = accounts_.find(e.account);
        if (it == accounts_.end()) {
          host().dead_letter(
              e.envelope.SerializeAsString(),
              fmt::format("{}: no inbox for account {}", platform_name(p_), e.account));
          continue;
        }
        inbox = it->second;
      }
      auto& env = e.envelope;
      std::function<void()> on_ok;
      if (env.has_message()) {
        auto* m = env.mutable_message();
        m->set_workspace_id(inbox->workspace_id);
        m->set_inbox_id(inbox->inbox_id);
        const std::string key = last_key(*inbox, m->customer_handle());
        const int64_t sent = m->sent_at_ms() ? m->sent_at_ms() : wall_ms();
        on_ok = [this, key, sent] { customer_wrote(key, sent); };
      } else if (env.has_delivery_status()) {
        auto* s = env.mutable_delivery_status();
        const auto ours = ids_->find(s->provider_message_id());
        if (!ours) continue;  // not ours, or old
        s->set_workspace_id(inbox->workspace_id);
        s->set_inbox_id(inbox->inbox_id);
        s->set_outbound_id(ours->outbound_id);
        s->set_conversation_id(ours->conversation_id);
      } else if (env.has_signal()) {
        env.mutable_signal()->set_workspace_id(inbox->workspace_id);
        env.mutable_signal()->set_inbox_id(inbox->inbox_id);
      }
      todo.emplace_back(std::move(env), std::move(on_ok));
    }
    if (todo.empty()) {
      pending->respond(http::Response::json(200, R"({"status":"ok"})"));
      return;
    }
    pending->left = static_cast<int>(todo.size());
    for (auto& [env, on_ok] : todo) {
      // An event Kafka can never take fails only itself (to the DLQ); only a store that
      // is unavailable makes the platform retry the whole request.
      auto copy = std::make_shared<std::string>(env.SerializeAsString());
      host().publish(std::move(env), [this, pending, copy,
                                      on_ok = std::move(on_ok)](const sdk::PublishResult& r) {
        if (r.code == sdk::PublishResult::Code::kUnavailable)
          pending->failed = true;
        else if (!r.ok())
          host().dead_letter(*copy, fmt::format("{}: {}", platform_name(p_), r.detail));
        else if (on_ok)
          on_ok();
        if (--pending->left == 0) {
          if (pending->failed)
            pending->respond(http::Response::error(503, "event store unavailable, retry later"));
          else
            pending->respond(http::Response::json(200, R"({"status":"ok"})"));
        }
      });
    }
  }

  // ---------------------------------------------------------------- out

  static std::string last_key(const sdk::InboxInfo& inbox, const std::string& handle) {
    return fmt::format("last/{}/{}/{}", inbox.workspace_id, inbox.inbox_id, handle);
  }
  // Records that the customer wrote at `sent_ms`. Only ever moves forward: Meta re-delivers
  // old messages for days, and a late copy must never close an open 24-hour window.
  void customer_wrote(const std::string& key, int64_t sent_ms) {
    std::lock_guard lock(last_mu_);
    std::string v;
    if (kv_->get(key, &v) && std::atoll(v.c_str()) >= sent_ms) return;
    if (auto err = kv_->put(key, std::to_string(sent_ms)); !err.empty())
      host().logger()->warn("could not record when a customer last wrote: {}", err);
  }
  // When the customer last wrote (ms), 0 when unknown.
  int64_t last_inbound(const sdk::InboxInfo& inbox, const std::string& handle) const {
    std::string v;
    return kv_->get(last_key(inbox, handle), &v) ? std::atoll(v.c_str()) : 0;
  }
  void remember(const std::string& provider_id, const v1::OutboundMessage& m) {
    if (auto err = ids_->remember(provider_id, m.outbound_id(), m.conversation_id(), wall_ms());
        !err.empty())
      host().logger()->warn("{}: message {} sent; its receipts will not be matched: {}",
                            platform_name(p_), m.outbound_id(), err);
  }
  // Text longer than the channel takes goes as several messages, in order. How many parts
  // went out is kept, so a retry after a failed part sends only the rest (never a part
  // twice). The last part's id is remembered for receipts: channels deliver in order, so
  // its receipt stands for the whole reply.
  sdk::DeliveryResult send_parts(
      const v1::OutboundMessage& m, size_t max_units,
      const std::function<sdk::DeliveryResult(const std::string&, std::string*)>& send_one,
      std::string* first_id) {
    const auto parts = utf8::split(m.text_body(), max_units);
    const std::string progress = "parts/" + m.outbound_id();
    std::string v;
    size_t done = kv_->get(progress, &v) ? static_cast<size_t>(std::atoll(v.c_str())) : 0;
    std::string id;
    for (size_t i = done; i < parts.size(); ++i) {
      auto r = send_one(parts[i], &id);
      if (r.code != sdk::DeliveryResult::Code::kDelivered) {
        if (i > 0) {
          if (auto err = kv_->put(progress, std::to_string(i)); !err.empty())
            host().logger()->error("{}: parts sent of {} not recorded (a retry resends them): {}",
                                   platform_name(p_), m.outbound_id(), err);
          r.detail =
              fmt::format("parts 1-{} of {} sent; part {}: {}", i, parts.size(), i + 1, r.detail);
        }
        return r;
      }
      if (i == 0) *first_id = id;
      if (i + 1 == parts.size()) remember(id, m);
    }
    if (done > 0 && !kv_->del(progress).empty())
      host().logger()->warn("{}: progress of {} not cleared", platform_name(p_), m.outbound_id());
    auto r = sdk::DeliveryResult::delivered(*first_id);
    if (parts.size() > 1) r.detail = fmt::format("sent as {} messages", parts.size());
    return r;
  }

  std::string graph_url(const std::string& account) const {
    return fmt::format("{}/{}/{}/messages", settings().str("graph_api_base_url"),
                       settings().str("graph_api_version"), http::url_encode(account));
  }

  // One Graph API call; `id_of` reads the message id out of a success.
  sdk::DeliveryResult graph_post(const sdk::InboxInfo& inbox, const std::string& account,
                                 const json& body, std::string* provider_id,
                                 const std::function<std::string(const json&)>& id_of) {
    http::ClientRequest req;
    req.url = graph_url(account);
    req.headers = {"Content-Type: application/json",
                   "Authorization: Bearer " + inbox.settings.str("access_token")};
    req.body = body.dump();
    req.timeout_ms = static_cast<long>(settings().integer("delivery_timeout_ms"));
    const auto res = http::send(req);
    const json j = json::parse(res.body, nullptr, false);
    if (res.error.empty() && res.status >= 200 && res.status < 300) {
      *provider_id = j.is_object() ? id_of(j) : "";
      return sdk::DeliveryResult::delivered(*provider_id);
    }
    const json& e = j.is_object() && j.contains("error") ? j["error"] : json();
    if (res.error.empty() && e.is_object()) {
      const int code = e.value("code", 0);
      const std::string msg = e.value("message", std::string("error"));
      std::string detail = fmt::format("Graph API error {}: {}", code, msg.substr(0, 300));
      if (code == 131047 || code == 10 || (code == 100 && e.value("error_subcode", 0) == 2018278))
        detail += " (outside the platform's messaging window)";
      if (graph_rate_limited(code) || res.status >= 500) return sdk::DeliveryResult::retry(detail);
      return sdk::DeliveryResult::failed(detail);
    }
    return http::classify(res, "Graph API");
  }

  sdk::DeliveryResult deliver_messenger(const v1::OutboundMessage& m, const sdk::InboxInfo& inbox) {
    const std::string& handle = m.customer_handle();
    const std::string account = handle.substr(0, handle.find('/'));
    const std::string recipient = handle.substr(handle.find('/') + 1);
    if (handle.find('/') == std::string::npos || account != inbox.settings.str(account_key(p_)))
      return sdk::DeliveryResult::failed(
          fmt::format("handle {} does not belong to this {} account", handle, platform_name(p_)));
    if (m.has_message_template())
      return sdk::DeliveryResult::failed("templates are a WhatsApp feature; send text");
    // Standard messaging: 24 hours after the customer's last message; a person may answer
    // for 7 days with the HUMAN_AGENT tag; after that nothing.
    json base = {{"recipient", {{"id", recipient}}}};
    const int64_t last = last_inbound(inbox, handle), age = wall_ms() - last;
    if (last != 0 && age > 24 * kHourMs) {
      if (age > 7 * 24 * kHourMs)
        return sdk::DeliveryResult::failed(fmt::format(
            "the customer last wrote on {}: {} allows answers for 7 days (HUMAN_AGENT), that "
            "window closed",
            when(last), platform_name(p_)));
      base["messaging_type"] = "MESSAGE_TAG";
      base["tag"] = "HUMAN_AGENT";
    } else {
      base["messaging_type"] = "RESPONSE";
    }
    auto id_of = [](const json& j) { return j.value("message_id", std::string()); };
    std::string first_id, id;
    if (!m.text_body().empty()) {
      // Messenger and Instagram take 2,000 characters a message.
      auto r = send_parts(
          m, 2000,
          [&](const std::string& part, std::string* part_id) {
            json body = base;
            body["message"] = {{"text", part}};
            return graph_post(inbox, account, body, part_id, id_of);
          },
          &first_id);
      if (r.code != sdk::DeliveryResult::Code::kDelivered) return r;
    }
    for (const auto& a : m.attachments()) {
      if (a.url().rfind("https://", 0) != 0) continue;
      const std::string ct = a.content_type();
      const std::string type = ct.rfind("image/", 0) == 0   ? "image"
                               : ct.rfind("video/", 0) == 0 ? "video"
                               : ct.rfind("audio/", 0) == 0 ? "audio"
                                                            : "file";
      json body = base;
      body["message"] = {{"attachment", {{"type", type}, {"payload", {{"url", a.url()}}}}}};
      auto r = graph_post(inbox, account, body, &id, id_of);
      if (r.code != sdk::DeliveryResult::Code::kDelivered) {
        if (first_id.empty()) return r;
        // The text went out: retrying would send it twice.
        return sdk::DeliveryResult::failed("text sent, attachment " + a.name() +
                                           " failed: " + r.detail);
      }
      if (first_id.empty()) first_id = id;
      remember(id, m);
    }
    if (first_id.empty() && m.text_body().empty())
      return sdk::DeliveryResult::failed("nothing to send: no text and no https attachment");
    return sdk::DeliveryResult::delivered(first_id);
  }

  static std::string whatsapp_id(const json& j) {
    const json& msgs = j.contains("messages") ? j["messages"] : json();
    return msgs.is_array() && !msgs.empty() && msgs[0].is_object()
               ? msgs[0].value("id", std::string())
               : std::string();
  }

  sdk::DeliveryResult deliver_whatsapp(const v1::OutboundMessage& m, const sdk::InboxInfo& inbox) {
    std::string to = m.customer_handle();
    if (!to.empty() && to[0] == '+') to.erase(0, 1);
    const std::string account = inbox.settings.str("phone_number_id");
    const int64_t last = last_inbound(inbox, m.customer_handle());
    const bool window_open = last != 0 && wall_ms() - last <= 24 * kHourMs;
    json body = {{"messaging_product", "whatsapp"}, {"recipient_type", "individual"}, {"to", to}};
    if (m.has_message_template()) {
      const auto& t = m.message_template();
      json params = json::array();
      for (const auto& p : t.parameters()) params.push_back({{"type", "text"}, {"text", p}});
      json tpl = {{"name", t.name()}, {"language", {{"code", t.language()}}}};
      if (!params.empty()) tpl["components"] = {{{"type", "body"}, {"parameters", params}}};
      body["type"] = "template";
      body["template"] = tpl;
    } else {
      if (!window_open && last != 0)
        return sdk::DeliveryResult::failed(fmt::format(
            "WhatsApp's 24-hour customer service window closed on {} (the customer last wrote "
            "on {}): only an approved template may be sent now",
            when(last + 24 * kHourMs), when(last)));
      if (!window_open)
        return sdk::DeliveryResult::failed(
            "WhatsApp: the customer has not written to this number (no open 24-hour window): "
            "only an approved template may be sent");
      if (!m.text_body().empty()) {
        // WhatsApp takes 4,096 characters a text message.
        std::string first;
        return send_parts(
            m, 4096,
            [&](const std::string& part, std::string* part_id) {
              json one = body;
              one["type"] = "text";
              one["text"] = {{"body", part}, {"preview_url", false}};
              return graph_post(inbox, account, one, part_id, whatsapp_id);
            },
            &first);
      } else {
        const v1::Attachment* a = nullptr;
        for (const auto& x : m.attachments())
          if (x.url().rfind("https://", 0) == 0) a = &x;
        if (!a) return sdk::DeliveryResult::failed("nothing to send: no text and no https media");
        const std::string type = a->content_type().rfind("image/", 0) == 0 ? "image" : "document";
        body["type"] = type;
        body[type] = {{"link", a->url()}};
        if (type == "document") body[type]["filename"] = a->name();
      }
    }
    std::string id;
    auto r = graph_post(inbox, account, body, &id, whatsapp_id);
    if (r.code == sdk::DeliveryResult::Code::kDelivered) remember(id, m);
    return r;
  }

  sdk::DeliveryResult deliver_telegram(const v1::OutboundMessage& m, const sdk::InboxInfo& inbox) {
    const std::string& handle = m.customer_handle();
    const std::string token = inbox.settings.str("bot_token");
    if (handle.substr(0, handle.find('/')) != token.substr(0, token.find(':')))
      return sdk::DeliveryResult::failed("handle " + handle + " does not belong to this bot");
    const std::string chat = handle.substr(handle.find('/') + 1);
    auto call = [&](const std::string& method, const json& body, std::string* id) {
      http::ClientRequest req;
      req.url = fmt::format("{}/bot{}/{}", settings().str("bot_api_base_url"), token, method);
      req.headers = {"Content-Type: application/json"};
      req.body = body.dump();
      req.timeout_ms = static_cast<long>(settings().integer("delivery_timeout_ms"));
      const auto res = http::send(req);
      const json j = json::parse(res.body, nullptr, false);
      if (res.error.empty() && j.is_object() && j.value("ok", false)) {
        *id = fmt::format("{}:{}", chat, j["result"].value("message_id", int64_t{0}));
        return sdk::DeliveryResult::delivered(*id);
      }
      if (res.error.empty() && j.is_object()) {
        const std::string desc = j.value("description", std::string("error"));
        const int code = j.value("error_code", static_cast<int>(res.status));
        std::string detail = fmt::format("Bot API error {}: {}", code, desc.substr(0, 300));
        if (code == 429 || code >= 500) {
          int64_t after = 0;
          if (j.contains("parameters") && j["parameters"].is_object())
            after = j["parameters"].value("retry_after", int64_t{0}) * 1000;
          return sdk::DeliveryResult::retry(detail, after);
        }
        if (code == 403) detail += " (the customer blocked the bot or left the chat)";
        return sdk::DeliveryResult::failed(detail);
      }
      // Never the URL: it holds the bot token.
      return http::classify(res, "Bot API");
    };
    if (m.has_message_template())
      return sdk::DeliveryResult::failed("templates are a WhatsApp feature; send text");
    std::string first, id;
    if (!m.text_body().empty()) {
      // The Bot API takes 4,096 characters a message.
      auto r = send_parts(
          m, 4096,
          [&](const std::string& part, std::string* part_id) {
            return call("sendMessage", {{"chat_id", chat}, {"text", part}}, part_id);
          },
          &first);
      if (r.code != sdk::DeliveryResult::Code::kDelivered) return r;
    }
    for (const auto& a : m.attachments()) {
      if (a.url().rfind("https://", 0) != 0) continue;
      const bool photo = a.content_type().rfind("image/", 0) == 0;
      auto r = call(photo ? "sendPhoto" : "sendDocument",
                    {{"chat_id", chat}, {photo ? "photo" : "document", a.url()}}, &id);
      if (r.code != sdk::DeliveryResult::Code::kDelivered) {
        if (first.empty()) return r;
        return sdk::DeliveryResult::failed("text sent, attachment " + a.name() +
                                           " failed: " + r.detail);
      }
      if (first.empty()) first = id;
    }
    if (first.empty()) return sdk::DeliveryResult::failed("nothing to send");
    return sdk::DeliveryResult::delivered(first);
  }

  Platform p_;
  std::string prefix_;
  Limits limits_;
  std::unique_ptr<state::Kv> kv_;
  std::unique_ptr<state::ProviderIds> ids_;  // provider message id -> our outbound message
  std::mutex last_mu_;  // customer_wrote: read-compare-write of one key at a time
  std::atomic<uint64_t> skipped_{0}, rejected_{0};  // events skipped / sent to the DLQ
  std::map<std::string, const sdk::InboxInfo*> accounts_;
};

std::vector<sdk::ConfigField> common_settings(Platform p) {
  using T = sdk::ConfigField::Type;
  std::vector<sdk::ConfigField> f = http::listener_fields();
  f.insert(
      f.end(),
      {
          {"max_body_bytes", T::kInt, "Largest webhook body; larger gets 413", "960000", false,
           1024, 64 << 20},
          {"max_events", T::kInt, "Messages, receipts and signals in one webhook at most", "1000",
           false, 1, 100000},
          {"max_text_bytes", T::kInt, "Largest message text", "65536", false, 1024, 1 << 24},
          {"state_dir", T::kString, "Messaging windows and provider message ids (RocksDB)",
           std::string("var/") + platform_name(p)},
          {"delivery_timeout_ms", T::kInt, "Timeout of one API call", "10000", false, 100, 600000},
      });
  if (is_meta(p)) {
    f.push_back(
        {"app_secret", T::kSecret, "The Meta app's secret: X-Hub-Signature-256 key", "", true});
    f.push_back({"verify_token", T::kSecret,
                 "Token you type into the app's webhook settings (GET verification)", "", true});
    f.push_back({"graph_api_base_url", T::kString, "Graph API", "https://graph.facebook.com"});
    f.push_back({"graph_api_version", T::kString, "Graph API version", "v19.0"});
  } else {
    f.push_back({"bot_api_base_url", T::kString, "Bot API", "https://api.telegram.org"});
  }
  return f;
}

sdk::ConnectorFactory make(Platform p, v1::Channel channel, std::string description,
                           std::vector<sdk::ConfigField> inbox_settings) {
  sdk::ConnectorFactory f;
  f.name = platform_name(p);
  f.channel = channel;
  if (channel == v1::CHANNEL_WHATSAPP) f.handle_kind = v1::Identity::KIND_PHONE;
  f.description = std::move(description);
  f.settings = common_settings(p);
  f.inbox_settings = std::move(inbox_settings);
  f.create = [p](const sdk::Settings& s) -> std::unique_ptr<sdk::Connector> {
    return std::make_unique<SocialConnector>(p, s);
  };
  f.normalize = [p](std::string_view payload, v1::InboundMessage& out) -> std::string {
    std::vector<Event> events;
    std::string err = p == Platform::kTelegram ? parse_telegram(payload, "bot", Limits{}, events)
                                               : parse_meta(payload, p, Limits{}, events);
    if (!err.empty()) return err;
    for (auto& e : events)
      if (e.envelope.has_message()) {
        out = e.envelope.message();
        return {};
      }
    return "no customer message in this payload (receipts or signals only)";
  };
  return f;
}

}  // namespace

sdk::ConnectorFactory messenger_factory() {
  using T = sdk::ConfigField::Type;
  return make(Platform::kMessenger, v1::CHANNEL_MESSENGER,
              "Facebook Messenger: Meta webhooks in, Graph API Send API out",
              {{"page_id", T::kString, "The Facebook Page's id", "", true},
               {"access_token", T::kSecret, "Page access token", "", true}});
}

sdk::ConnectorFactory instagram_factory() {
  using T = sdk::ConfigField::Type;
  return make(
      Platform::kInstagram, v1::CHANNEL_INSTAGRAM,
      "Instagram direct messages: Meta webhooks in, Graph API out",
      {{"account_id", T::kString, "The Instagram professional account's id", "", true},
       {"access_token", T::kSecret, "Access token with instagram_manage_messages", "", true}});
}

sdk::ConnectorFactory whatsapp_factory() {
  using T = sdk::ConfigField::Type;
  return make(Platform::kWhatsApp, v1::CHANNEL_WHATSAPP,
              "WhatsApp Cloud API: Meta webhooks in, Graph API out, 24-hour window and templates",
              {{"phone_number_id", T::kString, "The WhatsApp business number's id", "", true},
               {"access_token", T::kSecret, "System user access token", "", true}});
}

sdk::ConnectorFactory telegram_factory() {
  using T = sdk::ConfigField::Type;
  return make(
      Platform::kTelegram, v1::CHANNEL_TELEGRAM,
      "Telegram Bot API: webhook updates in, sendMessage out",
      {{"bot_token", T::kSecret, "The bot's token from @BotFather (<bot id>:<secret>)", "", true},
       {"secret_token", T::kSecret,
        "Secret given to setWebhook; Telegram sends it in X-Telegram-Bot-Api-Secret-Token", "",
        true}});
}

}  // namespace omniroute::connectors::social
