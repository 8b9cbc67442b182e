// The email normalizer against a corpus of real-world-style messages (many charsets,
// broken structure, bounces, auto-replies, quotes) and generated hostile ones (huge,
// deeply nested, oversized headers).
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/crypto.h"
#include "connectors/email/message_id.h"
#include "connectors/email/mime.h"
#include "tests/support/support.h"

namespace omniroute::connectors::email {
namespace {

std::string corpus(const std::string& name) {
  std::ifstream in(std::string(OMNIROUTE_SOURCE_DIR) + "/tests/connectors/email/corpus/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

v1::InboundMessage parsed(const std::string& name, const std::string& store = "") {
  Parsed p;
  std::string why;
  EXPECT_EQ(parse(corpus(name), Limits{}, store, p, why), Outcome::kOk) << name << ": " << why;
  for (const auto& [k, v] : p.message.provider_metadata())
    EXPECT_EQ(v.find_first_of("\r\n"), std::string::npos) << k;
  EXPECT_EQ(p.message.subject().find_first_of("\r\n"), std::string::npos);
  EXPECT_EQ(p.message.customer_display_name().find_first_of("\r\n"), std::string::npos);
  return p.message;
}

TEST(EmailMime, EncodedWordsQuotedPrintableRfc2231AndTheNewTextAboveTheQuote) {
  testing::TempDir dir;
  const auto m = parsed("01-german-qp-rfc2231.eml", dir.path());
  EXPECT_EQ(m.customer_handle(), "joerg@example.de");  // lower case
  EXPECT_EQ(m.customer_display_name(), "Jörg Müller");
  EXPECT_EQ(m.subject(), "Re: Rechnung [#1234]");
  EXPECT_EQ(m.thread().ticket_tag(), "1234");
  EXPECT_EQ(m.external_message_id(), "abc@mail.example.de");
  EXPECT_EQ(m.thread().in_reply_to(), "o.1.x@acme.test");
  ASSERT_EQ(m.thread().references_size(), 2);
  EXPECT_EQ(m.thread().references(0), "first@acme.test");
  EXPECT_EQ(m.text_body(), "Die Rechnung ist falsch, bitte überprüfen.");
  EXPECT_NE(m.full_text_body().find("> Ihre Rechnung"), std::string::npos);
  EXPECT_EQ(m.sent_at_ms(), 1795165200000);
  ASSERT_EQ(m.attachments_size(), 1);
  const auto& a = m.attachments(0);
  EXPECT_EQ(a.name(), "Rechnung März.pdf");
  EXPECT_EQ(a.content_type(), "application/pdf");
  EXPECT_EQ(a.size_bytes(), 9u);
  EXPECT_EQ(a.sha256(), crypto::sha256_hex("%PDF-1.4\n"));
  // The content is in the store, addressed by its hash.
  std::ifstream stored(dir.path() + "/" + a.sha256().substr(0, 2) + "/" + a.sha256());
  std::stringstream ss;
  ss << stored.rdbuf();
  EXPECT_EQ(ss.str(), "%PDF-1.4\n");
}

TEST(EmailMime, CharsetsAndTheirUsualMislabels) {
  EXPECT_EQ(parsed("02-cp1252-labelled-latin1.eml").text_body(), "It costs €20 “only” – café.");
  const auto utf8 = parsed("03-utf8-labelled-latin1.eml");
  EXPECT_EQ(utf8.subject(), "Grüße");
  EXPECT_EQ(utf8.text_body(), "Grüße aus Köln – 東京 ✓");
  const auto jp = parsed("07-iso2022jp-koi8r.eml");
  EXPECT_EQ(jp.text_body(), "お問い合わせありがとうございます。");
  EXPECT_EQ(jp.subject(), "Привет");
  EXPECT_EQ(jp.customer_display_name(), "山田");
  EXPECT_EQ(parsed("16-no-message-id-base64.eml").text_body(), "Thanks 👍 works now");
  EXPECT_EQ(to_utf8("caf\xe9", "x-no-such-charset"), "café");
  EXPECT_EQ(to_utf8("\xff\xfe", "utf-8"), "ÿþ");  // invalid "UTF-8": read as windows-1252
}

TEST(EmailMime, HtmlOnlyBecomesReadableTextWithoutTagsOrScripts) {
  const auto m = parsed("04-html-only.eml");
  EXPECT_EQ(m.text_body(),
            "Hello team,\nmy order\u00a0#55 is late.\n- item one\n- item two\nThanks");
  EXPECT_EQ(m.text_body().find("alert"), std::string::npos);
  EXPECT_EQ(m.text_body().find("evil"), std::string::npos);
  EXPECT_EQ(m.text_body().find("color"), std::string::npos);
  EXPECT_NE(m.html_body().find("<b>team</b>"), std::string::npos);  // kept as received
}

TEST(EmailMime, PlainIsPreferredInlineImagesAreFlaggedAndNamesLoseTheirPaths) {
  EXPECT_EQ(parsed("05-alternative.eml").text_body(), "Plain version");
  const auto m = parsed("06-nested-inline.eml");
  EXPECT_EQ(m.text_body(), "See the screenshot.");
  ASSERT_EQ(m.attachments_size(), 2);
  EXPECT_EQ(m.attachments(0).content_type(), "image/png");
  EXPECT_TRUE(m.attachments(0).inline_());
  EXPECT_EQ(m.attachments(1).name(), "data.csv");
  EXPECT_FALSE(m.attachments(1).inline_());
}

TEST(EmailMime, BouncesAreFlaggedAndNameTheMessageTheyReportOn) {
  Parsed p;
  std::string why;
  ASSERT_EQ(parse(corpus("08-bounce-dsn.eml"), Limits{}, "", p, why), Outcome::kOk);
  EXPECT_EQ(p.message.auto_generated(), v1::AUTO_GENERATED_BOUNCE);
  EXPECT_EQ(p.bounce.original_message_id, "o.acme.C77.9.abc@acme.test");
  EXPECT_EQ(p.bounce.action, "failed");
  EXPECT_EQ(p.bounce.status, "5.1.1");
  EXPECT_EQ(p.bounce.recipient, "nobody@example.com");
  EXPECT_NE(p.bounce.diagnostic.find("550 5.1.1"), std::string::npos);
}

TEST(EmailMime, MachineWrittenMailIsFlaggedPeopleAreNot) {
  EXPECT_EQ(parsed("09-out-of-office.eml").auto_generated(), v1::AUTO_GENERATED_AUTO_REPLY);
  EXPECT_EQ(parsed("10-mailing-list.eml").auto_generated(), v1::AUTO_GENERATED_MAILING_LIST);
  EXPECT_EQ(parsed("11-bulk.eml").auto_generated(), v1::AUTO_GENERATED_BULK);
  EXPECT_EQ(parsed("01-german-qp-rfc2231.eml").auto_generated(), v1::AUTO_GENERATED_NONE);
  EXPECT_EQ(parsed("14-outlook-quote.eml").auto_generated(), v1::AUTO_GENERATED_NONE);
}

TEST(EmailMime, ForwardedMessagesQuotesSignaturesAndInjectedHeaders) {
  const auto fwd = parsed("12-forwarded.eml");
  EXPECT_EQ(fwd.text_body(), "See below, this is wrong.");
  EXPECT_NE(fwd.full_text_body().find("Total: 99 EUR"), std::string::npos);
  ASSERT_EQ(fwd.attachments_size(), 1);
  EXPECT_EQ(fwd.attachments(0).content_type(), "message/rfc822");
  EXPECT_EQ(parsed("14-outlook-quote.eml").text_body(), "Still waiting, please check.");
  const auto sig = parsed("15-signature.eml");
  EXPECT_EQ(sig.text_body(), "Can I change my address?");
  EXPECT_NE(sig.full_text_body().find("CEO, Example Ltd"), std::string::npos);
  const auto inj = parsed("13-header-injection.eml");
  EXPECT_EQ(inj.subject(), "Hello Bcc: x@evil.example");
  EXPECT_EQ(inj.customer_handle(), "mallory@example.com");
}

TEST(EmailMime, BrokenStructureStillYieldsWhatCanBeRead) {
  const auto m = parsed("17-broken.eml");
  EXPECT_EQ(m.text_body(), "Text with é byte");
  EXPECT_EQ(m.attachments_size(), 1);
  // Without a Message-ID the id is the content's hash: a re-read is recognized.
  const auto a = parsed("16-no-message-id-base64.eml"), b = parsed("16-no-message-id-base64.eml");
  EXPECT_EQ(a.external_message_id().rfind("sha256:", 0), 0u);
  EXPECT_EQ(a.external_message_id(), b.external_message_id());
}

std::string header(const std::string& extra = "") {
  return "From: x@example.com\r\nTo: support@acme.test\r\nSubject: big\r\nMessage-ID: "
         "<big@example.com>\r\nMIME-Version: 1.0\r\n" +
         extra;
}

TEST(EmailMime, TwentyThousandPartsAreCutAtTheLimitAndFlagged) {
  std::string raw = header("Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n");
  raw += "--p\r\nContent-Type: text/plain\r\n\r\nthe text\r\n";
  for (int i = 0; i < 20000; ++i)
    raw +=
        fmt::format("--p\r\nContent-Type: application/octet-stream; name=f{}.bin\r\n\r\nx\r\n", i);
  raw += "--p--\r\n";
  Parsed p;
  std::string why;
  ASSERT_EQ(parse(raw, Limits{}, "", p, why), Outcome::kOk);
  EXPECT_EQ(p.message.text_body(), "the text");
  EXPECT_EQ(p.message.attachments_size(), Limits{}.max_attachments);
  EXPECT_NE(std::find(p.message.truncated().begin(), p.message.truncated().end(), "parts"),
            p.message.truncated().end());
}

TEST(EmailMime, AHundredNestingLevelsAreCutAtTheDepthLimit) {
  std::string raw = header("Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
  for (int i = 0; i < 100; ++i)
    raw +=
        fmt::format("--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n", i, i + 1);
  raw += "--b100\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n--b100--\r\n";
  for (int i = 99; i >= 0; --i) raw += fmt::format("--b{}--\r\n", i);
  Parsed p;
  std::string why;
  ASSERT_EQ(parse(raw, Limits{}, "", p, why), Outcome::kOk);
  EXPECT_NE(std::find(p.message.truncated().begin(), p.message.truncated().end(), "depth"),
            p.message.truncated().end());
  EXPECT_EQ(p.message.customer_handle(), "x@example.com");
}

TEST(EmailMime, OversizedHeadersAreRejectedOversizedMessagesCutGarbageIsNotAMessage) {
  Parsed p;
  std::string why;
  Limits small;
  small.max_header_bytes = 1024;
  std::string huge_header = header("X-Filler: " + std::string(4000, 'a') + "\r\n\r\nbody\r\n");
  EXPECT_EQ(parse(huge_header, small, "", p, why), Outcome::kRejected);
  EXPECT_NE(why.find("header block"), std::string::npos) << why;

  small.max_message_bytes = 2048;
  std::string big = header("Content-Type: text/plain\r\n\r\n") + std::string(10000, 'z');
  ASSERT_EQ(parse(big, small, "", p, why), Outcome::kOk);
  EXPECT_EQ(p.message.truncated(0), "message_bytes");
  EXPECT_LT(p.message.text_body().size(), 2048u);

  EXPECT_EQ(parse(std::string("\x00\x01\x02 binary junk", 15), Limits{}, "", p, why),
            Outcome::kNotAMessage);
  EXPECT_EQ(parse("", Limits{}, "", p, why), Outcome::kNotAMessage);
}

TEST(EmailMime, HtmlToTextSurvivesHostileDocuments) {
  // Nesting as deep as mail clients produce keeps its text; libxml2 stops at its depth
  // limit (256) for anything deeper, without crashing or recursing on our side.
  std::string deep, deeper;
  for (int i = 0; i < 200; ++i) deep += "<div>";
  deep += "inside";
  EXPECT_NE(html_to_text(deep, 1 << 20).find("inside"), std::string::npos);
  for (int i = 0; i < 100000; ++i) deeper += "<div><span>";
  EXPECT_LE(html_to_text(deeper + "x", 1 << 20).size(), 1u << 20);
  EXPECT_EQ(html_to_text("<script>x()</script><p>ok</p>", 1 << 20), "ok");
  EXPECT_LE(html_to_text("<p>" + std::string(5000, 'a') + "</p>", 100).size(), 100u);
}

TEST(EmailMime, OurMessageIdsLeadBackToTheOutboundMessageTheyWereMadeFor) {
  const std::string ours = outbound_message_id("acme/C7/2", "acme.test");
  EXPECT_EQ(router_message_id(ours), "outbound:acme/C7/2");
  EXPECT_EQ(router_message_id("abc@mail.example.de"), "abc@mail.example.de");
  EXPECT_EQ(router_message_id("o-zz@x"), "o-zz@x");      // not hex: not ours
  EXPECT_EQ(router_message_id("o-0a0d@x"), "o-0a0d@x");  // controls: not ours
  const std::string reply =
      "From: ana@example.com\r\nSubject: Re: x\r\nMessage-ID: <r@e>\r\n"
      "In-Reply-To: <" +
      ours + ">\r\nReferences: <m1@e> <" + ours + ">\r\n\r\nthanks\r\n";
  Parsed p;
  std::string why;
  ASSERT_EQ(parse(reply, Limits{}, "", p, why), Outcome::kOk);
  EXPECT_EQ(p.message.thread().in_reply_to(), "outbound:acme/C7/2");
  ASSERT_EQ(p.message.thread().references_size(), 2);
  EXPECT_EQ(p.message.thread().references(1), "outbound:acme/C7/2");
}

TEST(EmailMime, RawEightBitHeadersAndControlCharactersComeOutAsCleanUtf8) {
  // Found by the fuzzer: a Latin-1 subject without encoded words, NUL bytes in the body.
  const std::string raw = std::string(
                              "From: x@example.com\r\nSubject: Caf\xe9 \xfc"
                              "\r\n") +
                          "Message-ID: <n@e>\r\n\r\nbefore" + std::string(1, '\0') +
                          "\x05"
                          "after\r\n";
  Parsed p;
  std::string why;
  ASSERT_EQ(parse(raw, Limits{}, "", p, why), Outcome::kOk);
  EXPECT_EQ(p.message.subject(), "Café ü");
  EXPECT_EQ(p.message.text_body(), "beforeafter");
  std::string wire;
  ASSERT_TRUE(p.message.SerializeToString(&wire));
  v1::InboundMessage back;
  EXPECT_TRUE(back.ParseFromString(wire)) << "every string field is valid UTF-8";
}

}  // namespace
}  // namespace omniroute::connectors::email
