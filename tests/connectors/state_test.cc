// A connector's own state: the key-value store and the provider-id map on top of it.
#include <gtest/gtest.h>

#include "connectors/state/kv.h"
#include "connectors/state/provider_ids.h"
#include "tests/support/support.h"

namespace omniroute::connectors::state {
namespace {

TEST(Kv, WritesSurviveReopeningAndScansStayInsideTheirPrefix) {
  testing::TempDir dir;
  std::string err;
  {
    auto kv = Kv::open(dir.path(), err);
    ASSERT_TRUE(kv) << err;
    EXPECT_EQ(kv->put("a/1", "one"), "");
    EXPECT_EQ(kv->put("a/2", "two"), "");
    EXPECT_EQ(kv->put("b/1", "other"), "");
    EXPECT_EQ(kv->del("a/2"), "");
    std::string second_err;
    EXPECT_FALSE(Kv::open(dir.path(), second_err)) << "one process owns a connector's state";
    EXPECT_FALSE(second_err.empty());
  }
  auto kv = Kv::open(dir.path(), err);
  ASSERT_TRUE(kv) << err;
  std::string v;
  EXPECT_TRUE(kv->get("a/1", &v));
  EXPECT_EQ(v, "one");
  EXPECT_FALSE(kv->get("a/2", &v));
  std::vector<std::string> seen;
  kv->scan("a/", [&](std::string_view k, std::string_view) { return seen.emplace_back(k), true; });
  EXPECT_EQ(seen, std::vector<std::string>{"a/1"});
}

TEST(ProviderIds, ReceiptsFindTheirReplyUntilTheTtl) {
  testing::TempDir dir;
  std::string err;
  auto kv = Kv::open(dir.path(), err);
  ASSERT_TRUE(kv) << err;
  ProviderIds ids(*kv, "pid/", 1000);
  EXPECT_EQ(ids.remember("wamid.1", "acme/C1/3", "C1", 5000), "");
  EXPECT_EQ(ids.remember("", "acme/C1/4", "C1", 5000), "") << "no provider id: nothing kept";
  EXPECT_EQ(ids.remember("wamid.2", "acme/C2/2", "C2", 5800), "");
  auto found = ids.find("wamid.1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->outbound_id, "acme/C1/3");
  EXPECT_EQ(found->conversation_id, "C1");
  EXPECT_FALSE(ids.find("wamid.9"));
  EXPECT_EQ(ids.prune(6500), 1u);
  EXPECT_FALSE(ids.find("wamid.1"));
  EXPECT_TRUE(ids.find("wamid.2"));
}

}  // namespace
}  // namespace omniroute::connectors::state
