// The omniroute binary as a user runs it.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/support.h"

namespace omniroute::testing {
namespace {

struct Result {
  int code = -1;
  std::string out;  // stdout and stderr
};

Result run_shell(const std::string& command) {
  Result r;
  FILE* p = popen(("(" + command + ") 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

Result run(const std::string& args) {
  return run_shell(omniroute_binary() + " " + args);
}

TEST(Cli, PasswdPrintsAnArgon2idHashOrAWholeAccount) {
  Result h = run_shell("echo 'correct horse' | " + omniroute_binary() + " passwd");
  ASSERT_EQ(h.code, 0) << h.out;
  EXPECT_EQ(h.out.rfind("$argon2id$v=19$", 0), 0u) << h.out;
  Result acc = run_shell("echo 'correct horse' | " + omniroute_binary() +
                         " passwd -l ana -w acme -a alice --supervisor");
  ASSERT_EQ(acc.code, 0) << acc.out;
  EXPECT_NE(acc.out.find("login: ana"), std::string::npos);
  EXPECT_NE(acc.out.find("role: supervisor"), std::string::npos);
  EXPECT_EQ(acc.out.find("correct horse"), std::string::npos) << "never the password";
  EXPECT_EQ(run_shell("echo short | " + omniroute_binary() + " passwd").code, 1);
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* sub : {"up", "router", "connect", "broker", "agent", "agent keygen", "normalize",
                          "inspect", "bench", "config check", "passwd", "workspace", "analytics"}) {
    Result r = run(fmt::format("{} --help", sub));
    EXPECT_EQ(r.code, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub << ": " << r.out;
  }
}

TEST(Cli, ConfigCheckAcceptsTheExampleAndNamesBadKeys) {
  TempDir dir;
  const std::string example = fmt::format("{}/config/omniroute.yaml", OMNIROUTE_SOURCE_DIR);
  // On a fresh clone the agents have no keys yet: the check warns that they cannot sign in
  // and says how to make the keys.
  const std::string in_dir = "cd " + dir.path() + " && " + omniroute_binary() + " ";
  Result none = run_shell(in_dir + "config check " + example);
  EXPECT_EQ(none.code, 0) << none.out;
  EXPECT_NE(none.out.find("cannot sign in"), std::string::npos) << none.out;
  EXPECT_NE(none.out.find("omniroute agent keygen"), std::string::npos) << none.out;
  EXPECT_NE(none.out.find("2 warnings"), std::string::npos) << none.out;
  // What scripts/up.sh does first.
  Result keygen = run_shell(in_dir + "agent keygen --all --config " + example);
  EXPECT_EQ(keygen.code, 0) << keygen.out;
  EXPECT_NE(keygen.out.find("keygen: 2 new key pairs in var/keys"), std::string::npos)
      << keygen.out;
  Result ok = run_shell(in_dir + "config check " + example);
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("ok (1 workspaces, 2 inboxes, 2 agents)\n"), std::string::npos) << ok.out;
  std::ofstream(dir.file("bad.yaml")) << "router:\n  offer_timeout_ms: 5\n  colour: red\n";
  Result bad = run("config check " + dir.file("bad.yaml"));
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("line 2: router.offer_timeout_ms: must be between 100"), std::string::npos)
      << bad.out;
  EXPECT_NE(bad.out.find("line 3: router.colour: unknown key"), std::string::npos) << bad.out;
}

TEST(Cli, NormalizeWebhookPrintsCanonicalJsonAndRejectsGarbage) {
  TempDir dir;
  std::ofstream(dir.file("m.json"))
      << R"({"externalMessageId":"e1","customerHandle":"c@x","textBody":"hi"})";
  Result r = run("normalize webhook " + dir.file("m.json"));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"external_message_id\": \"e1\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CHANNEL_WEBHOOK"), std::string::npos);
  std::ofstream(dir.file("bad.json")) << "not json";
  Result bad = run("normalize webhook " + dir.file("bad.json"));
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("invalid InboundMessage JSON"), std::string::npos);
}

TEST(Cli, NormalizeEveryChannelAndProvider) {
  TempDir dir;
  std::ofstream(dir.file("sms.txt"))
      << "MessageSid=SM1&AccountSid=AC1&From=%2B14155550123&To=%2B14155550100&Body=STOP";
  Result sms = run("normalize sms --provider twilio " + dir.file("sms.txt"));
  EXPECT_EQ(sms.code, 0) << sms.out;
  EXPECT_NE(sms.out.find("\"customer_handle\": \"+14155550123\""), std::string::npos) << sms.out;
  EXPECT_EQ(run("normalize sms --provider nexmo " + dir.file("sms.txt")).code, 2);
  std::ofstream(dir.file("wa.json"))
      << R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages",
         "value":{"metadata":{"phone_number_id":"PN1"},"messages":[{"from":"4915112345678",
         "id":"wamid.1","timestamp":"1700000000","type":"text","text":{"body":"Oi"}}]}}]}]})";
  for (const std::string cmd : {"normalize social --provider whatsapp ", "normalize whatsapp "}) {
    Result wa = run(cmd + dir.file("wa.json"));
    EXPECT_EQ(wa.code, 0) << wa.out;
    EXPECT_NE(wa.out.find("+4915112345678"), std::string::npos) << wa.out;
    EXPECT_NE(wa.out.find("CHANNEL_WHATSAPP"), std::string::npos) << wa.out;
  }
  EXPECT_EQ(run("normalize social " + dir.file("wa.json")).code, 2) << "needs --provider";
  std::ofstream(dir.file("tg.json"))
      << R"({"update_id":1,"message":{"message_id":5,"chat":{"id":7},"date":1,"text":"hi",
         "from":{"id":7,"language_code":"de"}}})";
  Result tg = run("normalize social --provider telegram " + dir.file("tg.json"));
  EXPECT_EQ(tg.code, 0) << tg.out;
  EXPECT_NE(tg.out.find("\"language\": \"de\""), std::string::npos) << tg.out;
  std::ofstream(dir.file("chat.json"))
      << R"({"visitor":"v1","name":"Ana","email":"ana@example.com","id":"c1","text":"Olá"})";
  Result chat = run("normalize chat " + dir.file("chat.json"));
  EXPECT_EQ(chat.code, 0) << chat.out;
  EXPECT_NE(chat.out.find("\"external_message_id\": \"v1:c1\""), std::string::npos) << chat.out;
  std::ofstream(dir.file("fb.json")) << R"({"object":"page","entry":[]})";
  Result fb = run("normalize messenger " + dir.file("fb.json"));
  EXPECT_EQ(fb.code, 1) << "no customer message in it";
}

TEST(Cli, UpDemoDeliversEveryMessageAndExitsZero) {
  TempDir dir;
  ConfigParams p;
  p.state_dir = dir.path() + "/state";
  p.keys_dir = dir.path() + "/keys";  // the scripted desks read the agents' secret keys
  std::ofstream(dir.file("c.yaml")) << config_yaml(p);
  Result r = run(fmt::format("up --config {} --demo --demo-messages 30 --demo-timeout 60",
                             dir.file("c.yaml")));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("messages in (202 from the webhook):        30 of 30"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("delivered (signed callbacks received):     30"), std::string::npos)
      << r.out;
  // The state it left behind can be inspected.
  Result i = run(fmt::format("inspect conversation C1 --config {}", dir.file("c.yaml")));
  EXPECT_EQ(i.code, 0) << i.out;
  EXPECT_NE(i.out.find("CONVERSATION_STATE_RESOLVED"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("STATE_SENT"), std::string::npos) << i.out;
  // The decision trail: classified, offered with the agents considered, accepted, resolved.
  EXPECT_NE(i.out.find("decisions:"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("CLASSIFIED"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find(" OFFERED "), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("      + "), std::string::npos) << i.out;  // an eligible candidate
  EXPECT_NE(i.out.find(" RESOLVED "), std::string::npos) << i.out;
  Result q = run(fmt::format("inspect queue general --config {}", dir.file("c.yaml")));
  EXPECT_EQ(q.code, 0) << q.out;
  EXPECT_NE(q.out.find("(empty)"), std::string::npos) << q.out;  // all served
  Result a = run(fmt::format("inspect agent alice --config {}", dir.file("c.yaml")));
  EXPECT_EQ(a.code, 0) << a.out;
  EXPECT_NE(a.out.find("load: none"), std::string::npos) << a.out;
  // The customer of C1, its handles and conversations.
  Result cu = run(fmt::format("inspect customer U1 --config {}", dir.file("c.yaml")));
  EXPECT_EQ(cu.code, 0) << cu.out;
  EXPECT_NE(cu.out.find("group U1: handles [webhook:"), std::string::npos) << cu.out;
  EXPECT_NE(cu.out.find("      C1 webhook "), std::string::npos) << cu.out;
}

TEST(Cli, BenchWithATinyRunWritesCompleteResults) {
  TempDir dir;
  Result r = run(fmt::format(
      "bench -n 2000 --workspaces 1 --conversations 200 --agents 4 --fixed-rate-seconds 1 "
      "--state-conversations 2000 --decision-agents 200 --decision-queues 20 "
      "--decision-conversations 500 --out {}",
      dir.path()));
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream in(dir.file("latest.json"));
  ASSERT_TRUE(in.good());
  auto j = nlohmann::json::parse(in);
  for (const char* key :
       {"machine", "commit", "config", "baseline_kafka", "baseline_rocksdb", "baseline_zeromq",
        "end_to_end", "large_state", "routing_decisions", "email_normalize", "summary"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["end_to_end"]["received"].get<int>(), 2000);
  EXPECT_GT(j["summary"]["end_to_end_msgs_per_s"].get<double>(), 0);
  EXPECT_GT(j["summary"]["ratio_end_to_end_to_slowest_baseline"].get<double>(), 0);
  EXPECT_EQ(j["end_to_end"]["publish_to_offer"]["count"].get<int>(), 200);
  EXPECT_GT(j["large_state"]["restart_to_processing_seconds"].get<double>(), 0);
  EXPECT_GT(j["email_normalize"]["multipart_48k_attachment_msgs_per_s"].get<double>(), 0);
  EXPECT_GT(j["large_state"]["router_rss_bytes"].get<double>(), 0);
  EXPECT_NE(r.out.find("ratio end to end / slowest baseline"), std::string::npos);
}

// A router with no local state takes 8 partitions over at once and restores them from the
// changelog side by side: every conversation the engine wrote is in its stores afterwards,
// and each partition's announcement says how many records it restored. Then it is killed and
// a second router with no local copy restores everything again.
TEST(Cli, RestoreBenchRestoresEveryConversationFromTheChangelog) {
  TempDir dir;
  Result r = run(
      fmt::format("bench --restore 3000 --restore-partitions 8 --restore-session-ms 6000 --out {}",
                  dir.path()));
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream in(dir.file("restore.json"));
  ASSERT_TRUE(in.good());
  const auto j = nlohmann::json::parse(in)["restore"];
  EXPECT_EQ(j["restored_conversations"].get<int>(), 3000);
  EXPECT_EQ(j["restored_records"].get<int64_t>(), j["changelog_records"].get<int64_t>())
      << "every record written, read back once";
  EXPECT_GT(j["conversations_per_second"].get<double>(), 0);
  EXPECT_EQ(j["router_exit_status"].get<int>(), 0) << "SIGTERM after the restore: a clean exit";
  // Its owner killed, a router with no local copy takes every partition over.
  EXPECT_EQ(j["kill"]["taken_over_conversations"].get<int>(), 3000);
  // Everything written, and at least the first owner's mark on each of the 8 partitions.
  EXPECT_GE(j["kill"]["restored_records"].get<int64_t>(),
            j["changelog_records"].get<int64_t>() + 8);
  EXPECT_GT(j["kill"]["kill_to_all_served_seconds"].get<double>(),
            j["kill"]["restore_seconds"].get<double>());
}

}  // namespace
}  // namespace omniroute::testing
