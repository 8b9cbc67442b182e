// The SMS connector at run time: Twilio webhooks in, Twilio's Messages API out, opt-outs
// and message ids kept in the connector's own state.
#include <chrono>
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
#include "connectors/phone/phone.h"
#include "connectors/sdk/survey.h"
#include "connectors/sms/sms.h"
#include "connectors/state/kv.h"
#include "connectors/state/provider_ids.h"

namespace omniroute::connectors::sms {

namespace {

constexpr std::string_view kPrefix = "/v1/sms/";
constexpr int64_t kSidTtlMs = int64_t{14} * 24 * 3600 * 1000;  // status callbacks come within days

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string twiml(std::string_view reply) {
  std::string out = R"(<?xml version="1.0" encoding="UTF-8"?><Response>)";
  if (!reply.empty()) {
    out += "<Message>";
    for (char c : reply) {
      switch (c) {
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '&':
          out += "&amp;";
          break;
        default:
          out += c;
      }
    }
    out += "</Message>";
  }
  return out + "</Response>";
}

http::Response xml(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = "text/xml; charset=utf-8";
  r.body = std::move(body);
  return r;
}

class SmsConnector : public http::HttpConnector {
 public:
  explicit SmsConnector(const sdk::Settings& s) : HttpConnector("sms", s) {
    limits_.max_text_bytes = static_cast<size_t>(s.integer("max_text_bytes"));
    limits_.max_media = static_cast<int>(s.integer("max_media"));
  }
  ~SmsConnector() override { stop(); }

  std::string prepare() override {
    std::string err;
    kv_ = state::Kv::open(settings().str("state_dir"), err);
    if (!kv_) return err;
    sids_ = std::make_unique<state::ProviderIds>(*kv_, "sid/", kSidTtlMs);
    sids_->prune(wall_ms());
    for (const auto& inbox : host().inboxes()) {
      const std::string from = inbox.settings.str("from_number");
      if (!from.empty() && phone::to_e164(from, inbox.settings.str("default_region")) != from)
        return fmt::format("{}/{}.settings.from_number must be E.164 (\"+15551234567\"), got {}",
                           inbox.workspace_id, inbox.inbox_id, from);
      if (from.empty() && inbox.settings.str("messaging_service_sid").empty())
        return fmt::format("{}/{} needs from_number or messaging_service_sid", inbox.workspace_id,
                           inbox.inbox_id);
    }
    return {};
  }

  std::vector<http::Route> routes() override {
    http::Route route;
    route.prefix = std::string(kPrefix);
    route.max_body_bytes = static_cast<size_t>(settings().integer("max_body_bytes"));
    route.handler = [this](http::Request req, http::Respond respond) {
      handle(std::move(req), std::move(respond));
    };
    return {std::move(route)};
  }

  std::vector<std::string> paths() const override {
    return {"/v1/sms/{workspace}/{inbox}/messages", "/v1/sms/{workspace}/{inbox}/status"};
  }

  sdk::DeliveryResult deliver(const v1::OutboundMessage& m, const sdk::InboxInfo& inbox) override {
    const auto& s = inbox.settings;
    const std::string& to = m.customer_handle();
    if (std::string why = opted_out(inbox, to); !why.empty())
      return sdk::DeliveryResult::failed(why);
    std::string text = m.has_survey() ? sdk::survey_text(m.survey()) : m.text_body();
    if (text.empty() && m.attachments_size() == 0)
      return sdk::DeliveryResult::failed("empty reply: SMS needs text or media");
    const Segments seg = segments_of(text);
    const int max_segments = static_cast<int>(s.integer("max_segments"));
    if (seg.count > max_segments)
      return sdk::DeliveryResult::failed(fmt::format(
          "reply is {} SMS segments ({}, {} {}); this inbox sends at most {}: shorten it",
          seg.count, seg.gsm7 ? "GSM-7" : "UCS-2 because of its characters", seg.units,
          seg.gsm7 ? "septets" : "UTF-16 units", max_segments));
    std::vector<std::pair<std::string, std::string>> form;
    form.emplace_back("To", to);
    if (!s.str("messaging_service_sid").empty())
      form.emplace_back("MessagingServiceSid", s.str("messaging_service_sid"));
    else
      form.emplace_back("From", s.str("from_number"));
    if (!text.empty()) form.emplace_back("Body", text);
    int media = 0;
    for (const auto& a : m.attachments()) {
      if (a.url().rfind("https://", 0) != 0 && a.url().rfind("http://", 0) != 0) continue;
      if (++media > limits_.max_media) break;
      form.emplace_back("MediaUrl", a.url());
    }
    if (const std::string base = public_url(inbox); !base.empty())
      form.emplace_back("StatusCallback", fmt::format("{}/v1/sms/{}/{}/status", base,
                                                      inbox.workspace_id, inbox.inbox_id));
    http::ClientRequest req;
    req.url = fmt::format("{}/2010-04-01/Accounts/{}/Messages.json", settings().str("api_base_url"),
                          http::url_encode(s.str("account_sid")));
    req.basic_user = s.str("account_sid");
    req.basic_password = s.str("auth_token");
    req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    for (const auto& [k, v] : form) {
      if (!req.body.empty()) req.body += '&';
      req.body += http::url_encode(k) + "=" + http::url_encode(v);
    }
    req.timeout_ms = static_cast<long>(settings().integer("delivery_timeout_ms"));
    const auto res = http::send(req);
    auto json = nlohmann::json::parse(res.body, nullptr, false);
    if (res.error.empty() && res.status >= 200 && res.status < 300) {
      std::string sid = json.is_object() ? json.value("sid", "") : "";
      if (auto err = sids_->remember(sid, m.outbound_id(), m.conversation_id(), wall_ms());
          !err.empty())
        host().logger()->warn("sms: message {} sent; its status callbacks will not be matched: {}",
                              m.outbound_id(), err);
      // A survey waits for a digit reply; anything else an agent sends ends the wait, so
      // "2" in answer to the agent's own question is never taken for a rating.
      if (m.has_survey())
        remember_survey(inbox, to, m.survey());
      else if (!m.automatic())
        (void)kv_->del(survey_key(inbox, to));
      auto r = sdk::DeliveryResult::delivered(sid);
      r.detail = fmt::format("{} segment{} ({})", seg.count, seg.count == 1 ? "" : "s",
                             seg.gsm7 ? "GSM-7" : "UCS-2");
      return r;
    }
    if (res.error.empty() && res.status >= 400 && res.status < 500 && res.status != 408 &&
        res.status != 429 && json.is_object()) {
      const int code = json.value("code", 0);
      if (code == 21610) record_opt_out(inbox, to, "the provider (error 21610)");
      return sdk::DeliveryResult::failed(
          fmt::format("Twilio error {}: {}", code, json.value("message", std::string("rejected"))));
    }
    return http::classify(res, "Twilio");
  }

 private:
  std::string public_url(const sdk::InboxInfo& inbox) const {
    std::string u = inbox.settings.str("public_url");
    if (u.empty()) u = settings().str("public_url");
    while (!u.empty() && u.back() == '/') u.pop_back();
    return u;
  }

  static std::string opt_key(const sdk::InboxInfo& inbox, std::string_view number) {
    return fmt::format("optout/{}/{}/{}", inbox.workspace_id, inbox.inbox_id, number);
  }

  // Why nothing may be sent to `number`, or "".
  std::string opted_out(const sdk::InboxInfo& inbox, const std::string& number) const {
    std::string v;
    if (!kv_->get(opt_key(inbox, number), &v)) return {};
    auto j = nlohmann::json::parse(v, nullptr, false);
    const int64_t at = j.is_object() ? j.value("at_ms", int64_t{0}) : 0;
    const std::string by = j.is_object() ? j.value("by", std::string("STOP")) : "STOP";
    const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(at));
    return fmt::format(
        "{} opted out of SMS from this number ({} on {:%Y-%m-%d %H:%M} UTC): nothing is sent "
        "until they text START",
        number, by, fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
  }

  void record_opt_out(const sdk::InboxInfo& inbox, const std::string& number, std::string by) {
    if (auto err = kv_->put(opt_key(inbox, number),
                            nlohmann::json{{"at_ms", wall_ms()}, {"by", by}}.dump());
        !err.empty())
      host().logger()->error("sms {}/{}: opt-out not recorded: {}", inbox.workspace_id,
                             inbox.inbox_id, err);
  }

  static std::string survey_key(const sdk::InboxInfo& inbox, std::string_view number) {
    return fmt::format("survey/{}/{}/{}", inbox.workspace_id, inbox.inbox_id, number);
  }
  void remember_survey(const sdk::InboxInfo& inbox, const std::string& number,
                       const v1::Survey& sv) {
    const nlohmann::json j = {
        {"id", sv.survey_id()}, {"scale", sv.scale()}, {"expires_ms", sv.expires_at_ms()}};
    if (auto err = kv_->put(survey_key(inbox, number), j.dump()); !err.empty())
      host().logger()->warn("sms {}/{}: survey {} sent; a digit reply will not count: {}",
                            inbox.workspace_id, inbox.inbox_id, sv.survey_id(), err);
  }
  // A digit reply to the survey this number has open: `env` becomes the answer.
  bool survey_answer(const sdk::InboxInfo& inbox, v1::Envelope& env) {
    const v1::InboundMessage& m = env.message();
    std::string v;
    if (!kv_->get(survey_key(inbox, m.customer_handle()), &v)) return false;
    const auto j = nlohmann::json::parse(v, nullptr, false);
    if (!j.is_object() || j.value("expires_ms", int64_t{0}) < wall_ms()) return false;
    uint32_t rating = 0;
    std::string comment;
    if (!sdk::parse_digit_reply(m.text_body(), j.value("scale", 5u), &rating, &comment))
      return false;
    v1::Envelope answer;
    auto* a = answer.mutable_csat();
    a->set_workspace_id(m.workspace_id());
    a->set_inbox_id(m.inbox_id());
    a->set_channel(v1::CHANNEL_SMS);
    a->set_customer_handle(m.customer_handle());
    a->set_survey_id(j.value("id", std::string()));
    a->set_rating(rating);
    a->set_comment(comment);
    a->set_external_id(m.external_message_id());
    env = std::move(answer);
    return true;
  }

  void handle(http::Request req, http::Respond respond) {
    const auto seg = http::path_segments(req.path, kPrefix);
    if (seg.size() != 3 || (seg[2] != "messages" && seg[2] != "status")) {
      respond(http::Response::error(
          404, "unknown path; POST /v1/sms/{workspace}/{inbox}/messages or .../status"));
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
    if (req.header("content-type").rfind("application/x-www-form-urlencoded", 0) != 0) {
      respond(http::Response::error(415, "expected application/x-www-form-urlencoded"));
      return;
    }
    const Params params = http::parse_form(req.body);
    if (params.size() > limits_.max_params) {
      respond(http::Response::error(400, "too many parameters"));
      return;
    }
    std::string base = public_url(*inbox);
    if (base.empty()) base = "http://" + req.header("host");
    auto valid = [&](const std::string& sig) {
      bool ok = false;
      for (const auto& url : twilio_url_variants(base + req.target))
        ok = ok || crypto::constant_time_equal(
                       twilio_signature(inbox->settings.str("auth_token"), url, params), sig);
      return ok;
    };
    if (auto refused = http::check_signed_by(req, "X-Twilio-Signature", valid, host().logger(),
                                             fmt::format("sms {}/{}", seg[0], seg[1]))) {
      respond(std::move(*refused));
      return;
    }
    std::string account;
    for (const auto& [k, v] : params)
      if (k == "AccountSid") account = v;
    if (account != inbox->settings.str("account_sid")) {
      respond(http::Response::error(403, "AccountSid is not this inbox's account"));
      return;
    }
    if (seg[2] == "messages")
      inbound(*inbox, params, std::move(respond));
    else
      status(*inbox, params, std::move(respond));
  }

  void inbound(const sdk::InboxInfo& inbox, const Params& params, http::Respond respond) {
    v1::Envelope env;
    auto* m = env.mutable_message();
    const auto& s = inbox.settings;
    if (auto err = parse_inbound(params, s.str("default_region"), limits_, *m); !err.empty()) {
      host().logger()->info("sms {}/{}: request rejected: {}", inbox.workspace_id, inbox.inbox_id,
                            err);
      respond(http::Response::error(400, err));
      return;
    }
    if (const std::string own = s.str("from_number"); !own.empty()) {
      std::string to;
      for (const auto& [k, v] : params)
        if (k == "To") to = phone::to_e164(v, s.str("default_region"));
      if (to != own) {
        respond(http::Response::error(400, "To is not this inbox's number"));
        return;
      }
    }
    m->set_workspace_id(inbox.workspace_id);
    m->set_inbox_id(inbox.inbox_id);
    const Keyword kw = keyword_of(m->text_body());
    std::string reply;
    switch (kw) {
      case Keyword::kStop:
        record_opt_out(inbox, m->customer_handle(), "STOP");
        reply = s.str("stop_reply");
        break;
      case Keyword::kStart:
        if (auto err = kv_->del(opt_key(inbox, m->customer_handle())); !err.empty())
          host().logger()->error("sms {}/{}: START not recorded: {}", inbox.workspace_id,
                                 inbox.inbox_id, err);
        reply = s.str("start_reply");
        break;
      case Keyword::kHelp:
        reply = s.str("help_reply");
        break;
      case Keyword::kNone:
        break;
    }
    if (kw != Keyword::kNone) {
      (*m->mutable_provider_metadata())["sms_keyword"] = keyword_name(kw);
      host().logger()->info("sms {}/{}: {} from a customer honoured", inbox.workspace_id,
                            inbox.inbox_id, keyword_name(kw));
    }
    if (kw == Keyword::kNone && survey_answer(inbox, env)) {
      const std::string key = survey_key(inbox, env.csat().customer_handle());
      publish_and_answer(std::move(env), std::move(respond),
                         [this, key](const sdk::PublishResult& r) {
                           if (r.ok())
                             (void)kv_->del(key);  // answered: a later digit is a message again
                           return xml(200, twiml(""));
                         });
      return;
    }
    publish_and_answer(std::move(env), std::move(respond),
                       [reply](const sdk::PublishResult&) { return xml(200, twiml(reply)); });
  }

  void status(const sdk::InboxInfo& inbox, const Params& params, http::Respond respond) {
    std::string sid, state, error_code, error_message;
    for (const auto& [k, v] : params) {
      if (k == "MessageSid" || (k == "SmsSid" && sid.empty())) sid = v;
      if (k == "MessageStatus" || (k == "SmsStatus" && state.empty())) state = v;
      if (k == "ErrorCode") error_code = v;
      if (k == "ErrorMessage") error_message = v;
    }
    if (sid.empty() || state.empty()) {
      respond(http::Response::error(400, "missing MessageSid or MessageStatus"));
      return;
    }
    v1::DeliveryStatus::State st = v1::DeliveryStatus::STATE_UNSPECIFIED;
    if (state == "queued" || state == "accepted" || state == "scheduled" || state == "sending" ||
        state == "sent")
      st = v1::DeliveryStatus::STATE_SENT;
    else if (state == "delivered")
      st = v1::DeliveryStatus::STATE_DELIVERED;
    else if (state == "read")
      st = v1::DeliveryStatus::STATE_READ;
    else if (state == "undelivered" || state == "failed" || state == "canceled")
      st = v1::DeliveryStatus::STATE_FAILED;
    if (st == v1::DeliveryStatus::STATE_UNSPECIFIED) {
      respond(xml(200, twiml("")));  // receiving/received: about inbound messages
      return;
    }
    const auto ours = sids_->find(sid);
    if (!ours) {
      host().logger()->info("sms {}/{}: status {} for unknown message {} ignored",
                            inbox.workspace_id, inbox.inbox_id, state, sid);
      respond(xml(200, twiml("")));
      return;
    }
    v1::Envelope env;
    auto* ds = env.mutable_delivery_status();
    ds->set_workspace_id(inbox.workspace_id);
    ds->set_inbox_id(inbox.inbox_id);
    ds->set_channel(v1::CHANNEL_SMS);
    ds->set_outbound_id(ours->outbound_id);
    ds->set_conversation_id(ours->conversation_id);
    ds->set_state(st);
    ds->set_provider_message_id(sid);
    std::string detail = "Twilio: " + utf8::cut(utf8::sanitize(state), 64);
    if (!error_code.empty()) {
      detail += " (error " + utf8::cut(utf8::sanitize(error_code), 16);
      if (!error_message.empty()) detail += ": " + utf8::cut(utf8::sanitize(error_message), 200);
      detail += ")";
    }
    ds->set_detail(detail);
    if (error_code == "21610") {
      std::string to;
      for (const auto& [k, val] : params)
        if (k == "To") to = phone::to_e164(val, inbox.settings.str("default_region"));
      if (!to.empty()) record_opt_out(inbox, to, "the provider (error 21610)");
    }
    publish_and_answer(std::move(env), std::move(respond),
                       [](const sdk::PublishResult&) { return xml(200, twiml("")); });
  }

  Limits limits_;
  std::unique_ptr<state::Kv> kv_;
  std::unique_ptr<state::ProviderIds> sids_;  // Twilio SID -> our outbound message
};

}  // namespace

sdk::ConnectorFactory factory() {
  using T = sdk::ConfigField::Type;
  sdk::ConnectorFactory f;
  f.name = "sms";
  f.channel = v1::CHANNEL_SMS;
  f.handle_kind = v1::Identity::KIND_PHONE;
  f.description = "SMS/MMS through a Twilio-compatible provider: signed webhooks in, REST API out";
  f.settings = http::listener_fields();
  f.settings.insert(
      f.settings.end(),
      {
          {"public_url", T::kString,
           "Scheme://host[:port] the provider calls (behind a proxy); signatures are checked "
           "against it. Empty: the request's Host header over http",
           ""},
          {"max_body_bytes", T::kInt, "Largest webhook body; larger gets 413", "65536", false, 1024,
           16 << 20},
          {"max_text_bytes", T::kInt, "Largest message text", "4096", false, 160, 1 << 20},
          {"max_media", T::kInt, "MMS media per message", "10", false, 0, 100},
          {"state_dir", T::kString, "Opt-outs and message ids (RocksDB)", "var/sms"},
          {"api_base_url", T::kString, "Provider REST API", "https://api.twilio.com"},
          {"delivery_timeout_ms", T::kInt, "Timeout of one API call", "10000", false, 100, 600000},
      });
  f.inbox_settings = {
      {"account_sid", T::kString, "Provider account (AC...)", "", true},
      {"auth_token", T::kSecret, "Provider auth token: signs webhooks, authenticates API calls", "",
       true},
      {"from_number", T::kString, "This inbox's number in E.164; inbound To must match it", ""},
      {"messaging_service_sid", T::kString, "Send through a messaging service instead (MG...)", ""},
      {"default_region", T::kString, "ISO country for numbers without a country code", "US"},
      {"public_url", T::kString, "Overrides the connector's public_url for this inbox", ""},
      {"max_segments", T::kInt, "Longest reply in SMS segments; longer replies fail with a reason",
       "10", false, 1, 100},
      {"stop_reply", T::kString, "Answer to STOP (empty: none; the provider may send its own)", ""},
      {"start_reply", T::kString, "Answer to START", ""},
      {"help_reply", T::kString, "Answer to HELP", ""},
  };
  f.create = [](const sdk::Settings& s) -> std::unique_ptr<sdk::Connector> {
    return std::make_unique<SmsConnector>(s);
  };
  f.normalize = [](std::string_view payload, v1::InboundMessage& out) -> std::string {
    return parse_inbound(http::parse_form(payload), "US", Limits{}, out);
  };
  f.providers = {"twilio"};
  return f;
}

}  // namespace omniroute::connectors::sms
