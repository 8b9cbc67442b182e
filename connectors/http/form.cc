// Form and path helpers of the HTTP front door (no Beast here: the fuzz targets build it).
#include <curl/curl.h>

#include "connectors/http/form.h"

namespace omniroute::connectors::http {

std::string url_decode(std::string_view text, bool plus_is_space) {
  std::string s(text);
  if (plus_is_space)
    for (auto& c : s)
      if (c == '+') c = ' ';
  int len = 0;
  char* out = curl_easy_unescape(nullptr, s.data(), static_cast<int>(s.size()), &len);
  if (!out) return s;
  std::string r(out, static_cast<size_t>(len));
  curl_free(out);
  return r;
}

std::string url_encode(std::string_view text) {
  char* out = curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size()));
  if (!out) return {};
  std::string r(out);
  curl_free(out);
  return r;
}

std::vector<std::pair<std::string, std::string>> parse_form(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    auto amp = text.find('&');
    std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    out.emplace_back(url_decode(pair.substr(0, eq)), eq == std::string_view::npos
                                                         ? std::string()
                                                         : url_decode(pair.substr(eq + 1)));
  }
  return out;
}

std::vector<std::string> path_segments(std::string_view path, std::string_view prefix) {
  std::vector<std::string> out;
  if (path.substr(0, prefix.size()) != prefix) return out;
  path.remove_prefix(prefix.size());
  while (!path.empty()) {
    auto slash = path.find('/');
    out.push_back(url_decode(path.substr(0, slash), false));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace omniroute::connectors::http
