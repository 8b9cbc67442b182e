// Twilio's wire formats: request signatures, inbound parameters, keywords, segments.
#include <algorithm>
#include <array>
#include <cstdint>

#include <fmt/format.h>

#include "common/crypto.h"
#include "common/utf8.h"
#include "connectors/phone/phone.h"
#include "connectors/sms/sms.h"

namespace omniroute::connectors::sms {

std::vector<std::string> twilio_url_variants(const std::string& url) {
  std::vector<std::string> out{url};
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return out;
  const std::string scheme = url.substr(0, scheme_end);
  const char* port = scheme == "https" ? "443" : scheme == "http" ? "80" : nullptr;
  if (!port) return out;
  const size_t host_start = scheme_end + 3;
  size_t host_end = url.find_first_of("/?#", host_start);
  if (host_end == std::string::npos) host_end = url.size();
  const std::string authority = url.substr(host_start, host_end - host_start);
  const size_t colon = authority.rfind(':');
  const bool has_port =
      colon != std::string::npos && authority.find(']', colon) == std::string::npos;
  if (has_port && authority.substr(colon + 1) == port)
    out.push_back(url.substr(0, host_start) + authority.substr(0, colon) + url.substr(host_end));
  else if (!has_port)
    out.push_back(url.substr(0, host_start) + authority + ":" + port + url.substr(host_end));
  return out;
}

std::string twilio_signature(std::string_view auth_token, std::string_view url,
                             const Params& params) {
  Params sorted = params;
  std::stable_sort(sorted.begin(), sorted.end());
  std::string data(url);
  for (const auto& [k, v] : sorted) {
    data += k;
    data += v;
  }
  return crypto::hmac_sha1_base64(auth_token, data);
}

namespace {

std::string upper_trimmed(std::string_view s) {
  auto is_edge = [](unsigned char c) {
    return std::isspace(c) || c == '.' || c == '!' || c == ',' || c == '"' || c == '\'';
  };
  while (!s.empty() && is_edge(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && is_edge(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string out;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

const std::string* param(const Params& p, std::string_view name) {
  for (const auto& [k, v] : p)
    if (k == name) return &v;
  return nullptr;
}

std::string value_or(const Params& p, std::string_view name) {
  const auto* v = param(p, name);
  return v ? *v : std::string();
}

// UTF-8 -> code points; invalid bytes become U+FFFD (which forces UCS-2, as the provider
// would have to send them).
std::vector<char32_t> code_points(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + static_cast<size_t>(len) > s.size()) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    char32_t cp = len == 1 ? c : c & (0x7F >> len);
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += static_cast<size_t>(len);
  }
  return out;
}

// GSM 03.38: 1 septet for the basic set, 2 for the extension table, 0 when not encodable.
int gsm_septets(char32_t c) {
  static const std::u32string kBasic =
      U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
      U"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  static const std::u32string kExtension = U"\f^{}\\[~]|€";
  if (kBasic.find(c) != std::u32string::npos) return 1;
  if (kExtension.find(c) != std::u32string::npos) return 2;
  return 0;
}

}  // namespace

Keyword keyword_of(std::string_view body) {
  if (body.size() > 32) return Keyword::kNone;
  const std::string k = upper_trimmed(body);
  static const std::array<std::string_view, 10> kStop = {
      "STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL",
      "END",  "QUIT",    "REVOKE",   "OPTOUT",      "OPT OUT"};
  static const std::array<std::string_view, 3> kStart = {"START", "YES", "UNSTOP"};
  static const std::array<std::string_view, 2> kHelp = {"HELP", "INFO"};
  if (std::find(kStop.begin(), kStop.end(), k) != kStop.end()) return Keyword::kStop;
  if (std::find(kStart.begin(), kStart.end(), k) != kStart.end()) return Keyword::kStart;
  if (std::find(kHelp.begin(), kHelp.end(), k) != kHelp.end()) return Keyword::kHelp;
  return Keyword::kNone;
}

const char* keyword_name(Keyword k) {
  switch (k) {
    case Keyword::kStop:
      return "STOP";
    case Keyword::kStart:
      return "START";
    case Keyword::kHelp:
      return "HELP";
    case Keyword::kNone:
      break;
  }
  return "";
}

Segments segments_of(std::string_view utf8) {
  const auto cps = code_points(utf8);
  Segments s;
  std::vector<int> widths;
  widths.reserve(cps.size());
  for (char32_t c : cps) {
    const int w = gsm_septets(c);
    if (w == 0) {
      s.gsm7 = false;
      break;
    }
    widths.push_back(w);
  }
  if (!s.gsm7) {
    // UCS-2 (UTF-16 on the wire): characters beyond the BMP take two units, never split.
    widths.clear();
    for (char32_t c : cps) widths.push_back(c > 0xFFFF ? 2 : 1);
  }
  for (int w : widths) s.units += w;
  const int single = s.gsm7 ? 160 : 70, part = s.gsm7 ? 153 : 67;
  if (s.units == 0) return s;
  if (s.units <= single) {
    s.count = 1;
    return s;
  }
  int used = 0;
  s.count = 1;
  for (int w : widths) {
    if (used + w > part) {
      ++s.count;
      used = 0;
    }
    used += w;
  }
  return s;
}

std::string parse_inbound(const Params& raw_params, std::string_view region, const Limits& limits,
                          v1::InboundMessage& out) {
  if (raw_params.size() > limits.max_params)
    return fmt::format("too many parameters ({} > {})", raw_params.size(), limits.max_params);
  // Ids and URLs must be well-formed; text is kept, ill-formed bytes replaced (events on
  // Kafka carry valid UTF-8 only).
  Params params;
  params.reserve(raw_params.size());
  for (const auto& [k, v] : raw_params) {
    if (!utf8::valid(v) &&
        (k == "MessageSid" || k == "SmsMessageSid" || k == "From" || k.rfind("MediaUrl", 0) == 0))
      return fmt::format("{} is not valid UTF-8", utf8::cut(utf8::sanitize(k), 64));
    params.emplace_back(utf8::sanitize(k), utf8::sanitize(v));
  }
  std::string sid = value_or(params, "MessageSid");
  if (sid.empty()) sid = value_or(params, "SmsMessageSid");
  if (sid.empty()) return "missing parameter: MessageSid";
  if (sid.size() > limits.max_id_bytes) return "MessageSid too long";
  const std::string from = value_or(params, "From");
  if (from.empty()) return "missing parameter: From";
  std::string why;
  const phone::Handle handle = phone::to_handle(from, region, &why);
  if (handle.value.empty()) return fmt::format("From: {}", why);
  const std::string& e164 = handle.value;
  const std::string body = value_or(params, "Body");
  if (body.size() > limits.max_text_bytes)
    return fmt::format("Body exceeds {} bytes", limits.max_text_bytes);
  int num_media = 0;
  if (const auto* n = param(params, "NumMedia"); n && !n->empty()) {
    try {
      size_t used = 0;
      num_media = std::stoi(*n, &used);
      if (used != n->size()) throw std::invalid_argument("trailing");
    } catch (...) {
      return "NumMedia is not a number";
    }
  }
  if (num_media < 0 || num_media > limits.max_media)
    return fmt::format("NumMedia {} outside 0..{}", num_media, limits.max_media);
  if (body.empty() && num_media == 0) return "message has neither Body nor media";
  out.set_channel(v1::CHANNEL_SMS);
  out.set_external_message_id(sid);
  out.set_customer_handle(e164);
  out.set_handle_unverified(!handle.verified);
  out.set_text_body(body);
  for (int i = 0; i < num_media; ++i) {
    const std::string url = value_or(params, fmt::format("MediaUrl{}", i));
    if (url.empty()) return fmt::format("missing parameter: MediaUrl{}", i);
    if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)
      return fmt::format("MediaUrl{} is not an http(s) URL", i);
    auto* a = out.add_attachments();
    a->set_url(url);
    a->set_content_type(value_or(params, fmt::format("MediaContentType{}", i)));
    a->set_name(url.substr(url.rfind('/') + 1));
  }
  static constexpr std::array<std::string_view, 9> kMeta = {
      "AccountSid", "MessagingServiceSid", "To",        "FromCountry", "FromCity",
      "FromState",  "NumSegments",         "ToCountry", "ProfileName"};
  for (auto name : kMeta) {
    if (const auto* v = param(params, name); v && !v->empty() && v->size() <= 256)
      (*out.mutable_provider_metadata())[std::string(name)] = *v;
  }
  if (const auto* v = param(params, "ProfileName"); v && v->size() <= 256)
    out.set_customer_display_name(*v);
  return {};
}

}  // namespace omniroute::connectors::sms
