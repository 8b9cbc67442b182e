// Text out of mail: any charset to UTF-8 (without control characters), HTML to plain
// text (libxml2, an iterative walk), and the new part of a reply (quotes and signatures
// cut). The MIME walk that uses them is mime.cc.
#include <libxml/HTMLparser.h>
#include <re2/re2.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "connectors/email/gmime_util.h"
#include "connectors/email/mime.h"

namespace omniroute::connectors::email {

namespace {
std::string to_utf8_raw(std::string_view bytes, std::string_view charset);
}  // namespace

// Text never carries NUL or other control characters besides tab and line ends.
std::string to_utf8(std::string_view bytes, std::string_view charset) {
  std::string out = to_utf8_raw(bytes, charset);
  out.erase(std::remove_if(out.begin(), out.end(),
                           [](char ch) {
                             const auto c = static_cast<unsigned char>(ch);
                             return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
                           }),
            out.end());
  return out;
}

namespace {
std::string to_utf8_raw(std::string_view bytes, std::string_view charset) {
  gmime_init_once();
  std::string cs = lower(std::string(charset));
  // 7-bit stateful encodings (ISO-2022-JP, UTF-7, HZ) look like ASCII: always decode them.
  const bool stateful = cs.rfind("iso-2022", 0) == 0 || cs == "utf-7" || cs == "hz-gb-2312";
  if (!stateful && g_utf8_validate(bytes.data(), static_cast<gssize>(bytes.size()), nullptr))
    return std::string(bytes);
  if (cs.empty() || cs == "us-ascii" || cs == "ascii" || cs == "iso-8859-1" || cs == "latin1" ||
      cs == "iso_8859-1" || cs == "utf-8" || cs == "utf8")
    cs = "WINDOWS-1252";  // what "latin1" mail really is; invalid "UTF-8" is usually this too
  for (const std::string& from : {cs, std::string("WINDOWS-1252")}) {
    gsize written = 0;
    GError* err = nullptr;
    GCharPtr conv(g_convert_with_fallback(bytes.data(), static_cast<gssize>(bytes.size()), "UTF-8",
                                          from.c_str(), "\xEF\xBF\xBD", nullptr, &written, &err));
    if (err) g_error_free(err);
    if (conv) return std::string(conv.get(), written);
  }
  GCharPtr valid(g_utf8_make_valid(bytes.data(), static_cast<gssize>(bytes.size())));
  return valid ? std::string(valid.get()) : std::string();
}

}  // namespace

std::string html_to_text(std::string_view html, int64_t max_bytes) {
  gmime_init_once();
  if (html.empty()) return {};
  htmlDocPtr doc = htmlReadMemory(html.data(), static_cast<int>(html.size()), nullptr, "UTF-8",
                                  HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                      HTML_PARSE_NONET | HTML_PARSE_NOBLANKS);
  if (!doc) return {};
  std::string out;
  auto newline = [&] {
    while (!out.empty() && out.back() == ' ') out.pop_back();
    if (!out.empty() && out.back() != '\n') out.push_back('\n');
  };
  // Iterative walk: a deeply nested document cannot exhaust the stack.
  std::vector<std::pair<xmlNodePtr, bool>> stack;  // (node, children done)
  stack.emplace_back(xmlDocGetRootElement(doc), false);
  while (!stack.empty() && static_cast<int64_t>(out.size()) < max_bytes) {
    auto [node, done] = stack.back();
    stack.pop_back();
    if (!node) continue;
    if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
      for (const xmlChar* p = node->content; p && *p; ++p) {
        const char ch = static_cast<char>(*p);
        if (ch == '\n' || ch == '\r' || ch == '\t' || ch == ' ') {
          if (!out.empty() && out.back() != ' ' && out.back() != '\n') out.push_back(' ');
        } else {
          out.push_back(ch);
        }
      }
      continue;
    }
    if (node->type != XML_ELEMENT_NODE) continue;
    const std::string name = lower(reinterpret_cast<const char*>(node->name));
    if (name == "script" || name == "style" || name == "head" || name == "title" ||
        name == "noscript" || name == "template")
      continue;
    static const char* kBlocks[] = {"p",          "div",    "br",    "li", "tr", "h1",
                                    "h2",         "h3",     "h4",    "h5", "h6", "table",
                                    "blockquote", "pre",    "ul",    "ol", "hr", "section",
                                    "article",    "header", "footer"};
    const bool block = std::any_of(std::begin(kBlocks), std::end(kBlocks),
                                   [&](const char* b) { return name == b; });
    if (done) {
      if (block) newline();
      continue;
    }
    if (block) newline();
    if (name == "li") out += "- ";
    stack.emplace_back(node, true);
    // Children in document order: push them reversed.
    std::vector<xmlNodePtr> kids;
    for (xmlNodePtr k = node->children; k; k = k->next) kids.push_back(k);
    for (auto it = kids.rbegin(); it != kids.rend(); ++it) stack.emplace_back(*it, false);
  }
  xmlFreeDoc(doc);
  // Trim each line and drop runs of blank lines.
  std::string text, line;
  int blank = 0;
  auto flush = [&] {
    while (!line.empty() && line.back() == ' ') line.pop_back();
    size_t b = line.find_first_not_of(' ');
    line = b == std::string::npos ? "" : line.substr(b);
    if (line.empty()) {
      if (++blank == 1 && !text.empty()) text += "\n";
    } else {
      blank = 0;
      text += line + "\n";
    }
    line.clear();
  };
  for (char ch : out) {
    if (ch == '\n')
      flush();
    else
      line.push_back(ch);
  }
  flush();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (static_cast<int64_t>(text.size()) > max_bytes) text.resize(static_cast<size_t>(max_bytes));
  return to_utf8(text, "utf-8");  // a cut may have split a sequence
}

std::string new_text_of(std::string_view text) {
  // Lines that start the quoted previous message in the common clients, or a signature.
  static const RE2 kQuoteHeader(
      R"re((?i)^\s*(on\s.{1,250}\swrote:|am\s.{1,250}\sschrieb\s?.{0,250}:|le\s.{1,250}\sa\s[ée]crit\s?:|el\s.{1,250}\sescribi[óo]:|-{2,}\s*(original message|urspr[üu]ngliche nachricht|message d'origine|forwarded message|weitergeleitete nachricht)\s*-{2,})\s*$)re");
  static const RE2 kOutlookFrom(R"re((?i)^\s*(from|von|de):\s.+$)re");
  static const RE2 kOutlookNext(R"re((?i)^\s*(sent|gesendet|date|datum|envoy[ée]):\s.+$)re");
  static const RE2 kMobile(
      R"re((?i)^\s*(sent from my \w+|von meinem \w+ gesendet|envoy[ée] de mon \w+)\s*$)re");
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view l = text.substr(start, nl - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    lines.push_back(l);
    start = nl + 1;
  }
  size_t cut = lines.size();
  for (size_t i = 0; i < lines.size() && cut == lines.size(); ++i) {
    const re2::StringPiece l(lines[i].data(), lines[i].size());
    if (lines[i] == "-- " || lines[i] == "--" || RE2::FullMatch(l, kMobile)) {
      cut = i;
    } else if (RE2::FullMatch(l, kQuoteHeader)) {
      cut = i;
    } else if (i + 1 < lines.size()) {
      // "On Mon, 1 Jan 2024 at 10:00, Ana <ana@example.com>" / "wrote:" split over two lines.
      const std::string joined = std::string(lines[i]) + " " + std::string(lines[i + 1]);
      if (RE2::FullMatch(joined, kQuoteHeader)) cut = i;
      if (RE2::FullMatch(l, kOutlookFrom)) {
        for (size_t j = i + 1; j < std::min(lines.size(), i + 4); ++j) {
          const re2::StringPiece n(lines[j].data(), lines[j].size());
          if (RE2::FullMatch(n, kOutlookNext)) cut = i;
        }
      }
    }
    if (cut == lines.size() && !lines[i].empty() && lines[i][0] == '>') {
      // A quoted block: everything from here on is quote (inline answers between quoted
      // blocks are rare in customer mail; the full text keeps them).
      cut = i;
    }
  }
  if (cut == lines.size()) return {};
  std::string out;
  for (size_t i = 0; i < cut; ++i) {
    out += lines[i];
    out += '\n';
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '\r'))
    out.pop_back();
  size_t b = out.find_first_not_of("\n\r ");
  return b == std::string::npos ? std::string() : out.substr(b);
}

}  // namespace omniroute::connectors::email
