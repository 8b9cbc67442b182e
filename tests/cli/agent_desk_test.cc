// The terminal desk (`omniroute agent`) speaks the same workbench frames as the web
// workspace: a person types note, labels, snooze and canned commands and sees the router's
// answers.
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace omniroute::testing {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(AgentDesk, NotesLabelsSnoozeAndCannedFromTheTerminal) {
  TempDir dir;
  ConfigParams params;
  params.state_dir = dir.path() + "/state";
  params.agent_auth = "none";
  params.agents = {{"alice", 3, true}};
  auto running = start_stack(config_yaml(params), {"webhook"}, false);
  ASSERT_TRUE(running.stack);
  const std::string ep = running.stack->connectors().at(0)->endpoints().at(0);
  const std::string webhook = ep.substr(0, ep.find("/v1/")) + "/v1/webhook/acme/api/messages";
  ASSERT_EQ(connectors::webhook::post_signed(
                webhook, params.secret,
                R"({"externalMessageId":"t1","customerHandle":"cust-1","textBody":"hello"})"),
            202);

  const std::string out = dir.file("desk.out");
  FILE* desk = popen(fmt::format("{} agent --insecure --auto-accept --endpoint {} -w acme -a alice "
                                 "> {} 2>&1",
                                 omniroute_binary(), running.stack->router()->agent_endpoint(), out)
                         .c_str(),
                     "w");
  ASSERT_NE(desk, nullptr);
  auto type = [&](const std::string& line) {
    fputs((line + "\n").c_str(), desk);
    fflush(desk);
  };
  auto shows = [&](const std::string& text) {
    return wait_until([&] { return slurp(out).find(text) != std::string::npos; },
                      std::chrono::seconds(20));
  };
  ASSERT_TRUE(shows("[conversation] C1")) << slurp(out);
  type("note C1 called twice already");
  EXPECT_TRUE(shows("[note] C1 #2 stored (agents only)")) << slurp(out);
  type("labels C1 vip, billing");
  EXPECT_TRUE(shows("[updated] C1 labels: labels vip, billing")) << slurp(out);
  type("snooze C1 customer");
  EXPECT_TRUE(shows("[updated] C1 snoozed: labels vip, billing; snoozed until the customer writes"))
      << slurp(out);
  type("snooze C1 off");
  EXPECT_TRUE(shows("[updated] C1 woken")) << slurp(out);
  type("canned-add workspace hi en Hello {customer.name}");
  EXPECT_TRUE(shows("[canned] 1 canned responses")) << slurp(out);
  type("canned-add workspace hi pt Olá {customer.name}");
  ASSERT_TRUE(wait_until([&] {
    const std::string o = slurp(out);
    const auto first = o.find("[canned] 1 canned responses");
    return first != std::string::npos &&
           o.find("[canned] 1 canned responses", first + 1) != std::string::npos;
  })) << "the second language arrived";
  type("canned");
  EXPECT_TRUE(shows("[canned] /hi (workspace) pt: Olá {customer.name}")) << slurp(out);
  EXPECT_TRUE(shows("[canned] /hi (workspace) en: Hello {customer.name}")) << slurp(out);
  type("canned-del hi");
  EXPECT_TRUE(shows("[canned] 0 canned responses")) << slurp(out);
  type("quit");
  EXPECT_EQ(pclose(desk), 0);
}

}  // namespace
}  // namespace omniroute::testing
