#include "schemas/channel.h"

#include <algorithm>
#include <cctype>

namespace omniroute {

std::string channel_name(v1::Channel c) {
  std::string n = v1::Channel_Name(c);  // CHANNEL_WEBHOOK
  if (n.rfind("CHANNEL_", 0) == 0) n = n.substr(8);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return n;
}

std::optional<v1::Channel> parse_channel(std::string_view name) {
  std::string upper = "CHANNEL_";
  for (char ch : name)
    upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  v1::Channel c;
  if (!v1::Channel_Parse(upper, &c) || c == v1::CHANNEL_UNSPECIFIED) return std::nullopt;
  return c;
}

}  // namespace omniroute
