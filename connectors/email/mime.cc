#include "connectors/email/mime.h"

#include <gmime/gmime.h>
#include <re2/re2.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "common/crypto.h"
#include "connectors/email/gmime_util.h"
#include "connectors/email/message_id.h"

namespace omniroute::connectors::email {

namespace {

// Header values never carry raw CR/LF (or other controls) into the event.
std::string clean_header(const char* v, size_t max = 998) {
  std::string out;
  if (!v) return out;
  for (const char* p = v; *p && out.size() < max; ++p) {
    const unsigned char ch = static_cast<unsigned char>(*p);
    out.push_back(ch < 0x20 || ch == 0x7f ? ' ' : static_cast<char>(ch));
  }
  // Collapse the runs of spaces folding left behind.
  std::string collapsed;
  for (char ch : out)
    if (!(ch == ' ' && !collapsed.empty() && collapsed.back() == ' ')) collapsed.push_back(ch);
  while (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
  while (!collapsed.empty() && collapsed.front() == ' ') collapsed.erase(collapsed.begin());
  // Always UTF-8: a sequence cut at `max` is dropped, raw 8-bit bytes are converted.
  const gchar* end = nullptr;
  if (!g_utf8_validate(collapsed.data(), static_cast<gssize>(collapsed.size()), &end)) {
    const size_t valid = static_cast<size_t>(end - collapsed.data());
    if (collapsed.size() - valid < 4 && out.size() >= max)
      collapsed.resize(valid);
    else
      collapsed = to_utf8(collapsed, "");
  }
  return collapsed;
}

// The decoded (transfer encoding removed) content of a leaf part.
std::string part_bytes(GMimePart* part, int64_t max) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return {};
  GPtr<GMimeStream> mem(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(content, mem.get());
  GByteArray* arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  const size_t n = std::min<size_t>(arr->len, static_cast<size_t>(max));
  return std::string(reinterpret_cast<const char*>(arr->data), n);
}

std::string unix_newlines(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct Walk {
  const Limits& limits;
  const std::string& attachment_dir;
  Parsed& out;
  std::string plain, html;  // first text/plain and text/html bodies (UTF-8)
  std::string forwarded;    // text of forwarded messages, appended to the full text
  std::string delivery_status;
  std::string reported_headers;  // text/rfc822-headers of a bounce
  std::string reported_message_id;
  bool is_report = false;
  int parts = 0;
  std::vector<std::string> cut;

  void flag(const std::string& what) {
    if (std::find(cut.begin(), cut.end(), what) == cut.end()) cut.push_back(what);
  }

  std::string text_of(GMimePart* part) {
    const int64_t max = limits.max_text_bytes;
    std::string raw = part_bytes(part, max + 1);
    if (static_cast<int64_t>(raw.size()) > max) {
      raw.resize(static_cast<size_t>(max));
      flag("text_bytes");
    }
    const char* cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
    return to_utf8(raw, cs ? cs : "");
  }

  void attachment(GMimePart* part, bool in_related) {
    if (out.message.attachments_size() >= limits.max_attachments) {
      flag("attachments");
      return;
    }
    const std::string content = part_bytes(part, limits.max_message_bytes);
    auto* a = out.message.add_attachments();
    const char* name = g_mime_part_get_filename(part);
    std::string n = clean_header(name, 255);
    // No paths in names.
    if (auto slash = n.find_last_of("/\\"); slash != std::string::npos) n = n.substr(slash + 1);
    a->set_name(n);
    GMimeContentType* ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
    GCharPtr mime(g_mime_content_type_get_mime_type(ct));
    a->set_content_type(lower(clean_header(mime ? mime.get() : "application/octet-stream", 255)));
    a->set_size_bytes(content.size());
    a->set_sha256(crypto::sha256_hex(content));
    const char* disp = g_mime_object_get_disposition(GMIME_OBJECT(part));
    const char* cid = g_mime_object_get_content_id(GMIME_OBJECT(part));
    a->set_inline_((disp && lower(disp) == "inline" && !name) || (in_related && cid));
    if (!attachment_dir.empty()) {
      std::filesystem::path dir = std::filesystem::path(attachment_dir) / a->sha256().substr(0, 2);
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      const auto file = dir / a->sha256();
      if (!std::filesystem::exists(file, ec)) {
        const auto tmp = dir / (a->sha256() + ".tmp");
        std::ofstream(tmp, std::ios::binary)
            .write(content.data(), static_cast<std::streamsize>(content.size()));
        std::filesystem::rename(tmp, file, ec);
      }
    }
  }

  void visit(GMimeObject* obj, int depth, bool in_related) {
    if (!obj) return;
    if (depth > limits.max_depth) {
      flag("depth");
      return;
    }
    if (++parts > limits.max_parts) {
      flag("parts");
      return;
    }
    GMimeContentType* ct = g_mime_object_get_content_type(obj);
    if (GMIME_IS_MULTIPART(obj)) {
      GMimeMultipart* mp = GMIME_MULTIPART(obj);
      const bool related = g_mime_content_type_is_type(ct, "multipart", "related");
      if (g_mime_content_type_is_type(ct, "multipart", "report")) is_report = true;
      const int n = g_mime_multipart_get_count(mp);
      for (int i = 0; i < n && parts <= limits.max_parts; ++i)
        visit(g_mime_multipart_get_part(mp, i), depth + 1, related);
      return;
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {
      // A forwarded or bounced message: its text is kept under the full text, its id is
      // what a bounce reports on, and it is listed as an attachment.
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
      if (!inner) return;
      if (reported_message_id.empty() && g_mime_message_get_message_id(inner))
        reported_message_id = clean_header(g_mime_message_get_message_id(inner));
      if (out.message.attachments_size() < limits.max_attachments) {
        auto* a = out.message.add_attachments();
        const char* subj = g_mime_message_get_subject(inner);
        a->set_name(clean_header(subj ? subj : "message", 200) + ".eml");
        a->set_content_type("message/rfc822");
        GPtr<GMimeStream> mem(g_mime_stream_mem_new());
        g_mime_object_write_to_stream(GMIME_OBJECT(inner), nullptr, mem.get());
        GByteArray* arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
        const std::string bytes(reinterpret_cast<const char*>(arr->data), arr->len);
        a->set_size_bytes(bytes.size());
        a->set_sha256(crypto::sha256_hex(bytes));
      } else {
        flag("attachments");
      }
      Walk sub{limits, attachment_dir, out};
      sub.parts = parts;
      sub.visit(g_mime_message_get_mime_part(inner), depth + 1, false);
      parts = sub.parts;
      for (const auto& c : sub.cut) flag(c);
      const std::string text =
          !sub.plain.empty() ? sub.plain : html_to_text(sub.html, limits.max_text_bytes);
      if (!text.empty()) {
        InternetAddressList* from = g_mime_message_get_from(inner);
        GCharPtr from_s(from ? internet_address_list_to_string(from, nullptr, FALSE) : nullptr);
        const char* subj = g_mime_message_get_subject(inner);
        forwarded += fmt::format(
            "\n\n---------- Forwarded message ----------\nFrom: {}\nSubject: {}\n\n{}",
            clean_header(from_s ? from_s.get() : ""), clean_header(subj ? subj : ""), text);
      }
      return;
    }
    if (!GMIME_IS_PART(obj)) return;
    GMimePart* part = GMIME_PART(obj);
    if (g_mime_content_type_is_type(ct, "message", "delivery-status") ||
        g_mime_content_type_is_type(ct, "message", "global-delivery-status")) {
      delivery_status = part_bytes(part, 64 << 10);
      return;
    }
    if (g_mime_content_type_is_type(ct, "text", "rfc822-headers")) {
      reported_headers = part_bytes(part, 64 << 10);
      return;
    }
    const char* disp = g_mime_object_get_disposition(obj);
    const bool is_attachment =
        (disp && lower(disp) == "attachment") || g_mime_part_get_filename(part) != nullptr;
    if (!is_attachment && g_mime_content_type_is_type(ct, "text", "plain")) {
      if (plain.empty()) {
        plain = text_of(part);
        return;
      }
    } else if (!is_attachment && g_mime_content_type_is_type(ct, "text", "html")) {
      if (html.empty()) {
        html = text_of(part);
        return;
      }
    }
    attachment(part, in_related);
  }
};

// "Action: failed" style fields of a delivery-status body (the first recipient block).
std::string dsn_field(const std::string& body, const std::string& name) {
  std::string value;
  const RE2 re("(?mi)^" + name + ":\\s*(.+?)\\s*$");
  RE2::PartialMatch(body, re, &value);
  return value;
}

void auto_generated(GMimeMessage* msg, const Walk& w, Parsed& out) {
  GMimeObject* o = GMIME_OBJECT(msg);
  auto header = [&](const char* name) {
    const char* v = g_mime_object_get_header(o, name);
    return lower(clean_header(v));
  };
  const std::string ct_report = header("Content-Type");
  const bool dsn = !w.delivery_status.empty() ||
                   (w.is_report && ct_report.find("delivery-status") != std::string::npos);
  if (dsn) {
    out.message.set_auto_generated(v1::AUTO_GENERATED_BOUNCE);
    out.bounce.action = lower(clean_header(dsn_field(w.delivery_status, "Action").c_str(), 64));
    out.bounce.status = clean_header(dsn_field(w.delivery_status, "Status").c_str(), 64);
    out.bounce.diagnostic = clean_header(dsn_field(w.delivery_status, "Diagnostic-Code").c_str());
    std::string rcpt = dsn_field(w.delivery_status, "Final-Recipient");
    if (auto semi = rcpt.find(';'); semi != std::string::npos) rcpt = rcpt.substr(semi + 1);
    out.bounce.recipient = clean_header(rcpt.c_str());
    out.bounce.original_message_id = w.reported_message_id;
    if (out.bounce.original_message_id.empty()) {
      std::string id;
      if (RE2::PartialMatch(w.reported_headers, R"re((?mi)^Message-ID:\s*<([^>\r\n]+)>)re", &id))
        out.bounce.original_message_id = clean_header(id.c_str());
    }
    return;
  }
  const std::string auto_submitted = header("Auto-Submitted");
  if ((!auto_submitted.empty() && auto_submitted != "no") || !header("X-Autoreply").empty() ||
      !header("X-Autorespond").empty() || header("X-Auto-Response-Suppress") == "all") {
    out.message.set_auto_generated(v1::AUTO_GENERATED_AUTO_REPLY);
    return;
  }
  const std::string from = lower(out.message.customer_handle());
  if (from.rfind("mailer-daemon@", 0) == 0 || from.rfind("postmaster@", 0) == 0) {
    out.message.set_auto_generated(v1::AUTO_GENERATED_BOUNCE);
    return;
  }
  if (!header("List-Id").empty() || !header("List-Unsubscribe").empty() ||
      header("Precedence") == "list") {
    out.message.set_auto_generated(v1::AUTO_GENERATED_MAILING_LIST);
    return;
  }
  const std::string precedence = header("Precedence");
  if (precedence == "bulk" || precedence == "junk") {
    out.message.set_auto_generated(v1::AUTO_GENERATED_BULK);
    return;
  }
  // Vacation replies that forgot Auto-Submitted still say so in the subject.
  static const RE2 ooo(
      R"re((?i)^(auto(matic)?[ -]?reply|out of (the )?office|abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|fuera de la oficina)\b)re");
  if (RE2::PartialMatch(out.message.subject(), ooo))
    out.message.set_auto_generated(v1::AUTO_GENERATED_AUTO_REPLY);
}

}  // namespace

Outcome parse(std::string_view raw, const Limits& limits, const std::string& attachment_dir,
              Parsed& out, std::string& why) {
  gmime_init_once();
  out = Parsed{};
  std::vector<std::string> cut;
  if (static_cast<int64_t>(raw.size()) > limits.max_message_bytes) {
    raw = raw.substr(0, static_cast<size_t>(limits.max_message_bytes));
    cut.push_back("message_bytes");
  }
  // The header block ends at the first empty line.
  size_t header_end = raw.find("\n\n");
  if (size_t crlf = raw.find("\r\n\r\n"); crlf != std::string_view::npos && crlf < header_end)
    header_end = crlf;
  if (header_end == std::string_view::npos) header_end = raw.size();
  if (static_cast<int64_t>(header_end) > limits.max_header_bytes) {
    why = fmt::format("header block of {} bytes exceeds the limit of {}", header_end,
                      limits.max_header_bytes);
    return Outcome::kRejected;
  }
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  GMimeParserOptions* opts = g_mime_parser_options_new();
  g_mime_parser_options_set_rfc2047_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_address_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_parameter_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
  const char* fallback[] = {"UTF-8", "windows-1252", nullptr};
  g_mime_parser_options_set_fallback_charsets(opts, fallback);
  GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), opts));
  if (!msg) {
    g_mime_parser_options_free(opts);
    why = "not an email message (no header block could be read)";
    return Outcome::kNotAMessage;
  }
  GMimeObject* mo = GMIME_OBJECT(msg.get());
  GMimeHeaderList* headers = g_mime_object_get_header_list(mo);
  bool known_header = false;
  for (const char* h : {"From", "To", "Subject", "Date", "Message-ID", "Received", "Sender",
                        "Return-Path", "MIME-Version", "Content-Type"})
    known_header = known_header || g_mime_header_list_contains(headers, h);
  if (!known_header) {
    g_mime_parser_options_free(opts);
    why = "not an email message (none of From, To, Subject, Date, Message-ID, Received)";
    return Outcome::kNotAMessage;
  }
  auto& m = out.message;
  m.set_channel(v1::CHANNEL_EMAIL);
  // Sender: the first mailbox of From (Sender / Reply-To are not who the customer is).
  // (A display name with an encoded ':' can turn the From into a group: look inside.)
  std::function<InternetAddress*(InternetAddressList*, int)> first_mailbox =
      [&](InternetAddressList* list, int depth) -> InternetAddress* {
    for (int i = 0; list && depth < 4 && i < internet_address_list_length(list); ++i) {
      InternetAddress* ia = internet_address_list_get_address(list, i);
      if (INTERNET_ADDRESS_IS_MAILBOX(ia)) return ia;
      if (INTERNET_ADDRESS_IS_GROUP(ia)) {
        if (InternetAddress* inner = first_mailbox(
                internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), depth + 1))
          return inner;
      }
    }
    return nullptr;
  };
  InternetAddress* sender = first_mailbox(g_mime_message_get_from(msg.get()), 0);
  if (!sender) sender = first_mailbox(g_mime_message_get_sender(msg.get()), 0);
  if (sender) {
    const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(sender));
    m.set_customer_handle(lower(clean_header(addr, 320)));
    m.set_customer_display_name(clean_header(internet_address_get_name(sender), 200));
  }
  if (const char* subject = g_mime_message_get_subject(msg.get()))
    m.set_subject(clean_header(subject));
  std::string ticket;
  if (RE2::PartialMatch(m.subject(), R"re(\[#(\d{1,12})\])re", &ticket))
    m.mutable_thread()->set_ticket_tag(ticket);
  if (const char* id = g_mime_message_get_message_id(msg.get())) out.message_id = clean_header(id);
  m.set_external_message_id(!out.message_id.empty() ? out.message_id
                                                    : "sha256:" + crypto::sha256_hex(raw));
  if (const char* irt = g_mime_object_get_header(mo, "In-Reply-To")) {
    GCharPtr id(g_mime_utils_decode_message_id(irt));
    if (id) m.mutable_thread()->set_in_reply_to(router_message_id(clean_header(id.get())));
  }
  if (const char* refs = g_mime_object_get_header(mo, "References")) {
    GMimeReferences* list = g_mime_references_parse(opts, refs);
    if (list) {
      const int n = g_mime_references_length(list);
      for (int i = std::max(0, n - 50); i < n; ++i)  // the newest 50
        m.mutable_thread()->add_references(
            router_message_id(clean_header(g_mime_references_get_message_id(list, i))));
      g_mime_references_free(list);
    }
  }
  if (GDateTime* date = g_mime_message_get_date(msg.get()))
    m.set_sent_at_ms(g_date_time_to_unix(date) * 1000);
  if (const char* lang = g_mime_object_get_header(mo, "Content-Language")) {
    std::string l = clean_header(lang, 35);
    if (auto comma = l.find(','); comma != std::string::npos) l = l.substr(0, comma);
    m.set_language(l);
  }
  g_mime_parser_options_free(opts);

  Walk w{limits, attachment_dir, out};
  w.cut = cut;
  w.visit(g_mime_message_get_mime_part(msg.get()), 0, false);
  const std::string html_text = w.html.empty() ? "" : html_to_text(w.html, limits.max_text_bytes);
  std::string full = !w.plain.empty() ? w.plain : html_text;
  if (!w.forwarded.empty()) full += w.forwarded;
  full = unix_newlines(full);
  while (!full.empty() && (full.back() == '\n' || full.back() == ' ')) full.pop_back();
  if (static_cast<int64_t>(full.size()) > limits.max_text_bytes) {
    full = to_utf8(full.substr(0, static_cast<size_t>(limits.max_text_bytes)), "utf-8");
    w.flag("text_bytes");
  }
  m.set_html_body(w.html);
  const std::string fresh = new_text_of(full);
  if (!fresh.empty() && fresh != full) {
    m.set_text_body(fresh);
    m.set_full_text_body(full);
  } else {
    m.set_text_body(full);
  }
  auto_generated(msg.get(), w, out);
  for (const auto& c : w.cut) m.add_truncated(c);
  auto& meta = *m.mutable_provider_metadata();
  meta["message_id"] = out.message_id;
  if (m.auto_generated() == v1::AUTO_GENERATED_BOUNCE) {
    meta["bounce_original_message_id"] = router_message_id(out.bounce.original_message_id);
    meta["bounce_status"] = out.bounce.status;
    meta["bounce_action"] = out.bounce.action;
    meta["bounce_diagnostic"] = out.bounce.diagnostic.substr(0, 500);
    meta["bounce_recipient"] = out.bounce.recipient;
  }
  return Outcome::kOk;
}

}  // namespace omniroute::connectors::email
