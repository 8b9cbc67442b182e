#include "connectors/social/platform.h"

#include "connectors/http/listener.h"

namespace omniroute::connectors::social {

std::vector<sdk::ConfigField> platform_settings(Platform p) {
  using T = sdk::ConfigField::Type;
  std::vector<sdk::ConfigField> f = http::listener_fields();
  f.insert(
      f.end(),
      {
          {"max_body_bytes", T::kInt, "Largest webhook body; larger gets 413", "960000", false,
           1024, 64 << 20},
          {"max_events", T::kInt, "Messages, receipts and signals in one webhook at most", "1000",
           false, 1, 100000},
          {"max_text_bytes", T::kInt, "Largest message text", "65536", false, 1024, 1 << 24},
          {"state_dir", T::kString, "Messaging windows and provider message ids (RocksDB)",
           std::string("var/") + platform_name(p)},
          {"delivery_timeout_ms", T::kInt, "Timeout of one API call", "10000", false, 100, 600000},
      });
  return f;
}

}  // namespace omniroute::connectors::social
