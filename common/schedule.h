// Weekly opening hours in an IANA time zone, with holidays: business hours of a
// workspace and agents' shifts. Times are Unix ms; the zone rules (DST) come from the
// system's tz database (/usr/share/zoneinfo) through Howard Hinnant's date library.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace omniroute {

class Schedule {
 public:
  // Always open, UTC.
  Schedule() = default;

  // `hours[d]` holds "HH:MM-HH:MM" ranges for weekday d (0 = Sunday); an end of "24:00"
  // is midnight; a range whose end is before its start runs past midnight.
  // `holidays` are local dates "YYYY-MM-DD" on which it is closed all day.
  // Returns nullptr and sets `err` on an unknown zone or a malformed range/date.
  static std::shared_ptr<const Schedule> parse(const std::string& timezone,
                                               const std::array<std::vector<std::string>, 7>& hours,
                                               const std::vector<std::string>& holidays,
                                               std::string& err);
  // True when `timezone` names a zone of the tz database.
  static bool valid_zone(const std::string& timezone);

  bool always_open() const { return always_; }
  const std::string& timezone() const { return tz_name_; }
  bool open_at(int64_t unix_ms) const;
  // The first instant after `unix_ms` at which open_at changes, within 15 days; INT64_MAX
  // if it never changes (always open, or closed for good).
  int64_t next_change(int64_t unix_ms) const;
  // The first instant at or after `unix_ms` at which it is open (INT64_MAX: never).
  int64_t next_open(int64_t unix_ms) const;
  // Milliseconds of [from, to) during which it is open: business time between two instants.
  int64_t open_ms_between(int64_t from, int64_t to) const;
  // Local weekday (0 = Sunday) and hour (0-23) of an instant, in the schedule's zone.
  std::pair<int, int> local_weekday_hour(int64_t unix_ms) const;
  // "Mon 2026-11-23 09:00 Europe/Berlin": a local time for messages to customers.
  std::string local_string(int64_t unix_ms) const;

 private:
  struct Range {
    int from_min = 0, to_min = 0;  // minutes since local midnight, to > from
  };
  bool open_local(int64_t local_day, int minute) const;
  int64_t to_local_min(int64_t unix_ms) const;  // minutes since the epoch, local wall time
  int64_t from_local_min(int64_t local_min) const;

  bool always_ = true;
  std::string tz_name_ = "UTC";
  const void* zone_ = nullptr;  // const date::time_zone*
  std::array<std::vector<Range>, 7> week_;
  std::set<int64_t> holidays_;  // local days since the epoch
};

}  // namespace omniroute
