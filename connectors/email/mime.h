// Email in: one RFC 5322 message (as fetched by IMAP or read from a Maildir) turned into
// an InboundMessage with GMime. Text is UTF-8 whatever the message declared; HTML without
// a plain part becomes readable text (libxml2's HTML parser); attachments become metadata
// (content written to the attachment store, addressed by sha256); the customer's new
// text is separated from the quoted history and signature; mail written by machines is
// flagged; a delivery status report is read for the message it reports on.
//
// Bad input never throws or hangs: limits on size, parts, depth and header size are
// explicit; over a limit the message is cut and flagged, or rejected with the reason.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "omniroute/v1/events.pb.h"

namespace omniroute::connectors::email {

struct Limits {
  int64_t max_message_bytes = 25 << 20;  // larger messages are cut here ("message_bytes")
  int max_parts = 500;                   // MIME parts walked ("parts")
  int max_depth = 20;                    // multipart / message nesting ("depth")
  int64_t max_header_bytes = 256 << 10;  // a larger header block is rejected
  int64_t max_text_bytes = 1 << 20;      // text and HTML bodies are cut here ("text_bytes")
  int max_attachments = 100;             // attachment metadata kept ("attachments")
};

// What a delivery status report (bounce) says about the message it reports on.
struct Bounce {
  std::string original_message_id;  // Message-ID of the undeliverable message, no <>
  std::string status;               // "5.1.1"
  std::string action;               // "failed", "delayed", ...
  std::string diagnostic;           // "smtp; 550 5.1.1 <x@example.com>: user unknown"
  std::string recipient;            // Final-Recipient address
};

struct Parsed {
  v1::InboundMessage message;  // workspace and inbox are the caller's to set
  Bounce bounce;               // when message.auto_generated() == BOUNCE
  std::string message_id;      // Message-ID without <> ("" when the message has none)
};

enum class Outcome {
  kOk,           // `out` is the event (possibly cut: see message.truncated)
  kRejected,     // cannot become an event: DLQ with `why`
  kNotAMessage,  // no headers at all: not an email
};

// Writes attachment content under `attachment_dir` (when not empty) as
// <dir>/<sha256[0:2]>/<sha256>. `why` explains kRejected / kNotAMessage.
Outcome parse(std::string_view raw, const Limits& limits, const std::string& attachment_dir,
              Parsed& out, std::string& why);

// Helpers, exposed for tests.
// Text in `charset` as UTF-8: valid UTF-8 is kept whatever the label says, ISO-8859-1 and
// US-ASCII labels are read as windows-1252 (what mail clients really send), unknown
// charsets fall back to windows-1252, and invalid sequences become U+FFFD.
std::string to_utf8(std::string_view bytes, std::string_view charset);
// Readable text of an HTML document: no tags, no scripts or styles, blocks on new lines.
std::string html_to_text(std::string_view html, int64_t max_bytes);
// The text the sender wrote above the quoted previous message and the signature
// ("" when nothing was recognized as quote or signature).
std::string new_text_of(std::string_view text);

}  // namespace omniroute::connectors::email
