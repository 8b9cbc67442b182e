#include "config/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "connectors/host/host.h"
#include "tests/support/support.h"

namespace omniroute::config {
namespace {

bool any_contains(const std::vector<std::string>& errors, const std::string& needle) {
  for (const auto& e : errors)
    if (e.find(needle) != std::string::npos) return true;
  return false;
}

TEST(Config, ExampleFileIsValid) {
  // Its agents' keys are made by `omniroute agent keygen --all` (scripts/up.sh) in
  // var/keys, relative to where omniroute runs: here, a temp dir.
  testing::TempDir dir;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  for (const char* agent : {"alice", "bob"}) {
    const auto pair = testing::test_agent_keys("acme", agent);
    std::filesystem::create_directories("var/keys/acme");
    std::ofstream(std::string("var/keys/acme/") + agent + ".pub") << pair.public_key << "\n";
  }
  std::vector<std::string> errors;
  auto cfg = load_file(std::string(OMNIROUTE_SOURCE_DIR) + "/config/omniroute.yaml", errors);
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(cfg) << errors.front();
  connectors::validate(*cfg, sdk::builtin_registry(), errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(cfg->workspaces.size(), 1u);
  EXPECT_EQ(cfg->workspaces[0].agents.size(), 2u);
  EXPECT_EQ(cfg->workspaces[0].agents[0].capacity.at(v1::CHANNEL_WEBHOOK), 3);
}

TEST(Config, WorkspaceAccountsMustNameRealAgentsWithArgon2idHashes) {
  const std::string base =
      R"(router: {agent_auth: none, insecure: true, agent_endpoint: "tcp://127.0.0.1:*"}
workspaces:
  - id: acme
    queues: [{id: q}]
    inboxes: [{id: i, channel: webhook, queue: q}]
    agents:
      - {id: alice, capacity: {webhook: 1}}
      - {id: sam, supervisor: true, capacity: {webhook: 1}}
agent_workspace:
  session_idle_minutes: 10
  accounts:
)";
  const std::string hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaA";
  std::vector<std::string> errors;
  auto ok =
      parse(base + "    - {login: a, workspace: acme, agent: alice, password_hash: \"" + hash +
                "\"}\n    - {login: s, workspace: acme, agent: sam, role: supervisor, " +
                "password_hash: \"" + hash + "\"}\n",
            errors);
  ASSERT_TRUE(ok) << errors.front();
  EXPECT_TRUE(ok->agent_workspace.enabled);
  EXPECT_EQ(ok->agent_workspace.session_idle_ms, 600000);
  ASSERT_NE(ok->agent_workspace.account("s"), nullptr);
  EXPECT_EQ(ok->agent_workspace.account("s")->role, Role::kSupervisor);
  errors.clear();
  auto bad = parse(base + "    - {login: a, workspace: acme, agent: bob, password_hash: \"" + hash +
                       "\"}\n    - {login: a, workspace: acme, agent: alice, role: supervisor, " +
                       "password_hash: plain}\n",
                   errors);
  EXPECT_FALSE(bad);
  EXPECT_TRUE(any_contains(errors, "agent_workspace.accounts[0].agent: no agent 'bob'"));
  EXPECT_TRUE(any_contains(errors, "accounts[1].login: login 'a' is used twice"));
  EXPECT_TRUE(any_contains(errors, "accounts[1].password_hash: must be an argon2id hash"));
  EXPECT_TRUE(any_contains(errors, "accounts[1].role: supervisor accounts need"));
  EXPECT_FALSE(any_contains(errors, "plain")) << "secrets never appear in errors";
}

TEST(Config, UnknownKeyIsAnErrorNamingKeyAndLine) {
  std::vector<std::string> errors;
  auto cfg = parse("kafka:\n  brokers: embedded\n  bogus: 1\n", errors);
  EXPECT_FALSE(cfg);
  EXPECT_TRUE(any_contains(errors, "line 3: kafka.bogus: unknown key")) << errors.front();
}

TEST(Config, BadValuesNameTheKey) {
  std::vector<std::string> errors;
  auto cfg = parse(R"(router:
  heartbeat_interval_ms: fast
workspaces:
  - id: w
    queues: [{id: q}]
    inboxes:
      - {id: i, channel: pigeon, queue: nope}
    agents:
      - {id: a, capacity: {webhook: -1}}
)",
                   errors);
  EXPECT_FALSE(cfg);
  EXPECT_TRUE(any_contains(errors, "router.heartbeat_interval_ms: must be an integer"));
  EXPECT_TRUE(any_contains(errors, "workspaces[0].inboxes[0].channel: unknown channel 'pigeon'"));
  EXPECT_TRUE(any_contains(errors, "workspaces[0].inboxes[0].queue: no queue 'nope'"));
  EXPECT_TRUE(
      any_contains(errors, "workspaces[0].agents[0].capacity.webhook: must be between 0 and 1000"));
}

TEST(Config, DuplicateIdsAreErrors) {
  std::vector<std::string> errors;
  auto cfg = parse("workspaces:\n  - id: w\n    queues: [{id: q}, {id: q}]\n", errors);
  EXPECT_FALSE(cfg);
  EXPECT_TRUE(any_contains(errors, "duplicate queue id q"));
}

TEST(Config, SecretsComeFromEnvironmentAndFiles) {
  testing::TempDir dir;
  std::ofstream(dir.file("secret")) << "from-file\n";
  setenv("OMNIROUTE_TEST_TOKEN", "from-env", 1);
  std::vector<std::string> errors;
  auto cfg = parse(
      "router: {agent_auth: token}\n"
      "workspaces:\n  - id: w\n    queues: [{id: q}]\n    agents:\n"
      "      - {id: a, token: {env: OMNIROUTE_TEST_TOKEN}}\n"
      "      - {id: b, token: {file: " +
          dir.file("secret") + "}}\n",
      errors);
  ASSERT_TRUE(cfg) << errors.front();
  EXPECT_EQ(cfg->workspaces[0].agents[0].token, "from-env");
  EXPECT_EQ(cfg->workspaces[0].agents[1].token, "from-file");
}

TEST(Config, MissingSecretEnvironmentVariableIsAnErrorWithoutTheValue) {
  std::vector<std::string> errors;
  auto cfg = parse(
      "workspaces:\n  - id: w\n    queues: [{id: q}]\n    agents:\n"
      "      - {id: a, token: {env: OMNIROUTE_TEST_UNSET_VAR}}\n",
      errors);
  EXPECT_FALSE(cfg);
  EXPECT_TRUE(any_contains(errors, "environment variable OMNIROUTE_TEST_UNSET_VAR is not set"));
}

TEST(Config, ConnectorSettingsAreValidatedByTheConnector) {
  std::vector<std::string> errors;
  auto cfg = parse(R"(connectors:
  webhook:
    listen: 127.0.0.1:0
    max_body_bytes: 0
    colour: blue
  fax: {}
workspaces:
  - id: w
    queues: [{id: q}]
    inboxes:
      - id: i
        channel: webhook
        queue: q
        settings: {callback_url: "http://x"}
)",
                   errors);
  ASSERT_TRUE(cfg);
  connectors::validate(*cfg, sdk::builtin_registry(), errors);
  EXPECT_TRUE(any_contains(errors, "connectors.webhook.max_body_bytes: must be between 1"));
  EXPECT_TRUE(any_contains(errors, "connectors.webhook.colour: unknown key"));
  EXPECT_TRUE(any_contains(errors, "connectors.fax: unknown connector"));
  EXPECT_TRUE(any_contains(errors, "workspaces[0].inboxes[0].settings.secret: is required"));
}

TEST(Config, InboxSettingsNamingAnotherInboxMustNameOneOfThatChannel) {
  std::vector<std::string> errors;
  auto cfg = parse(R"(workspaces:
  - id: w
    queues: [{id: q}]
    inboxes:
      - {id: api, channel: webhook, queue: q, settings: {secret: s}}
      - {id: web, channel: chat, queue: q, settings: {offline_email_inbox: api}}
      - {id: web2, channel: chat, queue: q, settings: {offline_email_inbox: nowhere}}
)",
                   errors);
  ASSERT_TRUE(cfg) << errors.front();
  connectors::validate(*cfg, sdk::builtin_registry(), errors);
  EXPECT_TRUE(any_contains(errors,
                           "inboxes[1].settings.offline_email_inbox: 'api' is not a email "
                           "inbox of workspace w"));
  EXPECT_TRUE(any_contains(errors, "inboxes[2].settings.offline_email_inbox: 'nowhere'"));
}

}  // namespace
}  // namespace omniroute::config

namespace omniroute::config {
namespace {

// The configuration reference in docs/routing.md is valid as written.
TEST(Config, RoutingDocExampleIsValid) {
  std::ifstream in(std::string(OMNIROUTE_SOURCE_DIR) + "/docs/routing.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const auto section = doc.find("## Configuration reference");
  ASSERT_NE(section, std::string::npos);
  const auto start = doc.find("```yaml\n", section) + 8;
  const auto end = doc.find("```", start);
  std::string yaml = "state: {dir: /tmp/unused}\n" + doc.substr(start, end - start);
  const std::string queues = "    queues:\n";
  yaml.replace(yaml.find(queues), queues.size(),
               "    inboxes: [{id: support-mail, channel: email, queue: general}]\n" + queues);
  std::vector<std::string> errors;
  // The example's agents take their keys from router.agent_keys_dir, which is not here.
  auto cfg = parse(yaml, errors, {.require_agent_credentials = false});
  ASSERT_TRUE(cfg) << errors.front();
  const auto& ws = cfg->workspaces.at(0);
  EXPECT_EQ(ws.rules.size(), 3u);
  EXPECT_EQ(ws.queue("billing")->overflow.size(), 2u);
  EXPECT_TRUE(ws.agent("alice")->shift);
  EXPECT_FALSE(ws.hours->always_open());
  EXPECT_TRUE(ws.agent("lead")->supervisor);
}

TEST(Config, RoutingMistakesAreErrorsWithTheKey) {
  std::vector<std::string> errors;
  auto cfg = parse(R"(state: {dir: /tmp/x}
workspaces:
  - id: w
    timezone: Mars/Olympus
    queues: [{id: q, strategy: fastest, skills: {billing: 7}, overflow: [{after_s: 10, queues: [nope]}]}]
    inboxes: [{id: i, channel: webhook, queue: q}]
    rules: [{match: {regex: "(unclosed"}, set: {queue: missing}}]
    agents: [{id: a, shift: {timezone: UTC, hours: {mon: ["25:00-26:00"]}}}]
)",
                   errors);
  EXPECT_FALSE(cfg);
  for (const char* what :
       {"unknown time zone 'Mars/Olympus'", "strategy", "skill level must be", "no queue 'nope'",
        "bad regex", "no queue 'missing'", "is not a range like"}) {
    EXPECT_TRUE(any_contains(errors, what)) << what;
  }
}

TEST(AgentAuth, EveryAgentNeedsTheCredentialOfTheChosenScheme) {
  std::vector<std::string> errors;
  const std::string ws = "workspaces:\n  - id: w\n    queues: [{id: q}]\n    agents: [{id: a}]\n";
  EXPECT_FALSE(parse(ws, errors));  // curve by default: a has no key
  EXPECT_TRUE(any_contains(errors, "agent a: has no CURVE public key")) << errors.front();
  errors.clear();
  EXPECT_FALSE(parse("router: {agent_auth: token}\n" + ws, errors));
  EXPECT_TRUE(any_contains(errors, "agent a: has no token"));
  errors.clear();
  EXPECT_FALSE(parse("router: {agent_auth: none}\n" + ws, errors));
  EXPECT_TRUE(any_contains(errors, "needs router.insecure: true"));
  errors.clear();
  EXPECT_FALSE(
      parse("router: {agent_auth: none, insecure: true, agent_endpoint: "
            "\"tcp://0.0.0.0:5570\"}\n" +
                ws,
            errors));
  EXPECT_TRUE(any_contains(errors, "only allowed on a loopback agent_endpoint"));
  errors.clear();
  EXPECT_TRUE(parse("router: {agent_auth: none, insecure: true}\n" + ws, errors));
}

TEST(AgentAuth, KeysAreZ85AndBelongToOneAgent) {
  const auto k = testing::test_agent_keys("w", "a").public_key;
  std::vector<std::string> errors;
  EXPECT_FALSE(
      parse("workspaces:\n  - id: w\n    queues: [{id: q}]\n    agents:\n"
            "      - {id: a, curve_public_key: \"" +
                k +
                "\"}\n"
                "      - {id: b, curve_public_key: \"" +
                k +
                "\"}\n"
                "      - {id: c, curve_public_key: \"short\"}\n",
            errors));
  EXPECT_TRUE(any_contains(errors, "agent b.curve_public_key: is also the key of w/a"));
  EXPECT_TRUE(any_contains(errors, "agent c.curve_public_key: must be a 40-character Z85"));
}

TEST(AgentAuth, KeysComeFromTheKeysFolder) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.file("w"));
  const auto k = testing::test_agent_keys("w", "a").public_key;
  std::ofstream(dir.file("w/a.pub")) << k << "\n";
  std::vector<std::string> errors;
  auto cfg = parse("router: {agent_keys_dir: \"" + dir.path() +
                       "\"}\nworkspaces:\n  - id: w\n    queues: [{id: q}]\n"
                       "    agents: [{id: a}, {id: b}]\n",
                   errors);
  ASSERT_TRUE(cfg) << errors.front();
  EXPECT_EQ(cfg->workspaces[0].agents[0].curve_public_key, k);
  // b has no file (not issued yet, or revoked by deleting it): it cannot sign in, said as a
  // warning; the folder is the credential store.
  EXPECT_EQ(cfg->workspaces[0].agents[1].curve_public_key, "");
  ASSERT_EQ(cfg->warnings.size(), 1u);
  EXPECT_NE(cfg->warnings[0].find("agent b: no key in"), std::string::npos) << cfg->warnings[0];
}

TEST(Secrets, EmptyOnesAreErrorsHoweverGiven) {
  testing::TempDir dir;
  std::ofstream(dir.file("empty")) << "\n";
  setenv("OMNIROUTE_EMPTY_SECRET", "", 1);
  const std::string head =
      "router: {agent_auth: token}\nworkspaces:\n  - id: w\n    queues: [{id: q}]\n"
      "    agents:\n      - {id: a, token: ";
  for (const std::string& given :
       {std::string("\"\""), std::string("{env: OMNIROUTE_EMPTY_SECRET}"),
        "{file: " + dir.file("empty") + "}"}) {
    std::vector<std::string> errors;
    EXPECT_FALSE(parse(head + given + "}\n", errors)) << given;
    EXPECT_TRUE(any_contains(errors, "token:")) << given;
  }
}

TEST(Limits, ARepliesLimitMustFitAKafkaRecord) {
  std::vector<std::string> errors;
  EXPECT_FALSE(
      parse("kafka: {properties: {message.max.bytes: \"100000\"}}\n"
            "router: {max_reply_bytes: 200000}\n",
            errors));
  EXPECT_TRUE(any_contains(errors, "router.max_reply_bytes: 200000 does not fit a Kafka record"))
      << errors.front();
}

TEST(ConnectorLimits, BodyLimitsAboveAKafkaRecordAndListenerConflictsAreErrors) {
  std::vector<std::string> errors;
  auto cfg = parse(R"(router: {agent_auth: none, insecure: true}
connectors:
  webhook: {listen: "127.0.0.1:8081", max_body_bytes: 5000000, max_connections: 100}
  chat: {listen: "127.0.0.1:8081", max_connections: 200}
)",
                   errors);
  ASSERT_TRUE(cfg) << errors.front();
  connectors::validate(*cfg, sdk::builtin_registry(), errors);
  EXPECT_TRUE(any_contains(errors,
                           "connectors.webhook.max_body_bytes: 5000000 is more than a "
                           "Kafka record holds"));
  EXPECT_TRUE(any_contains(errors,
                           "connectors.webhook.max_connections (100) differs from "
                           "connectors.chat.max_connections (200) on 127.0.0.1:8081"));
}

TEST(ConnectorLimits, EmptyProviderSecretsAreErrors) {
  std::vector<std::string> errors;
  auto cfg = parse(R"(router: {agent_auth: none, insecure: true}
workspaces:
  - id: w
    queues: [{id: q}]
    inboxes:
      - {id: api, channel: webhook, queue: q, settings: {secret: ""}}
)",
                   errors);
  ASSERT_TRUE(cfg);
  connectors::validate(*cfg, sdk::builtin_registry(), errors);
  EXPECT_TRUE(any_contains(errors, "settings.secret: must not be empty"))
      << (errors.empty() ? "no error" : errors.front());
}

}  // namespace
}  // namespace omniroute::config

namespace omniroute::config {
namespace {

// An inbox's satisfaction survey: the example's is read; mistakes are named with the line.
TEST(Csat, SurveySettingsAreReadAndMistakesNamed) {
  auto with = [](const std::string& csat) {
    std::string y = testing::config_yaml({});
    const std::string at = "        queue: general\n";
    y.insert(y.find(at) + at.size(), "        csat: " + csat + "\n");
    std::vector<std::string> errors;
    auto cfg = parse(y, errors);
    return std::make_pair(std::move(cfg), errors);
  };
  auto [ok, none] =
      with(R"({question: {en: "How did we do?", pt-BR: "Como foi?"}, scale: 3, window_hours: 24})");
  ASSERT_TRUE(ok) << none.front();
  const CsatSurvey& s = ok->workspaces[0].inboxes[0].csat;
  EXPECT_TRUE(s.enabled());
  EXPECT_EQ(s.scale, 3);
  EXPECT_EQ(s.window_ms, 24 * 3600 * 1000LL);
  EXPECT_EQ(s.question.at("pt-BR"), "Como foi?");
  EXPECT_FALSE(with("{scale: 5}").first) << "no question";
  EXPECT_TRUE(any_contains(with("{scale: 5}").second, "csat.question"));
  EXPECT_TRUE(any_contains(with(R"({question: {en: "x"}, scale: 4})").second, "must be 3 or 5"));
  EXPECT_TRUE(any_contains(with(R"({question: {en: "x"}, stars: 5})").second, "stars"));
  EXPECT_TRUE(any_contains(with(R"({question: {en: ""}})").second, "1-1000 bytes"));
}

// A SIGHUP reload refuses these (the router reads them once); the rest apply live.
TEST(Reload, SettingsReadOnlyAtStartAreNamedAndTheRestAreNot) {
  Config running;
  running.state.dir = "/var/lib/omniroute";
  EXPECT_TRUE(restart_only_changes(running, running).empty());
  Config live = running;
  live.router.offer_timeout_ms = 1;
  live.router.standby_replicas = 3;
  live.router.heartbeat_timeout_ms = 9000;
  EXPECT_TRUE(restart_only_changes(running, live).empty()) << "these apply at the reload";
  Config next = running;
  next.state.dir = "/elsewhere";
  next.router.membership = Membership::kSingle;
  next.router.session_timeout_ms = 3000;
  next.router.restore_threads = 7;
  next.router.advertised_endpoint = "tcp://router-2:5570";
  next.router.fd_reserve = 1;
  EXPECT_EQ(restart_only_changes(running, next),
            (std::vector<std::string>{"state.dir", "router.advertised_endpoint",
                                      "router.membership", "router.session_timeout_ms",
                                      "router.restore_threads", "router socket limits"}));
}

}  // namespace
}  // namespace omniroute::config
