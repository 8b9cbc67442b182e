// The visitor's frames as data: the clock they are stamped with, string members cut to a
// limit, and a "message" frame as an InboundMessage (also `omniroute normalize chat`).
#include <cctype>
#include <chrono>

#include <fmt/format.h>

#include "common/utf8.h"
#include "connectors/chat/session.h"

namespace omniroute::connectors::chat {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A string member of a frame, cut to `max` bytes (at a character boundary); "" otherwise.
std::string string_field(const json& f, const char* key, size_t max) {
  if (!f.contains(key) || !f[key].is_string()) return {};
  return utf8::cut(f[key].get<std::string>(), max);
}

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

}  // namespace omniroute::connectors::chat
