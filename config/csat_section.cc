#include "config/csat_section.h"

#include "common/utf8.h"

namespace omniroute::config {

CsatSurvey parse_csat(MapReader& inbox, const std::string& path, Errors& errors) {
  CsatSurvey out;
  if (!inbox.has("csat")) return out;
  YAML::Node node = inbox.child("csat");
  const std::string at = path + ".csat";
  MapReader m(node, at, errors);
  if (!m.valid()) return out;
  out.question = m.str_map("question");
  out.thanks = m.str_map("thanks");
  out.scale = static_cast<int>(m.integer("scale", 5, 3, 5));
  if (out.scale != 3 && out.scale != 5) errors.add(node, at + ".scale", "must be 3 or 5");
  out.window_ms = m.integer("window_hours", 72, 1, 30 * 24) * 3600 * 1000;
  if (out.question.empty())
    errors.add(node, at + ".question", "a question per language is required ({en: \"...\"})");
  // Channels show a question in one message or button caption: keep it to one.
  for (const auto* texts : {&out.question, &out.thanks})
    for (const auto& [lang, text] : *texts) {
      if (text.empty() || text.size() > 1000 || !utf8::valid(text))
        errors.add(node, at, "text for '" + lang + "' must be 1-1000 bytes of UTF-8");
      if (lang.empty() || lang.size() > 35)
        errors.add(node, at, "language keys are BCP-47 tags (en, pt-BR)");
    }
  m.finish();
  return out;
}

}  // namespace omniroute::config
