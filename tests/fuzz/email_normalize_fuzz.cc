// libFuzzer target: the email normalizer must never crash, hang or leak on any input,
// and what it returns must keep its promises (UTF-8 text, no CR/LF in header fields).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <glib.h>

#include "connectors/email/mime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omniroute::connectors::email;
  Limits limits;
  limits.max_message_bytes = 1 << 20;
  Parsed p;
  std::string why;
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  if (parse(raw, limits, "", p, why) != Outcome::kOk) return 0;
  const auto& m = p.message;
  for (const std::string* s : {&m.text_body(), &m.full_text_body(), &m.subject(),
                               &m.customer_display_name(), &m.customer_handle()}) {
    if (!g_utf8_validate(s->data(), static_cast<gssize>(s->size()), nullptr)) abort();
  }
  for (const std::string* s : {&m.subject(), &m.customer_display_name(), &m.customer_handle(),
                               &m.external_message_id(), &m.thread().in_reply_to()}) {
    if (s->find_first_of("\r\n") != std::string::npos) abort();
  }
  // Every string field is valid UTF-8: what Kafka carries parses on the other side.
  std::string wire;
  if (!m.SerializeToString(&wire)) abort();
  omniroute::v1::InboundMessage back;
  if (!back.ParseFromString(wire)) abort();
  return 0;
}
