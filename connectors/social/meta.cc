// Meta's webhook bodies (Messenger, Instagram, WhatsApp Cloud API) and Telegram updates
// -> canonical events.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/utf8.h"
#include "connectors/phone/phone.h"
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

// Nesting of a JSON text (outside strings), checked before parsing.
bool depth_ok(std::string_view s, int max) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return {};
}

int64_t num(const json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (...) {
    }
  }
  return 0;
}

const json& member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

v1::Channel channel_of(Platform p) {
  switch (p) {
    case Platform::kMessenger:
      return v1::CHANNEL_MESSENGER;
    case Platform::kInstagram:
      return v1::CHANNEL_INSTAGRAM;
    case Platform::kWhatsApp:
      return v1::CHANNEL_WHATSAPP;
    case Platform::kTelegram:
      return v1::CHANNEL_TELEGRAM;
  }
  return v1::CHANNEL_UNSPECIFIED;
}

struct Ctx {
  Platform platform;
  const Limits& limits;
  std::vector<Event>& out;
  std::string error;
  int skipped = 0;
  std::vector<std::pair<std::string, std::string>> rejected;
  bool fatal = false;  // the whole request is refused (too many events)

  bool room() {
    if (out.size() >= limits.max_events) {
      error = fmt::format("more than {} events in one request", limits.max_events);
      fatal = true;
      return false;
    }
    return true;
  }
  // Runs one event's parser; a failure drops what it added and is kept as a rejection.
  // False only when the whole request must be refused.
  template <typename Fn>
  bool each(const json& ev, Fn fn) {
    const size_t before = out.size();
    if (fn()) return true;
    if (fatal) return false;
    out.resize(before);
    std::string raw = ev.dump(-1, ' ', false, json::error_handler_t::replace);
    rejected.emplace_back(std::move(error), utf8::cut(raw, 64 * 1024));
    error.clear();
    return true;
  }
  bool id_ok(const std::string& id, const char* what) {
    if (id.empty()) {
      error = fmt::format("missing {}", what);
      return false;
    }
    if (id.size() > limits.max_id_bytes) {
      error = fmt::format("{} too long", what);
      return false;
    }
    return true;
  }
  v1::InboundMessage* message(const std::string& account) {
    Event e;
    e.account = account;
    e.envelope.mutable_message()->set_channel(channel_of(platform));
    out.push_back(std::move(e));
    return out.back().envelope.mutable_message();
  }
  bool text_ok(const std::string& t) {
    if (t.size() > limits.max_text_bytes) {
      error = fmt::format("text exceeds {} bytes", limits.max_text_bytes);
      return false;
    }
    return true;
  }
  void status(const std::string& account, const std::string& handle, const std::string& pid,
              v1::DeliveryStatus::State st, std::string detail, int64_t at_ms) {
    Event e;
    e.account = account;
    auto* s = e.envelope.mutable_delivery_status();
    s->set_channel(channel_of(platform));
    s->set_provider_message_id(pid);
    s->set_state(st);
    s->set_detail(std::move(detail));
    s->set_at_ms(at_ms);
    (void)handle;
    out.push_back(std::move(e));
  }
  void signal(const std::string& account, const std::string& handle, v1::Signal::Kind kind,
              const std::string& ref, int64_t at_ms) {
    Event e;
    e.account = account;
    auto* s = e.envelope.mutable_signal();
    s->set_channel(channel_of(platform));
    s->set_customer_handle(handle);
    s->set_kind(kind);
    s->set_ref_id(ref);
    s->set_at_ms(at_ms);
    out.push_back(std::move(e));
  }
};

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

std::string parse_telegram(std::string_view body, std::string_view bot_id, const Limits& limits,
                           std::vector<Event>& out) {
  if (!depth_ok(body, limits.max_depth)) return "JSON nested too deeply";
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "body is not a JSON object";
  if (!member(j, "update_id").is_number_integer()) return "missing update_id";
  Ctx c{Platform::kTelegram, limits, out, {}};
  const std::string account(bot_id);
  auto handle_of = [&](const json& chat) { return account + "/" + str(chat, "id"); };
  if (const json& cb = member(j, "callback_query"); cb.is_object()) {
    const json& chat = member(member(cb, "message"), "chat");
    const std::string id = str(cb, "id");
    if (!c.id_ok(id, "callback_query.id") || !c.id_ok(str(chat, "id"), "message.chat.id"))
      return c.error;
    const std::string data = str(cb, "data");
    auto* msg = c.message(account);
    msg->set_external_message_id("callback:" + id);
    msg->set_customer_handle(handle_of(chat));
    msg->set_text_body(data.empty() ? "(button)" : utf8::cut(data, 1000));
    (*msg->mutable_provider_metadata())["callback_data"] = utf8::cut(data, 1000);
    msg->set_language(utf8::cut(str(member(cb, "from"), "language_code"), 35));
    return {};
  }
  const json* m = &member(j, "message");
  bool edited = false;
  if (!m->is_object()) {
    m = &member(j, "edited_message");
    edited = m->is_object();
  }
  if (!m->is_object()) return {};  // member updates, polls, ...: nothing for an agent
  const json& chat = member(*m, "chat");
  const std::string chat_id = str(chat, "id"), mid = str(*m, "message_id");
  if (!c.id_ok(chat_id, "message.chat.id") || !c.id_ok(mid, "message.message_id")) return c.error;
  const json& from = member(*m, "from");
  std::string text = str(*m, "text");
  if (text.empty()) text = str(*m, "caption");
  if (!c.text_ok(text)) return c.error;
  auto* msg = c.message(account);
  msg->set_external_message_id(
      edited ? fmt::format("{}:{}:edit:{}", chat_id, mid, num(*m, "edit_date"))
             : fmt::format("{}:{}", chat_id, mid));
  msg->set_customer_handle(handle_of(chat));
  std::string name = str(from, "first_name");
  if (const std::string last = str(from, "last_name"); !last.empty()) name += " " + last;
  msg->set_customer_display_name(utf8::cut(name, 256));
  msg->set_language(utf8::cut(str(from, "language_code"), 35));
  msg->set_sent_at_ms(num(*m, "date") * 1000);
  msg->set_text_body(text);
  if (const std::string u = str(from, "username"); !u.empty())
    (*msg->mutable_provider_metadata())["username"] = utf8::cut(u, 64);
  if (edited) (*msg->mutable_provider_metadata())["edited"] = "true";
  if (const json& r = member(*m, "reply_to_message"); r.is_object())
    msg->mutable_thread()->set_in_reply_to(fmt::format("{}:{}", chat_id, str(r, "message_id")));
  auto add_file = [&](const json& f, const std::string& type, const std::string& mime) {
    auto* at = msg->add_attachments();
    at->set_url("telegram:file/" + utf8::cut(str(f, "file_id"), 256));
    at->set_size_bytes(static_cast<uint64_t>(std::max<int64_t>(0, num(f, "file_size"))));
    const std::string fname = str(f, "file_name");
    at->set_name(fname.empty() ? type : utf8::cut(fname, 256));
    const std::string ct = str(f, "mime_type");
    at->set_content_type(ct.empty() ? mime : utf8::cut(ct, 128));
  };
  if (const json& photos = member(*m, "photo"); photos.is_array() && !photos.empty())
    add_file(photos.back(), "photo", "image/jpeg");  // the largest size
  for (const char* kind : {"document", "video", "audio", "voice", "sticker"})
    if (const json& f = member(*m, kind); f.is_object())
      add_file(f, kind, "application/octet-stream");
  if (const json& l = member(*m, "location"); l.is_object() && msg->text_body().empty())
    msg->set_text_body(
        fmt::format("Location: {} {}", l.value("latitude", 0.0), l.value("longitude", 0.0)));
  if (msg->text_body().empty() && msg->attachments_size() == 0)
    msg->set_text_body("(unsupported message)");
  return {};
}

}  // namespace omniroute::connectors::social
