// What connectors share for satisfaction surveys (connectors/sdk/survey.h): the payload a
// button carries, its caption, the SMS text, a digit reply, and a press turned into the
// answer the router takes.
#include <gtest/gtest.h>

#include "connectors/sdk/survey.h"

namespace omniroute {
namespace {

v1::Survey survey(const std::string& lang = "en") {
  v1::Survey s;
  s.set_survey_id("acme/C12/7");
  s.set_question("How did we do?");
  s.set_scale(5);
  s.set_language(lang);
  return s;
}

TEST(Survey, PayloadRoundTripsAndRefusesLookalikes) {
  const std::string p = sdk::survey_payload(survey(), 4);
  EXPECT_EQ(p, "csat:acme/C12/7:4");
  std::string id;
  uint32_t rating = 0;
  ASSERT_TRUE(sdk::parse_survey_payload(p, &id, &rating));
  EXPECT_EQ(id, "acme/C12/7");
  EXPECT_EQ(rating, 4u);
  for (const char* bad : {"csat:acme/C12/7:6", "csat:acme/C12/7:0", "csat::4", "csat:x:45",
                          "CSAT:acme/C1/1:4", "order:acme/C1/1:4", "csat:acme/C1/1"})
    EXPECT_FALSE(sdk::parse_survey_payload(bad, &id, &rating)) << bad;
  EXPECT_FALSE(sdk::parse_survey_payload("csat:" + std::string(400, 'x') + ":4", &id, &rating));
}

TEST(Survey, CaptionsAndTextInTheCustomersLanguage) {
  EXPECT_EQ(sdk::rating_caption(3, 5), "3 \u2605\u2605\u2605");
  EXPECT_EQ(sdk::survey_text(survey()),
            "How did we do?\nReply with a number from 1 (bad) to 5 (excellent).");
  EXPECT_EQ(sdk::survey_text(survey("de-AT")),
            "How did we do?\nAntworten Sie mit einer Zahl von 1 (schlecht) bis 5 (ausgezeichnet).");
  EXPECT_NE(sdk::survey_text(survey("ja")).find("Reply with a number"), std::string::npos)
      << "English when the product has no text for the language";
}

TEST(Survey, DigitRepliesAndWhatIsNotOne) {
  uint32_t r = 0;
  std::string c;
  struct Case {
    const char* text;
    uint32_t rating;
    const char* comment;
  };
  for (const Case& k :
       {Case{"4", 4, ""}, Case{" 5!", 5, ""}, Case{"4 - quick, thanks", 4, "quick, thanks"},
        Case{"3/5", 3, ""}, Case{"2. slow\nreally", 2, "slow\nreally"}}) {
    ASSERT_TRUE(sdk::parse_digit_reply(k.text, 5, &r, &c)) << k.text;
    EXPECT_EQ(r, k.rating) << k.text;
    EXPECT_EQ(c, k.comment) << k.text;
  }
  for (const char* no : {"45", "4pm works", "0", "6", "yes", "", "  ", "five"})
    EXPECT_FALSE(sdk::parse_digit_reply(no, 5, &r, &c)) << no;
  EXPECT_FALSE(sdk::parse_digit_reply("4", 3, &r, &c)) << "out of a 3-point scale";
}

TEST(Survey, APressReportedAsAMessageBecomesTheAnswer) {
  v1::InboundMessage m;
  m.set_workspace_id("acme");
  m.set_inbox_id("wa");
  m.set_channel(v1::CHANNEL_WHATSAPP);
  m.set_customer_handle("+5511987654321");
  m.set_external_message_id("wamid.9");
  m.set_received_at_ms(1234);
  v1::Envelope out;
  EXPECT_FALSE(sdk::as_survey_answer(m, &out)) << "a plain message";
  (*m.mutable_provider_metadata())["reply_id"] = "csat:acme/C12/7:2";
  ASSERT_TRUE(sdk::as_survey_answer(m, &out));
  const auto& a = out.csat();
  EXPECT_EQ(a.survey_id(), "acme/C12/7");
  EXPECT_EQ(a.rating(), 2u);
  EXPECT_EQ(a.customer_handle(), "+5511987654321");
  EXPECT_EQ(a.inbox_id(), "wa");
  EXPECT_EQ(a.external_id(), "wamid.9");
  // Telegram's callback data and Messenger's quick reply payload, too.
  for (const char* key : {"callback_data", "quick_reply_payload"}) {
    v1::InboundMessage t = m;
    t.mutable_provider_metadata()->clear();
    (*t.mutable_provider_metadata())[key] = "csat:acme/C12/7:5";
    v1::Envelope e;
    ASSERT_TRUE(sdk::as_survey_answer(t, &e)) << key;
    EXPECT_EQ(e.csat().rating(), 5u);
  }
}

}  // namespace
}  // namespace omniroute
