#include "connectors/email/message_id.h"

namespace omniroute::connectors::email {

std::string outbound_message_id(std::string_view outbound_id, std::string_view domain) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "o-";
  for (unsigned char ch : outbound_id) {
    out.push_back(kHex[ch >> 4]);
    out.push_back(kHex[ch & 15]);
  }
  out.push_back('@');
  out.append(domain);
  return out;
}

std::string router_message_id(std::string_view message_id) {
  const size_t at = message_id.find('@');
  if (message_id.substr(0, 2) != "o-" || at == std::string_view::npos || (at - 2) % 2 != 0 ||
      at == 2)
    return std::string(message_id);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string id;
  for (size_t i = 2; i < at; i += 2) {
    const int hi = nibble(message_id[i]), lo = nibble(message_id[i + 1]);
    if (hi < 0 || lo < 0) return std::string(message_id);
    const char ch = static_cast<char>(hi << 4 | lo);
    if (static_cast<unsigned char>(ch) < 0x20) return std::string(message_id);  // not ours
    id.push_back(ch);
  }
  return "outbound:" + id;
}

}  // namespace omniroute::connectors::email
