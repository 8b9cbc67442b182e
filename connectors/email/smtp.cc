#include "connectors/email/smtp.h"

#include <curl/curl.h>
#include <gmime/gmime.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include <fmt/format.h>

#include "connectors/email/gmime_util.h"
#include "connectors/email/message_id.h"

namespace omniroute::connectors::email {

namespace {

// An address we put into a header or an SMTP envelope: one mailbox, nothing else.
bool plain_address(const std::string& a) {
  if (a.empty() || a.size() > 320 || a.find('@') == std::string::npos) return false;
  for (unsigned char ch : a)
    if (ch <= 0x20 || ch == 0x7f || ch == '<' || ch == '>' || ch == ',' || ch == ';' || ch == '"' ||
        ch == '(' || ch == ')')
      return false;
  return true;
}

std::string one_line(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) out.push_back(ch < 0x20 || ch == 0x7f ? ' ' : static_cast<char>(ch));
  return out;
}

std::string our_id(const std::string& id, const std::string& domain) {
  return id.rfind("outbound:", 0) == 0 ? outbound_message_id(id.substr(9), domain) : id;
}

GMimeObject* text_part(const char* subtype, const std::string& text) {
  GMimeTextPart* t = g_mime_text_part_new_with_subtype(subtype);
  g_mime_text_part_set_text(t, text.c_str());
  g_mime_text_part_set_charset(t, "utf-8");
  g_mime_part_set_content_encoding(GMIME_PART(t), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  return GMIME_OBJECT(t);
}

}  // namespace

std::string compose(const v1::OutboundMessage& m, const Sender& from, int64_t now_ms,
                    std::string& err) {
  gmime_init_once();
  if (!plain_address(m.customer_handle())) {
    err = "recipient '" + one_line(m.customer_handle()) + "' is not an email address";
    return {};
  }
  if (!plain_address(from.address)) {
    err = "inbox from_address '" + one_line(from.address) + "' is not an email address";
    return {};
  }
  GPtr<GMimeMessage> msg(g_mime_message_new(TRUE));
  const std::string display =
      m.agent_display_name().empty()
          ? from.name
          : (from.name.empty() ? m.agent_display_name()
                               : fmt::format("{} ({})", m.agent_display_name(), from.name));
  g_mime_message_add_mailbox(msg.get(), GMIME_ADDRESS_TYPE_FROM, one_line(display).c_str(),
                             from.address.c_str());
  g_mime_message_add_mailbox(msg.get(), GMIME_ADDRESS_TYPE_TO, "", m.customer_handle().c_str());
  if (plain_address(from.reply_to))
    g_mime_message_add_mailbox(msg.get(), GMIME_ADDRESS_TYPE_REPLY_TO, "", from.reply_to.c_str());
  g_mime_message_set_subject(msg.get(), one_line(m.subject()).c_str(), "utf-8");
  g_mime_message_set_message_id(
      msg.get(), outbound_message_id(m.outbound_id(), from.message_id_domain).c_str());
  GDateTime* date = g_date_time_new_from_unix_utc(now_ms / 1000);
  g_mime_message_set_date(msg.get(), date);
  g_date_time_unref(date);
  GMimeObject* mo = GMIME_OBJECT(msg.get());
  if (!m.thread().in_reply_to().empty())
    g_mime_object_set_header(
        mo, "In-Reply-To",
        fmt::format("<{}>", one_line(our_id(m.thread().in_reply_to(), from.message_id_domain)))
            .c_str(),
        nullptr);
  if (m.thread().references_size() > 0) {
    std::string refs;
    for (const auto& r : m.thread().references())
      refs += (refs.empty() ? "<" : " <") + one_line(our_id(r, from.message_id_domain)) + ">";
    g_mime_object_set_header(mo, "References", refs.c_str(), nullptr);
  }
  // Automatic messages say so (RFC 3834): other robots do not answer them.
  if (m.automatic()) g_mime_object_set_header(mo, "Auto-Submitted", "auto-replied", nullptr);

  // Plain text and an HTML alternative (the agent's, or the text made safe as HTML).
  GPtr<GMimeMultipart> alt(g_mime_multipart_new_with_subtype("alternative"));
  GPtr<GMimeObject> plain(text_part("plain", m.text_body()));
  g_mime_multipart_add(alt.get(), plain.get());
  std::string html = m.html_body();
  if (html.empty()) {
    gchar* escaped = g_markup_escape_text(m.text_body().c_str(), -1);
    std::string body(escaped);
    g_free(escaped);
    std::string with_breaks;
    for (char ch : body) {
      if (ch == '\n')
        with_breaks += "<br>\r\n";
      else
        with_breaks.push_back(ch);
    }
    html = "<html><body><div>" + with_breaks + "</div></body></html>";
  }
  GPtr<GMimeObject> html_part(text_part("html", html));
  g_mime_multipart_add(alt.get(), html_part.get());

  GMimeObject* root = GMIME_OBJECT(alt.get());
  GPtr<GMimeMultipart> mixed;
  if (m.attachments_size() > 0) {
    mixed.reset(g_mime_multipart_new_with_subtype("mixed"));
    g_mime_multipart_add(mixed.get(), GMIME_OBJECT(alt.get()));
    for (const auto& a : m.attachments()) {
      // From the store, by hash; the content must still match it.
      const std::string path =
          from.attachment_dir + "/" + a.sha256().substr(0, 2) + "/" + a.sha256();
      std::ifstream in(path, std::ios::binary);
      if (a.sha256().size() != 64 || !in) {
        err = fmt::format("attachment '{}' ({}) is not in the attachment store", one_line(a.name()),
                          a.sha256());
        return {};
      }
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string content = ss.str();
      std::string type = a.content_type().empty() ? "application/octet-stream" : a.content_type();
      const auto slash = type.find('/');
      GPtr<GMimePart> part(g_mime_part_new_with_type(
          slash == std::string::npos ? "application" : type.substr(0, slash).c_str(),
          slash == std::string::npos ? "octet-stream" : type.substr(slash + 1).c_str()));
      GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(content.data(), content.size()));
      GPtr<GMimeDataWrapper> wrapper(
          g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
      g_mime_part_set_content(part.get(), wrapper.get());
      g_mime_part_set_content_encoding(part.get(), GMIME_CONTENT_ENCODING_BASE64);
      g_mime_part_set_filename(part.get(),
                               one_line(a.name().empty() ? "attachment" : a.name()).c_str());
      g_mime_object_set_disposition(GMIME_OBJECT(part.get()),
                                    a.inline_() ? "inline" : "attachment");
      g_mime_multipart_add(mixed.get(), GMIME_OBJECT(part.get()));
    }
    root = GMIME_OBJECT(mixed.get());
  }
  g_mime_message_set_mime_part(msg.get(), root);

  GMimeFormatOptions* opts = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(opts, GMIME_NEWLINE_FORMAT_DOS);
  gchar* text = g_mime_object_to_string(mo, opts);
  g_mime_format_options_free(opts);
  std::string out(text ? text : "");
  g_free(text);
  return out;
}

namespace {
struct Upload {
  const std::string* data;
  size_t pos = 0;
};
size_t read_cb(char* buf, size_t size, size_t n, void* userp) {
  auto* u = static_cast<Upload*>(userp);
  const size_t left = u->data->size() - u->pos;
  const size_t k = std::min(left, size * n);
  std::memcpy(buf, u->data->data() + u->pos, k);
  u->pos += k;
  return k;
}
}  // namespace

sdk::DeliveryResult send(const SmtpServer& server, const std::string& from_address,
                         const std::string& to_address, const std::string& bytes) {
  if (!plain_address(from_address) || !plain_address(to_address))
    return sdk::DeliveryResult::failed("invalid sender or recipient address");
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> c(curl_easy_init(), &curl_easy_cleanup);
  if (!c) return sdk::DeliveryResult::retry("curl_easy_init failed");
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* rcpt = curl_slist_append(nullptr, ("<" + to_address + ">").c_str());
  Upload up{&bytes};
  curl_easy_setopt(c.get(), CURLOPT_URL, server.url.c_str());
  curl_easy_setopt(c.get(), CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.get(), CURLOPT_MAIL_FROM, ("<" + from_address + ">").c_str());
  curl_easy_setopt(c.get(), CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c.get(), CURLOPT_READFUNCTION, &read_cb);
  curl_easy_setopt(c.get(), CURLOPT_READDATA, &up);
  curl_easy_setopt(c.get(), CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c.get(), CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(bytes.size()));
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT_MS, server.timeout_ms);
  curl_easy_setopt(c.get(), CURLOPT_CONNECTTIMEOUT_MS, std::min(server.timeout_ms, 10000L));
  if (!server.username.empty()) {
    curl_easy_setopt(c.get(), CURLOPT_USERNAME, server.username.c_str());
    curl_easy_setopt(c.get(), CURLOPT_PASSWORD, server.password.c_str());
  }
  if (server.tls == "starttls") curl_easy_setopt(c.get(), CURLOPT_USE_SSL, CURLUSESSL_ALL);
  const CURLcode res = curl_easy_perform(c.get());
  curl_slist_free_all(rcpt);
  long code = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
  if (res == CURLE_OK) return sdk::DeliveryResult::delivered(fmt::format("smtp {}", code));
  const std::string why = fmt::format("{}{}", code ? fmt::format("{} ", code) : "",
                                      errbuf[0] ? errbuf : curl_easy_strerror(res));
  // 5xx is the server's final word; anything else (4xx, no connection, timeout) may pass.
  if (code >= 500 && code < 600) return sdk::DeliveryResult::failed(why);
  return sdk::DeliveryResult::retry(why);
}

}  // namespace omniroute::connectors::email
