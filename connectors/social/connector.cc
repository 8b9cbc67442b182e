// The Meta connectors at run time (Messenger, Instagram, WhatsApp Cloud API): webhooks
// in (GET verification, POST signed with X-Hub-Signature-256), the Graph API out,
// messaging windows and provider message ids kept in the connector's own state
// (platform.h).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "connectors/http/client.h"
#include "connectors/http/listener.h"
#include "connectors/http/signature.h"
#include "connectors/social/platform.h"

namespace omniroute::connectors::social {

namespace {

using json = nlohmann::json;

// Graph API error codes that mean "slow down" (retried by the host with backoff).
bool graph_rate_limited(int code) {
  return code == 4 || code == 17 || code == 32 || code == 613 || code == 80007 || code == 130429 ||
         code == 131048 || code == 131056;
}

class MetaConnector : public PlatformConnector {
 public:
  MetaConnector(Platform p, const sdk::Settings& s) : PlatformConnector(p, s) {}
  ~MetaConnector() override { stop(); }

  std::vector<std::string> paths() const override { return {prefix_ + "webhook"}; }

  sdk::DeliveryResult deliver(const v1::OutboundMessage& m, const sdk::InboxInfo& inbox) override {
    if (p_ == Platform::kWhatsApp) return deliver_whatsapp(m, inbox);
    return deliver_messenger(m, inbox);
  }

 private:
  void handle(http::Request req, http::Respond respond) override {
    const auto seg = http::path_segments(req.path, prefix_);
    {
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
    if (m.has_survey()) return survey_messenger(m, inbox, account, recipient, handle);
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

  // A survey: the question with one quick reply per rating, only inside the 24-hour
  // window (HUMAN_AGENT is for a person's answers, and a survey is not one).
  sdk::DeliveryResult survey_messenger(const v1::OutboundMessage& m, const sdk::InboxInfo& inbox,
                                       const std::string& account, const std::string& recipient,
                                       const std::string& handle) {
    const int64_t last = last_inbound(inbox, handle);
    if (last == 0 || wall_ms() - last > 24 * kHourMs)
      return sdk::DeliveryResult::failed(
          fmt::format("survey not sent: {}'s 24-hour window is closed (the customer last wrote {})",
                      platform_name(p_), last == 0 ? std::string("never") : "on " + when(last)));
    json replies = json::array();
    for (uint32_t n = m.survey().scale(); n >= 1; --n)
      replies.push_back({{"content_type", "text"},
                         {"title", sdk::rating_caption(n, m.survey().scale())},
                         {"payload", sdk::survey_payload(m.survey(), n)}});
    json body = {{"recipient", {{"id", recipient}}},
                 {"messaging_type", "RESPONSE"},
                 {"message",
                  {{"text", utf8::cut(m.survey().question(), 2000)}, {"quick_replies", replies}}}};
    std::string id;
    auto r = graph_post(inbox, account, body, &id,
                        [](const json& j) { return j.value("message_id", std::string()); });
    if (r.code == sdk::DeliveryResult::Code::kDelivered) remember(id, m);
    return r;
  }

  // A survey on WhatsApp: reply buttons for a 3-point scale (the platform allows three),
  // a list of 5 ratings behind one button otherwise.
  static json whatsapp_survey(const v1::Survey& s) {
    json action;
    std::string type;
    if (s.scale() <= 3) {
      type = "button";
      json buttons = json::array();
      for (uint32_t n = s.scale(); n >= 1; --n)
        buttons.push_back(
            {{"type", "reply"},
             {"reply",
              {{"id", sdk::survey_payload(s, n)}, {"title", sdk::rating_caption(n, s.scale())}}}});
      action = {{"buttons", buttons}};
    } else {
      type = "list";
      json rows = json::array();
      for (uint32_t n = s.scale(); n >= 1; --n)
        rows.push_back(
            {{"id", sdk::survey_payload(s, n)}, {"title", sdk::rating_caption(n, s.scale())}});
      action = {{"button", fmt::format("\u2605 1-{}", s.scale())},
                {"sections", {{{"title", "\u2605"}, {"rows", rows}}}}};
    }
    return {
        {"type", type}, {"body", {{"text", utf8::cut(s.question(), 1024)}}}, {"action", action}};
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
      if (m.has_survey()) {
        body["type"] = "interactive";
        body["interactive"] = whatsapp_survey(m.survey());
      } else if (!m.text_body().empty()) {
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
};

std::vector<sdk::ConfigField> meta_settings(Platform p) {
  using T = sdk::ConfigField::Type;
  std::vector<sdk::ConfigField> f = platform_settings(p);
  f.push_back(
      {"app_secret", T::kSecret, "The Meta app's secret: X-Hub-Signature-256 key", "", true});
  f.push_back({"verify_token", T::kSecret,
               "Token you type into the app's webhook settings (GET verification)", "", true});
  f.push_back({"graph_api_base_url", T::kString, "Graph API", "https://graph.facebook.com"});
  f.push_back({"graph_api_version", T::kString, "Graph API version", "v19.0"});
  return f;
}

sdk::ConnectorFactory make(Platform p, v1::Channel channel, std::string description,
                           std::vector<sdk::ConfigField> inbox_settings) {
  sdk::ConnectorFactory f;
  f.name = platform_name(p);
  f.channel = channel;
  if (channel == v1::CHANNEL_WHATSAPP) f.handle_kind = v1::Identity::KIND_PHONE;
  f.description = std::move(description);
  f.settings = meta_settings(p);
  f.inbox_settings = std::move(inbox_settings);
  f.create = [p](const sdk::Settings& s) -> std::unique_ptr<sdk::Connector> {
    return std::make_unique<MetaConnector>(p, s);
  };
  f.normalize = [p](std::string_view payload, v1::InboundMessage& out) -> std::string {
    std::vector<Event> events;
    if (std::string err = parse_meta(payload, p, Limits{}, events); !err.empty()) return err;
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

}  // namespace omniroute::connectors::social
