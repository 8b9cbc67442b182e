#include "connectors/sdk/survey.h"

#include <array>
#include <charconv>

#include <fmt/format.h>

namespace omniroute::sdk {

namespace {
constexpr std::string_view kPrefix = "csat:";
}

std::string survey_payload(const v1::Survey& s, uint32_t rating) {
  return fmt::format("{}{}:{}", kPrefix, s.survey_id(), rating);
}

bool parse_survey_payload(std::string_view payload, std::string* survey_id, uint32_t* rating) {
  if (payload.size() > 300 || payload.substr(0, kPrefix.size()) != kPrefix) return false;
  payload.remove_prefix(kPrefix.size());
  const size_t colon = payload.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 2 != payload.size()) return false;
  const char d = payload[colon + 1];
  if (d < '1' || d > '5') return false;
  *survey_id = std::string(payload.substr(0, colon));
  *rating = static_cast<uint32_t>(d - '0');
  return true;
}

std::string rating_caption(uint32_t rating, uint32_t scale) {
  std::string stars;
  for (uint32_t i = 0; i < rating && i < scale; ++i) stars += "\u2605";
  return fmt::format("{} {}", rating, stars);
}

std::string survey_text(const v1::Survey& s) {
  // How to answer, in the languages the product ships; the question itself is the inbox's.
  static const std::array<std::pair<std::string_view, std::string_view>, 6> kHow = {{
      {"en", "Reply with a number from 1 (bad) to {} (excellent)."},
      {"de", "Antworten Sie mit einer Zahl von 1 (schlecht) bis {} (ausgezeichnet)."},
      {"fr", "Répondez par un chiffre de 1 (mauvais) à {} (excellent)."},
      {"es", "Responda con un número del 1 (malo) al {} (excelente)."},
      {"pt", "Responda com um número de 1 (ruim) a {} (excelente)."},
      {"it", "Rispondi con un numero da 1 (pessimo) a {} (eccellente)."},
  }};
  std::string_view how = kHow[0].second;
  const std::string lang = s.language().substr(0, s.language().find('-'));
  for (const auto& [l, text] : kHow)
    if (l == lang) how = text;
  return s.question() + "\n" + fmt::format(fmt::runtime(how), s.scale());
}

bool as_survey_answer(const v1::InboundMessage& m, v1::Envelope* out) {
  std::string id;
  uint32_t rating = 0;
  bool found = false;
  for (const char* key : {"reply_id", "quick_reply_payload", "callback_data", "button_payload"}) {
    auto it = m.provider_metadata().find(key);
    if (it != m.provider_metadata().end() && parse_survey_payload(it->second, &id, &rating)) {
      found = true;
      break;
    }
  }
  if (!found) return false;
  v1::CsatAnswer* a = out->mutable_csat();
  a->set_workspace_id(m.workspace_id());
  a->set_inbox_id(m.inbox_id());
  a->set_channel(m.channel());
  a->set_customer_handle(m.customer_handle());
  a->set_survey_id(id);
  a->set_rating(rating);
  a->set_external_id(m.external_message_id());
  a->set_at_ms(m.received_at_ms());
  return true;
}

bool is_survey_id(std::string_view outbound_id) {
  constexpr std::string_view kEnd = "/csat";
  return outbound_id.size() > kEnd.size() &&
         outbound_id.substr(outbound_id.size() - kEnd.size()) == kEnd;
}

bool parse_digit_reply(std::string_view text, uint32_t scale, uint32_t* rating,
                       std::string* comment) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\t'))
    text.remove_prefix(1);
  if (text.empty() || text[0] < '1' || text[0] > '0' + static_cast<char>(scale)) return false;
  // One digit, then nothing, punctuation or a space before the comment ("45" is not a rating).
  if (text.size() > 1 && text[1] >= '0' && text[1] <= '9') return false;
  if (text.size() > 1 && std::string_view(" \n\t!.,/*-)").find(text[1]) == std::string_view::npos)
    return false;
  *rating = static_cast<uint32_t>(text[0] - '0');
  text.remove_prefix(1);
  if (!text.empty() && text[0] == '/') {  // "4/5"
    text.remove_prefix(1);
    while (!text.empty() && text[0] >= '0' && text[0] <= '9') text.remove_prefix(1);
  }
  while (!text.empty() &&
         std::string_view(" \n\t!.,*-)").find(text.front()) != std::string_view::npos)
    text.remove_prefix(1);
  *comment = std::string(text);
  return true;
}

}  // namespace omniroute::sdk
