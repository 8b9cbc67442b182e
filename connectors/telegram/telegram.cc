// The Telegram connector: webhook updates in (X-Telegram-Bot-Api-Secret-Token, one URL
// per inbox), the Bot API out (sendMessage in parts of 4,096 characters, photos and
// documents by URL). Provider message ids and state are the platforms' shared ones
// (connectors/social/platform.h).
#include "connectors/telegram/telegram.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "connectors/http/client.h"
#include "connectors/http/listener.h"
#include "connectors/http/signature.h"
#include "connectors/sdk/survey.h"
#include "connectors/social/platform.h"

namespace omniroute::connectors::telegram {

namespace {

using json = nlohmann::json;
using social::Event;
using social::Limits;
using social::Platform;

class TelegramConnector : public social::PlatformConnector {
 public:
  explicit TelegramConnector(const sdk::Settings& s) : PlatformConnector(Platform::kTelegram, s) {}
  ~TelegramConnector() override { stop(); }

  std::vector<std::string> paths() const override { return {prefix_ + "{workspace}/{inbox}"}; }

  sdk::DeliveryResult deliver(const v1::OutboundMessage& m, const sdk::InboxInfo& inbox) override;

 private:
  std::string account_of(const sdk::InboxInfo& inbox) const override {
    const std::string token = inbox.settings.str("bot_token");
    return token.substr(0, token.find(':'));  // the bot id
  }

  void handle(http::Request req, http::Respond respond) override {
    const auto seg = http::path_segments(req.path, prefix_);
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
    if (auto err = parse(req.body, bot.substr(0, bot.find(':')), limits_, events); !err.empty()) {
      host().logger()->info("telegram {}/{}: update rejected: {}", seg[0], seg[1], err);
      respond(http::Response::error(400, err));
      return;
    }
    // A button press (callback_query) spins in the customer's app until it is answered:
    // once it is durable, the webhook's answer is the answerCallbackQuery call (Telegram
    // takes a method call as the reply to an update).
    std::string pressed;
    for (const auto& e : events)
      if (e.envelope.has_message() &&
          e.envelope.message().external_message_id().rfind("callback:", 0) == 0)
        pressed = e.envelope.message().external_message_id().substr(9);
    if (!pressed.empty())
      respond = [inner = std::move(respond), pressed](http::Response r) {
        if (r.status == 200)
          r = http::Response::json(
              200, json{{"method", "answerCallbackQuery"}, {"callback_query_id", pressed}}.dump());
        inner(std::move(r));
      };
    publish_all(std::move(events), inbox, std::move(respond));
  }
};

sdk::DeliveryResult TelegramConnector::deliver(const v1::OutboundMessage& m,
                                               const sdk::InboxInfo& inbox) {
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
  if (m.has_survey()) {
    // One inline keyboard row of ratings. callback_data holds at most 64 bytes: a survey
    // id too long for it (a very long workspace id) fails with the reason.
    json row = json::array();
    for (uint32_t n = 1; n <= m.survey().scale(); ++n) {
      const std::string data = sdk::survey_payload(m.survey(), n);
      if (data.size() > 64) return sdk::DeliveryResult::failed("survey id too long for Telegram");
      row.push_back(
          {{"text", sdk::rating_caption(n, m.survey().scale())}, {"callback_data", data}});
    }
    auto r = call("sendMessage",
                  {{"chat_id", chat},
                   {"text", utf8::cut(m.survey().question(), 4096)},
                   {"reply_markup", {{"inline_keyboard", json::array({row})}}}},
                  &id);
    if (r.code == sdk::DeliveryResult::Code::kDelivered) remember(id, m);
    return r;
  }
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

}  // namespace

sdk::ConnectorFactory factory() {
  using T = sdk::ConfigField::Type;
  sdk::ConnectorFactory f;
  f.name = "telegram";
  f.channel = v1::CHANNEL_TELEGRAM;
  f.description = "Telegram Bot API: webhook updates in, sendMessage out";
  f.settings = social::platform_settings(Platform::kTelegram);
  f.settings.push_back({"bot_api_base_url", T::kString, "Bot API", "https://api.telegram.org"});
  f.inbox_settings = {
      {"bot_token", T::kSecret, "The bot's token from @BotFather (<bot id>:<secret>)", "", true},
      {"secret_token", T::kSecret,
       "Secret given to setWebhook; Telegram sends it in X-Telegram-Bot-Api-Secret-Token", "",
       true}};
  f.create = [](const sdk::Settings& s) -> std::unique_ptr<sdk::Connector> {
    return std::make_unique<TelegramConnector>(s);
  };
  f.normalize = [](std::string_view payload, v1::InboundMessage& out) -> std::string {
    std::vector<Event> events;
    if (std::string err = parse(payload, "bot", Limits{}, events); !err.empty()) return err;
    for (auto& e : events)
      if (e.envelope.has_message()) {
        out = e.envelope.message();
        return {};
      }
    return "no customer message in this update";
  };
  return f;
}

}  // namespace omniroute::connectors::telegram
