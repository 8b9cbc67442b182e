// The short version of the fault harness (the long one: `omniroute bench --chaos`).
#include <gtest/gtest.h>

#include "bench/chaos.h"
#include "tests/support/support.h"

namespace omniroute::testing {
namespace {

TEST(FaultHarness, RouterKillsBrokerFaultsDeskAndConnectorRestartsLoseAndDuplicateNothing) {
  bench::ChaosOptions o;
  o.messages = 1500;
  o.customers = 150;
  o.agents = 4;
  o.router_kills = 3;
  o.other_faults = 6;  // one of each kind at least
  o.seed = 42;
  o.binary = omniroute_binary();
  o.timeout_s = 90;
  auto r = bench::run_chaos(o);
  EXPECT_TRUE(r.ok) << r.summary();
  for (const auto& v : r.violations) ADD_FAILURE() << v;
  EXPECT_EQ(r.router_kills, 3);
  EXPECT_EQ(r.posted, 1500);
}

}  // namespace
}  // namespace omniroute::testing
