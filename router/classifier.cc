#include "router/classifier.h"

#include <algorithm>
#include <cctype>

#include <cld2/public/compact_lang_det.h>
#include <fmt/format.h>
#include <re2/re2.h>

namespace omniroute::router {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Cuts at a UTF-8 character boundary at or before `n` bytes.
std::string_view utf8_prefix(std::string_view s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

bool rule_matches(const config::Rule& r, const config::Inbox& inbox, const std::string& language,
                  const v1::InboundMessage& m, const std::string& text_lower,
                  const std::map<std::string, std::string>& attrs) {
  if (!r.channels.empty() && !r.channels.count(inbox.channel)) return false;
  if (!r.inboxes.empty() && !r.inboxes.count(inbox.id)) return false;
  if (!r.languages.empty() && !r.languages.count(language)) return false;
  for (const auto& [k, v] : r.customer) {
    auto it = attrs.find(k);
    if (it == attrs.end() || lower(it->second) != lower(v)) return false;
  }
  if (!r.keywords.empty() &&
      std::none_of(r.keywords.begin(), r.keywords.end(),
                   [&](const std::string& k) { return text_lower.find(k) != std::string::npos; })) {
    return false;
  }
  if (r.regex) {
    const std::string hay = m.subject() + "\n" + m.text_body();
    if (!RE2::PartialMatch(hay, *r.regex)) return false;
  }
  return true;
}

}  // namespace

std::string detect_language(std::string_view text, size_t max_bytes) {
  const std::string_view t = utf8_prefix(text, max_bytes);
  if (t.size() < 8) return {};
  bool reliable = false;
  int valid_prefix = 0;
  const CLD2::Language lang = CLD2::DetectLanguageCheckUTF8(t.data(), static_cast<int>(t.size()),
                                                            true, &reliable, &valid_prefix);
  if (!reliable || lang == CLD2::UNKNOWN_LANGUAGE) return {};
  return config::primary_language(CLD2::LanguageCode(lang));
}

Classification classify(const config::Workspace& ws, const config::Inbox& inbox,
                        const v1::InboundMessage& m, const std::string& customer_language,
                        const std::map<std::string, std::string>& customer_attributes) {
  Classification c;
  if (!m.language().empty()) {
    c.language = config::primary_language(m.language());
    c.language_source = "message";
  } else if (!customer_language.empty()) {
    c.language = customer_language;
    c.language_source = "customer";
  } else if (auto d = detect_language(m.subject().empty() ? m.text_body()
                                                          : m.subject() + "\n" + m.text_body());
             !d.empty()) {
    c.language = d;
    c.language_source = "detected";
  } else {
    c.language = ws.default_language;
    c.language_source = "workspace";
  }
  // Rules look at the message's own attributes first, then what the customer's profile has.
  std::map<std::string, std::string> attrs = customer_attributes;
  for (const auto& [k, v] : m.customer_attributes()) attrs[k] = v;
  const bool need_text = std::any_of(ws.rules.begin(), ws.rules.end(),
                                     [](const config::Rule& r) { return !r.keywords.empty(); });
  const std::string text_lower = need_text ? lower(m.subject() + "\n" + m.text_body()) : "";
  const config::Rule* hit = nullptr;
  for (const auto& r : ws.rules) {
    if (rule_matches(r, inbox, c.language, m, text_lower, attrs)) {
      hit = &r;
      break;
    }
  }
  c.queue = hit && !hit->queue.empty() ? hit->queue : inbox.queue;
  const config::Queue* q = ws.queue(c.queue);
  c.priority = hit && hit->priority >= 0 ? hit->priority : (q ? q->priority : 0);
  c.skills = hit && !hit->skills.empty() ? hit->skills : (q ? q->skills : config::Skills{});
  c.rule = hit ? hit->name : "";
  c.reason =
      fmt::format("language {} ({}); {}; queue {}, priority {}", c.language, c.language_source,
                  hit ? "rule '" + hit->name + "'" : "no rule matched", c.queue, c.priority);
  return c;
}

}  // namespace omniroute::router
