// The supervisor console in a real browser: the live board moves as routing decisions
// happen (pushed over its WebSocket, never polled), a conversation's decision trail and a
// force-assign from it, and the reports page with filters, its chart and the CSV; agents
// see none of it. Screenshots: tests/screenshots/workspace_11..13_*.png.
#include "tests/workspace/browser_fixture.h"

namespace omniroute::testing {
namespace {

using ConsoleBrowserTest = WorkspaceBrowserTest;

TEST_F(ConsoleBrowserTest, LiveBoardTrailForceAssignAndReports) {
  auto bo = open("console-bo");
  auto ana = open("console-ana");
  ASSERT_TRUE(bo->ok() && ana->ok()) << bo->error() << ana->error();
  ASSERT_TRUE(sign_in(*bo, "bo", "correct horse"));
  ASSERT_TRUE(sign_in(*ana, "ana", "correct horse"));
  for (Browser* b : {bo.get(), ana.get()})
    ASSERT_TRUE(wait_until([&] { return text(*b, "#link") == "Live"; }, std::chrono::seconds(20)));
  EXPECT_FALSE(has(*ana, "#mode-board")) << "agents have no console";
  EXPECT_EQ(ana->run("return fetch('api/reports').then(r=>r.status)"), 403);
  EXPECT_EQ(ana->run("return fetch('api/live').then(r=>r.status)"), 403);

  // The board, by keyboard (b).
  bo->run("document.activeElement.blur()");
  bo->keys("b");
  ASSERT_TRUE(wait_until([&] { return has(*bo, "#tile-waiting"); })) << text(*bo, "body");
  EXPECT_EQ(text(*bo, "#tile-waiting"), "0");
  const int before = bo->run("return window.omniroute.boardStats.pictures").get<int>();

  // Everyone is away: the customer waits, and the board says so without being asked.
  ASSERT_EQ(post("c1", "Is anyone there?"), 202);
  ASSERT_TRUE(wait_until([&] { return text(*bo, "#tile-waiting") == "1"; })) << text(*bo, "#board");
  EXPECT_GT(bo->run("return window.omniroute.boardStats.pictures").get<int>(), before);
  EXPECT_NE(text(*bo, "#board").find("general"), std::string::npos) << "the queue's row";

  ana->click("#presence");
  ASSERT_TRUE(wait_until([&] { return has(*ana, ".offer"); }, std::chrono::seconds(20)));
  ana->click(".offer .accept");
  ASSERT_TRUE(wait_until([&] { return text(*bo, "#tile-assigned") == "1"; }))
      << text(*bo, "#board");
  EXPECT_EQ(text(*bo, "#tile-waiting"), "0");
  EXPECT_NE(text(*bo, "#tile-agents").find("1 busy"), std::string::npos)
      << text(*bo, "#tile-agents");
  EXPECT_TRUE(bo->screenshot("screenshots/workspace_11_live_board.png")) << bo->error();
  // The agent search runs on the server (a board of 10,000 agents lists 300 at a time).
  EXPECT_EQ(texts(*bo, "#agent-rows th"), json({"alice", "bob"})) << "holding most first";
  bo->type("#agent-find", "bo");
  ASSERT_TRUE(wait_until([&] { return texts(*bo, "#agent-rows th") == json({"bob"}); }))
      << texts(*bo, "#agent-rows th").dump();
  EXPECT_NE(text(*bo, "#tile-agents").find("1 busy"), std::string::npos) << "counts stay whole";
  bo->run("document.getElementById('agent-find').value=''");
  bo->type("#agent-find", "x");
  ASSERT_TRUE(wait_until([&] { return texts(*bo, "#agent-rows th") == json::array(); }));

  // Drill into the conversation: why it went to whom.
  bo->type("#drill-id", "C1" + kEnter);
  ASSERT_TRUE(wait_until([&] { return has(*bo, "#trail li"); })) << text(*bo, "body");
  const std::string trail = text(*bo, "#trail");
  EXPECT_NE(trail.find("offered"), std::string::npos) << trail;
  EXPECT_NE(trail.find("accepted"), std::string::npos) << trail;
  EXPECT_NE(trail.find("alice: could take it"), std::string::npos) << trail;
  EXPECT_EQ(text(*bo, "#drill-agent"), "alice");
  // And hand it to bob (the supervisor himself, available for it) from there.
  bo->click("#presence");
  ASSERT_TRUE(wait_until([&] { return text(*bo, "#presence") == "Available"; }));
  bo->type("#assign-agent", "bob");
  bo->type("#assign-note", "I'll take this one" + kEnter);
  ASSERT_TRUE(wait_until([&] {
    bo->click("#drill-refresh");
    return text(*bo, "#drill-agent") == "bob";
  })) << text(*bo, "#drill");
  EXPECT_NE(text(*bo, "#trail").find("force assigned"), std::string::npos) << text(*bo, "#trail");
  EXPECT_TRUE(wait_until([&] { return !has(*ana, "#conv-list .row[data-conversation=C1]"); }))
      << "it left alice's list";
  // Then back into the queue (a transfer by the supervisor): offered to alice, not to bob.
  bo->type("#move-queue", "general" + kEnter);
  EXPECT_TRUE(wait_until([&] { return has(*ana, ".offer"); })) << "alice is offered it";
  ASSERT_TRUE(wait_until([&] {
    bo->click("#drill-refresh");
    return text(*bo, "#drill-state") == "queued" &&
           text(*bo, "#trail").find("moved to queue general by supervisor bob") !=
               std::string::npos;
  })) << text(*bo, "#drill");
  EXPECT_TRUE(bo->screenshot("screenshots/workspace_12_trail.png")) << bo->error();

  // Reports (g): today's conversation, the chart, filters, a mistake, the CSV.
  bo->run("document.activeElement.blur()");
  bo->keys("g");
  ASSERT_TRUE(wait_until([&] { return has(*bo, "#r-counts"); })) << text(*bo, "body");
  EXPECT_EQ(text(*bo, "#r-counts [data-count=entered]"), "1");
  EXPECT_EQ(text(*bo, "#r-counts [data-count=accepted]"), "2") << "accepted, then force-assigned";
  EXPECT_TRUE(wait_until([&] { return has(*bo, "#arrivals-chart[data-drawn=true] canvas"); }))
      << "uPlot drew the arrivals";
  EXPECT_TRUE(bo->screenshot("screenshots/workspace_13_reports.png")) << bo->error();
  bo->type("#r-channel", "sms" + kEnter);
  ASSERT_TRUE(wait_until([&] { return text(*bo, "#r-counts [data-count=entered]") == "0"; }));
  bo->run("document.getElementById('r-channel').value=''");
  bo->type("#r-channel", "fax" + kEnter);
  ASSERT_TRUE(wait_until([&] { return has(*bo, "#r-error"); }));
  EXPECT_EQ(text(*bo, "#r-error"), "unknown channel fax");
  const json csv = bo->run(
      "return fetch(document.getElementById('r-csv').href.replace('channel=fax','')).then(r=>r."
      "text())");
  ASSERT_TRUE(csv.is_string());
  EXPECT_EQ(csv.get<std::string>().rfind("section,name,value\n", 0), 0u) << csv.dump();
  EXPECT_NE(csv.get<std::string>().find("counts,entered,1\n"), std::string::npos) << csv.dump();
  bo->run("document.activeElement.blur()");
  bo->keys("g");
  EXPECT_TRUE(wait_until([&] { return has(*bo, "#conv-list"); })) << "g again: back to the desk";
}

}  // namespace
}  // namespace omniroute::testing
