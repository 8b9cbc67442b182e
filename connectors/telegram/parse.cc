// A Telegram Update -> canonical events.
#include <fmt/format.h>

#include "connectors/social/parse_util.h"
#include "connectors/telegram/telegram.h"

namespace omniroute::connectors::telegram {

using namespace social::parse;  // NOLINT: the platforms' shared JSON helpers and Ctx
using social::Event;
using social::Limits;
using social::Platform;

std::string parse(std::string_view body, std::string_view bot_id, const Limits& limits,
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

}  // namespace omniroute::connectors::telegram
