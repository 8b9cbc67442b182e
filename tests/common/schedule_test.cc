// Opening hours in a time zone with DST and holidays.
#include "common/schedule.h"

#include <gtest/gtest.h>

namespace omniroute {
namespace {

// 2026-03-27 is a Friday; Europe/Berlin switches to summer time on Sunday 2026-03-29.
constexpr int64_t kFri0800Utc = 1774598400000;  // 2026-03-27 08:00 UTC = 09:00 CET

std::shared_ptr<const Schedule> weekdays_9_to_17(std::vector<std::string> holidays = {}) {
  std::array<std::vector<std::string>, 7> h;
  for (int d = 1; d <= 5; ++d) h[static_cast<size_t>(d)] = {"09:00-17:00"};
  std::string err;
  auto s = Schedule::parse("Europe/Berlin", h, holidays, err);
  EXPECT_TRUE(s) << err;
  return s;
}

TEST(Schedule, OpenInLocalHoursAndTheNextChangeIsTheLocalClose) {
  auto s = weekdays_9_to_17();
  EXPECT_TRUE(s->open_at(kFri0800Utc));
  EXPECT_FALSE(s->open_at(kFri0800Utc - 60000)) << "08:59 local";
  EXPECT_EQ(s->next_change(kFri0800Utc), kFri0800Utc + 8 * 3600000LL) << "17:00 CET";
  EXPECT_EQ(s->local_string(kFri0800Utc), "Fri 2026-03-27 09:00 Europe/Berlin");
}

TEST(Schedule, MondayAfterTheDstSwitchOpensAtNineLocalAnHourEarlierInUtc) {
  auto s = weekdays_9_to_17();
  const int64_t fri_close = kFri0800Utc + 8 * 3600000LL;
  const int64_t mon_open = s->next_open(fri_close);
  EXPECT_EQ(mon_open, kFri0800Utc + 3 * 86400000LL - 3600000LL) << "09:00 CEST = 07:00 UTC";
}

TEST(Schedule, HolidaysAreClosedAllDayAndBadInputIsRefused) {
  auto s = weekdays_9_to_17({"2026-03-27"});
  EXPECT_FALSE(s->open_at(kFri0800Utc));
  std::string err;
  std::array<std::vector<std::string>, 7> bad;
  bad[1] = {"9-17"};
  EXPECT_FALSE(Schedule::parse("Europe/Berlin", bad, {}, err));
  EXPECT_FALSE(err.empty());
  EXPECT_FALSE(Schedule::parse("Mars/Olympus", {}, {}, err));
  EXPECT_TRUE(Schedule().open_at(0)) << "no hours: always open";
}

}  // namespace
}  // namespace omniroute
