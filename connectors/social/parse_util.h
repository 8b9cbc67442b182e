// JSON helpers and the event builder the platforms' parsers share (Meta in meta.cc,
// Telegram in connectors/telegram/parse.cc).
#pragma once

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/utf8.h"
#include "connectors/social/social.h"

namespace omniroute::connectors::social::parse {

using json = nlohmann::json;

// Nesting of a JSON text (outside strings), checked before parsing.
inline bool depth_ok(std::string_view s, int max) {
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

inline std::string str(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return {};
}

inline int64_t num(const json& j, const char* key) {
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

inline const json& member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

inline v1::Channel channel_of(Platform p) {
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

}  // namespace omniroute::connectors::social::parse
