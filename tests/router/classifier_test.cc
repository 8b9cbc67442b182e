// Classification: language from the message, the customer, detection, or the workspace;
// the first matching rule, else the inbox's queue.
#include "router/classifier.h"

#include <gtest/gtest.h>

namespace omniroute::router {
namespace {

config::Config parse(const std::string& extra) {
  std::vector<std::string> errors;
  auto cfg = config::parse(R"(kafka: {brokers: embedded}
state: {dir: /tmp/unused}
router: {agent_auth: none, insecure: true, agent_endpoint: "tcp://127.0.0.1:*"}
workspaces:
  - id: w
    default_language: en
    queues: [{id: general}, {id: vip}]
    inboxes: [{id: api, channel: webhook, queue: general}]
    agents: [{id: a, capacity: {webhook: 1}}]
)" + extra,
                           errors);
  EXPECT_TRUE(cfg) << (errors.empty() ? "" : errors.front());
  return cfg ? *cfg : config::Config{};
}

TEST(Classifier, LanguageComesFromTheMessageTheCustomerDetectionOrTheWorkspace) {
  auto cfg = parse("");
  const auto& ws = cfg.workspaces[0];
  v1::InboundMessage m;
  m.set_language("de-AT");
  auto c = classify(ws, ws.inboxes[0], m, "fr", {});
  EXPECT_EQ(c.language, "de");
  EXPECT_EQ(c.language_source, "message");
  m.clear_language();
  EXPECT_EQ(classify(ws, ws.inboxes[0], m, "fr", {}).language_source, "customer");
  m.set_text_body("Bonjour, je voudrais annuler ma commande et obtenir un remboursement complet.");
  auto d = classify(ws, ws.inboxes[0], m, "", {});
  EXPECT_EQ(d.language, "fr");
  EXPECT_EQ(d.language_source, "detected");
  m.set_text_body("ok");
  auto w = classify(ws, ws.inboxes[0], m, "", {});
  EXPECT_EQ(w.language, "en");
  EXPECT_EQ(w.language_source, "workspace");
  EXPECT_EQ(w.queue, "general");
  EXPECT_EQ(w.rule, "");
}

TEST(Classifier, TheFirstMatchingRuleDecidesQueueAndPriority) {
  auto cfg = parse(R"(    rules:
      - name: invoices
        match: {keywords: [invoice, refund]}
        set: {queue: vip}
      - name: vip
        match: {customer: {vip: "true"}}
        set: {priority: 5}
)");
  ASSERT_FALSE(cfg.workspaces.empty());
  const auto& ws = cfg.workspaces[0];
  v1::InboundMessage m;
  m.set_text_body("where is my refund?");
  auto c = classify(ws, ws.inboxes[0], m, "", {{"vip", "true"}});
  EXPECT_EQ(c.rule, "invoices");
  EXPECT_EQ(c.queue, "vip");
  EXPECT_EQ(c.priority, 0) << "only the first match applies";
  m.set_text_body("hello");
  auto v = classify(ws, ws.inboxes[0], m, "", {{"vip", "true"}});
  EXPECT_EQ(v.rule, "vip");
  EXPECT_EQ(v.priority, 5);
  EXPECT_EQ(v.queue, "general");
}

TEST(Classifier, DetectionIsUnsureOnShortOrInvalidText) {
  EXPECT_EQ(detect_language("ok"), "");
  EXPECT_EQ(detect_language(std::string("\xff\xfe\xfd", 3)), "");
}

}  // namespace
}  // namespace omniroute::router
