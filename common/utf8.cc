#include "common/utf8.h"

#include <algorithm>

namespace omniroute::utf8 {

namespace {

// Length of the well-formed sequence at s[i], or 0 (Unicode table 3-7).
size_t sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const size_t left = s.size() - i;
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return k < left && b(k) >= lo && b(k) <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

}  // namespace

bool valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string sanitize(std::string_view s) {
  if (valid(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    const size_t n = sequence(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string cut(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end));
}

std::vector<std::string> split(std::string_view s, size_t max_units) {
  std::vector<std::string> parts;
  if (max_units == 0) max_units = 1;
  while (!s.empty()) {
    size_t units = 0, pos = 0, last_space = 0;
    while (pos < s.size()) {
      const auto c = static_cast<unsigned char>(s[pos]);
      const size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      const size_t u = len == 4 ? 2 : 1;  // beyond the BMP: a surrogate pair
      if (units + u > max_units) break;
      units += u;
      pos += std::min(len, s.size() - pos);
      if (c == ' ' || c == '\n' || c == '\t') last_space = pos;
    }
    if (pos < s.size() && last_space > pos / 2) pos = last_space;
    if (pos == 0) pos = std::min<size_t>(s.size(), 4);  // max_units 1 and a pair: never stall
    parts.emplace_back(s.substr(0, pos));
    s.remove_prefix(pos);
  }
  return parts;
}

}  // namespace omniroute::utf8
