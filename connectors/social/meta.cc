// Meta's webhook bodies (Messenger, Instagram, WhatsApp Cloud API) -> canonical events.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/utf8.h"
#include "connectors/phone/phone.h"
#include "connectors/social/parse_util.h"
#include "connectors/social/social.h"

namespace omniroute::connectors::social {

using json = nlohmann::json;

const char* platform_name(Platform p) {
  switch (p) {
    case Platform::kMessenger:
      return "messenger";
    case Platform::kInstagram:
      return "instagram";
    case Platform::kWhatsApp:
      return "whatsapp";
    case Platform::kTelegram:
      return "telegram";
  }
  return "?";
}

std::string meta_signature(std::string_view app_secret, std::string_view body) {
  return "sha256=" + crypto::hmac_sha256_hex(app_secret, body);
}

namespace {

using namespace parse;  // NOLINT: the shared JSON helpers and Ctx

// Messenger and Instagram share the "messaging" event format.
bool messaging_event(Ctx& c, const std::string& account, const json& ev) {
  const std::string sender = str(member(ev, "sender"), "id");
  if (!c.id_ok(sender, "sender.id")) return false;
  const std::string handle = account + "/" + sender;
  const int64_t ts = num(ev, "timestamp");
  if (const json& m = member(ev, "message"); m.is_object()) {
    // Ours (echo), unsent by the customer (Instagram), or a kind the platform cannot show
    // us: nothing for an agent.
    for (const char* flag : {"is_echo", "is_deleted", "is_unsupported"}) {
      if (member(m, flag).is_boolean() && m[flag].get<bool>()) {
        ++c.skipped;
        return true;
      }
    }
    if (!c.room()) return false;
    const std::string mid = str(m, "mid");
    if (!c.id_ok(mid, "message.mid")) return false;
    const std::string text = str(m, "text");
    if (!c.text_ok(text)) return false;
    auto* msg = c.message(account);
    msg->set_external_message_id(mid);
    msg->set_customer_handle(handle);
    msg->set_text_body(text);
    msg->set_sent_at_ms(ts);
    if (const std::string qr = str(member(m, "quick_reply"), "payload"); !qr.empty())
      (*msg->mutable_provider_metadata())["quick_reply_payload"] = utf8::cut(qr, 1000);
    if (const std::string rt = str(member(m, "reply_to"), "mid"); !rt.empty())
      msg->mutable_thread()->set_in_reply_to(utf8::cut(rt, c.limits.max_id_bytes));
    const json& atts = member(m, "attachments");
    if (atts.is_array()) {
      if (static_cast<int>(atts.size()) > c.limits.max_attachments) {
        c.error = fmt::format("more than {} attachments", c.limits.max_attachments);
        return false;
      }
      for (const auto& a : atts) {
        const std::string type = str(a, "type");
        auto* at = msg->add_attachments();
        const std::string url = str(member(a, "payload"), "url");
        at->set_url(utf8::cut(url, 4096));
        at->set_name(type);
        at->set_content_type(type == "image"   ? "image/*"
                             : type == "video" ? "video/*"
                             : type == "audio" ? "audio/*"
                                               : "application/octet-stream");
      }
    }
    if (msg->text_body().empty() && msg->attachments_size() == 0) {
      c.error = "message without text or attachments";
      return false;
    }
    return true;
  }
  if (const json& pb = member(ev, "postback"); pb.is_object()) {
    if (!c.room()) return false;
    const std::string title = str(pb, "title"), payload = str(pb, "payload");
    std::string mid = str(pb, "mid");
    if (mid.empty()) mid = fmt::format("postback:{}:{}", sender, ts);
    if (!c.id_ok(mid, "postback.mid") || !c.text_ok(title)) return false;
    auto* msg = c.message(account);
    msg->set_external_message_id(mid);
    msg->set_customer_handle(handle);
    msg->set_text_body(title.empty() ? utf8::cut(payload, 1000) : title);
    msg->set_sent_at_ms(ts);
    (*msg->mutable_provider_metadata())["postback_payload"] = utf8::cut(payload, 1000);
    if (msg->text_body().empty()) msg->set_text_body("(postback)");
    return true;
  }
  if (const json& d = member(ev, "delivery"); d.is_object()) {
    const json& mids = member(d, "mids");
    if (mids.is_array()) {
      for (const auto& mid : mids) {
        if (!mid.is_string() || !c.room()) return mid.is_string() ? false : true;
        c.status(account, handle, utf8::cut(mid.get<std::string>(), c.limits.max_id_bytes),
                 v1::DeliveryStatus::STATE_DELIVERED, "delivered", num(d, "watermark"));
      }
    }
    return true;
  }
  if (const json& r = member(ev, "read"); r.is_object()) {
    if (!c.room()) return false;
    c.signal(account, handle, v1::Signal::KIND_READ, std::to_string(num(r, "watermark")), ts);
    return true;
  }
  ++c.skipped;  // reactions, referrals, optins...: nothing for an agent
  return true;
}

bool whatsapp_message(Ctx& c, const std::string& account, std::map<std::string, std::string>& names,
                      const json& m);
bool whatsapp_status(Ctx& c, const std::string& account, const json& s);

bool whatsapp_value(Ctx& c, const json& value) {
  const std::string account = str(member(value, "metadata"), "phone_number_id");
  if (!c.id_ok(account, "metadata.phone_number_id")) return false;
  std::map<std::string, std::string> names;
  if (const json& contacts = member(value, "contacts"); contacts.is_array())
    for (const auto& ct : contacts)
      names[str(ct, "wa_id")] = utf8::cut(str(member(ct, "profile"), "name"), 256);
  if (const json& msgs = member(value, "messages"); msgs.is_array()) {
    for (const auto& m : msgs) {
      if (!c.each(m, [&] { return whatsapp_message(c, account, names, m); })) return false;
    }
  }
  if (const json& sts = member(value, "statuses"); sts.is_array()) {
    for (const auto& st : sts) {
      if (!c.each(st, [&] { return whatsapp_status(c, account, st); })) return false;
    }
  }
  return true;
}

bool whatsapp_message(Ctx& c, const std::string& account, std::map<std::string, std::string>& names,
                      const json& m) {
  {
    {
      if (!c.room()) return false;
      const std::string from = str(m, "from"), id = str(m, "id"), type = str(m, "type");
      if (!c.id_ok(from, "messages[].from") || !c.id_ok(id, "messages[].id")) return false;
      std::string why;
      const phone::Handle handle = phone::to_handle("+" + from, "", &why);
      if (handle.value.empty()) {
        c.error = "messages[].from: " + why;
        return false;
      }
      const std::string& e164 = handle.value;
      auto* msg = c.message(account);
      msg->set_handle_unverified(!handle.verified);
      msg->set_external_message_id(id);
      msg->set_customer_handle(e164);
      msg->set_customer_display_name(names[from]);
      msg->set_sent_at_ms(num(m, "timestamp") * 1000);
      (*msg->mutable_provider_metadata())["type"] = utf8::cut(type, 64);
      if (const std::string ctx = str(member(m, "context"), "id"); !ctx.empty())
        msg->mutable_thread()->set_in_reply_to(utf8::cut(ctx, c.limits.max_id_bytes));
      std::string text;
      if (type == "text") {
        text = str(member(m, "text"), "body");
      } else if (type == "interactive") {
        const json& in = member(m, "interactive");
        const json& rep = member(in, str(in, "type").c_str());
        text = str(rep, "title");
        (*msg->mutable_provider_metadata())["reply_id"] = utf8::cut(str(rep, "id"), 256);
      } else if (type == "button") {
        text = str(member(m, "button"), "text");
        (*msg->mutable_provider_metadata())["button_payload"] =
            utf8::cut(str(member(m, "button"), "payload"), 1000);
      } else if (type == "image" || type == "video" || type == "audio" || type == "document" ||
                 type == "sticker") {
        const json& media = member(m, type.c_str());
        text = str(media, "caption");
        auto* at = msg->add_attachments();
        at->set_url("whatsapp:media/" + utf8::cut(str(media, "id"), 256));
        at->set_content_type(utf8::cut(str(media, "mime_type"), 128));
        std::string name = str(media, "filename");
        at->set_name(name.empty() ? type : utf8::cut(name, 256));
      } else if (type == "location") {
        const json& l = member(m, "location");
        text = fmt::format("Location: {} {}", l.value("latitude", 0.0), l.value("longitude", 0.0));
        if (const std::string n = str(l, "name"); !n.empty())
          text += " (" + utf8::cut(n, 256) + ")";
      } else {
        text = fmt::format("({} message)", utf8::cut(type, 64));
      }
      if (!c.text_ok(text)) return false;
      msg->set_text_body(text);
      if (msg->text_body().empty() && msg->attachments_size() == 0) msg->set_text_body("(empty)");
    }
  }
  return true;
}

bool whatsapp_status(Ctx& c, const std::string& account, const json& s) {
  {
    {
      if (!c.room()) return false;
      const std::string id = str(s, "id"), status = str(s, "status");
      if (!c.id_ok(id, "statuses[].id")) return false;
      v1::DeliveryStatus::State st = v1::DeliveryStatus::STATE_UNSPECIFIED;
      if (status == "sent") st = v1::DeliveryStatus::STATE_SENT;
      if (status == "delivered") st = v1::DeliveryStatus::STATE_DELIVERED;
      if (status == "read") st = v1::DeliveryStatus::STATE_READ;
      if (status == "failed") st = v1::DeliveryStatus::STATE_FAILED;
      if (st == v1::DeliveryStatus::STATE_UNSPECIFIED) return true;
      std::string detail = "WhatsApp: " + status;
      if (const json& errs = member(s, "errors"); errs.is_array() && !errs.empty())
        detail += fmt::format(" (error {}: {})", num(errs[0], "code"),
                              utf8::cut(str(errs[0], "title"), 200));
      c.status(account, str(s, "recipient_id"), id, st, detail, num(s, "timestamp") * 1000);
    }
  }
  return true;
}

}  // namespace

std::string parse_meta(std::string_view body, Platform platform, const Limits& limits,
                       std::vector<Event>& out, ParseReport* report) {
  if (!depth_ok(body, limits.max_depth)) return "JSON nested too deeply";
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "body is not a JSON object";
  const std::string object = str(j, "object");
  const char* expected = platform == Platform::kMessenger   ? "page"
                         : platform == Platform::kInstagram ? "instagram"
                                                            : "whatsapp_business_account";
  if (object != expected)
    return fmt::format("object is \"{}\", this endpoint takes \"{}\"", utf8::cut(object, 64),
                       expected);
  const json& entries = member(j, "entry");
  if (!entries.is_array()) return "missing entry[]";
  Ctx c{platform, limits, out, {}};
  for (const auto& entry : entries) {
    if (platform == Platform::kWhatsApp) {
      const json& changes = member(entry, "changes");
      if (!changes.is_array()) continue;
      for (const auto& ch : changes) {
        if (str(ch, "field") != "messages") continue;
        if (!c.each(ch, [&] { return whatsapp_value(c, member(ch, "value")); })) return c.error;
      }
      continue;
    }
    const std::string account = str(entry, "id");
    const json& events = member(entry, "messaging");
    if (!events.is_array()) continue;  // "changes" (feed, comments): not messages
    if (!c.each(entry, [&] { return c.id_ok(account, "entry[].id"); })) return c.error;
    if (account.empty() || account.size() > limits.max_id_bytes) continue;
    for (const auto& ev : events)
      if (!c.each(ev, [&] { return messaging_event(c, account, ev); })) return c.error;
  }
  if (report) {
    report->skipped += c.skipped;
    for (auto& r : c.rejected) report->rejected.push_back(std::move(r));
  }
  return {};
}

}  // namespace omniroute::connectors::social
