#include "common/schedule.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>

#include <date/tz.h>
#include <fmt/format.h>

namespace omniroute {
namespace {

constexpr int64_t kDayMin = 24 * 60;

const date::time_zone* zone_of(const void* z) {
  return static_cast<const date::time_zone*>(z);
}

bool parse_hhmm(const std::string& s, size_t at, int& minutes) {
  if (s.size() < at + 5 || s[at + 2] != ':') return false;
  auto digit = [&](size_t i) { return s[i] >= '0' && s[i] <= '9'; };
  if (!digit(at) || !digit(at + 1) || !digit(at + 3) || !digit(at + 4)) return false;
  const int h = (s[at] - '0') * 10 + (s[at + 1] - '0');
  const int m = (s[at + 3] - '0') * 10 + (s[at + 4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return false;
  minutes = h * 60 + m;
  return true;
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

}  // namespace

bool Schedule::valid_zone(const std::string& timezone) {
  try {
    return date::locate_zone(timezone) != nullptr;
  } catch (const std::exception&) {
    return false;
  }
}

std::shared_ptr<const Schedule> Schedule::parse(
    const std::string& timezone, const std::array<std::vector<std::string>, 7>& hours,
    const std::vector<std::string>& holidays, std::string& err) {
  auto s = std::make_shared<Schedule>();
  s->tz_name_ = timezone.empty() ? "UTC" : timezone;
  try {
    s->zone_ = date::locate_zone(s->tz_name_);
  } catch (const std::exception&) {
    err = "unknown time zone '" + s->tz_name_ + "' (an IANA name such as Europe/Berlin)";
    return nullptr;
  }
  bool any = false;
  for (int d = 0; d < 7; ++d) {
    for (const auto& r : hours[static_cast<size_t>(d)]) {
      int from = 0, to = 0;
      if (r.size() != 11 || r[5] != '-' || !parse_hhmm(r, 0, from) || !parse_hhmm(r, 6, to) ||
          from == to || from == static_cast<int>(kDayMin)) {
        err = "'" + r + "' is not a range like 09:00-17:30";
        return nullptr;
      }
      any = true;
      if (to > from) {
        s->week_[static_cast<size_t>(d)].push_back({from, to});
      } else {  // past midnight: the rest of today, and the next day up to `to`
        s->week_[static_cast<size_t>(d)].push_back({from, static_cast<int>(kDayMin)});
        if (to > 0) s->week_[static_cast<size_t>((d + 1) % 7)].push_back({0, to});
      }
    }
  }
  for (const auto& h : holidays) {
    int y = 0;
    unsigned m = 0, dd = 0;
    char extra = 0;
    if (std::sscanf(h.c_str(), "%4d-%2u-%2u%c", &y, &m, &dd, &extra) != 3) {
      err = "'" + h + "' is not a date like 2026-12-25";
      return nullptr;
    }
    const date::year_month_day ymd{date::year{y}, date::month{m}, date::day{dd}};
    if (!ymd.ok()) {
      err = "'" + h + "' is not a valid date";
      return nullptr;
    }
    s->holidays_.insert(date::sys_days(ymd).time_since_epoch().count());
  }
  s->always_ = !any && s->holidays_.empty();
  // Holidays alone (no weekly hours) mean "open every day except those dates".
  if (!any && !s->holidays_.empty()) {
    for (auto& day : s->week_) day.push_back({0, static_cast<int>(kDayMin)});
  }
  return s;
}

int64_t Schedule::to_local_min(int64_t unix_ms) const {
  using namespace std::chrono;
  const auto lt = zone_of(zone_)->to_local(sys_time<milliseconds>(milliseconds(unix_ms)));
  return floor<minutes>(lt).time_since_epoch().count();
}

int64_t Schedule::from_local_min(int64_t local_min) const {
  using namespace std::chrono;
  const auto st =
      zone_of(zone_)->to_sys(date::local_time<minutes>(minutes(local_min)), date::choose::earliest);
  return duration_cast<milliseconds>(st.time_since_epoch()).count();
}

bool Schedule::open_local(int64_t local_day, int minute) const {
  if (holidays_.count(local_day)) return false;
  const int64_t wd = ((local_day + 4) % 7 + 7) % 7;  // 1970-01-01 was a Thursday
  for (const auto& r : week_[static_cast<size_t>(wd)]) {
    if (minute >= r.from_min && minute < r.to_min) return true;
  }
  return false;
}

bool Schedule::open_at(int64_t unix_ms) const {
  if (always_) return true;
  const int64_t lm = to_local_min(unix_ms);
  const int64_t day = floor_div(lm, kDayMin);
  return open_local(day, static_cast<int>(lm - day * kDayMin));
}

int64_t Schedule::open_ms_between(int64_t from, int64_t to) const {
  if (to <= from) return 0;
  if (always_) return to - from;
  int64_t open = 0;
  for (int64_t t = from; t < to;) {
    const int64_t change = std::min(next_change(t), to);
    if (open_at(t)) open += change - t;
    t = change;
  }
  return open;
}

std::pair<int, int> Schedule::local_weekday_hour(int64_t unix_ms) const {
  const int64_t lm = zone_ ? to_local_min(unix_ms) : floor_div(unix_ms, 60000);
  const int64_t day = floor_div(lm, kDayMin);
  const int weekday = static_cast<int>(((day + 4) % 7 + 7) % 7);
  return {weekday, static_cast<int>((lm - day * kDayMin) / 60)};
}

int64_t Schedule::next_change(int64_t unix_ms) const {
  if (always_) return INT64_MAX;
  const bool now_open = open_at(unix_ms);
  const int64_t today = floor_div(to_local_min(unix_ms), kDayMin);
  std::vector<int64_t> candidates;
  for (int64_t d = today - 1; d <= today + 15; ++d) {
    candidates.push_back(from_local_min(d * kDayMin));
    const int64_t wd = ((d + 4) % 7 + 7) % 7;
    for (const auto& r : week_[static_cast<size_t>(wd)]) {
      candidates.push_back(from_local_min(d * kDayMin + r.from_min));
      candidates.push_back(from_local_min(d * kDayMin + r.to_min));
    }
  }
  std::sort(candidates.begin(), candidates.end());
  for (int64_t c : candidates) {
    if (c > unix_ms && open_at(c) != now_open) return c;
  }
  return INT64_MAX;
}

int64_t Schedule::next_open(int64_t unix_ms) const {
  return open_at(unix_ms) ? unix_ms : next_change(unix_ms);
}

std::string Schedule::local_string(int64_t unix_ms) const {
  using namespace std::chrono;
  const auto lt = zone_of(zone_)->to_local(sys_time<milliseconds>(milliseconds(unix_ms)));
  return date::format("%a %Y-%m-%d %H:%M ", floor<minutes>(lt)) + tz_name_;
}

}  // namespace omniroute
