// The terminal desk's commands for what agents keep on conversations: notes, labels,
// snooze and canned responses (the same protocol frames the web workspace uses).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "desk/desk.h"

namespace omniroute::cli {

inline constexpr const char* kWorkbenchHelp =
    "note CONV TEXT | labels CONV [a,b,...] | snooze CONV MINUTES|customer|off | canned | "
    "canned-add personal|workspace|queue:ID CODE LANG|- TEXT | canned-del CODE";

struct CannedCache;

// Adds the printing handlers (note stored, labels / snooze changed, canned responses).
std::shared_ptr<CannedCache> add_workbench_handlers(desk::Handler& h,
                                                    std::function<void(const std::string&)> print);

// Runs one of the commands above; false when `cmd` is not one of them or is malformed.
bool workbench_command(desk::Desk& d, CannedCache& cache, const std::string& cmd,
                       const std::string& arg, const std::string& rest,
                       const std::function<void(const std::string&)>& print);

}  // namespace omniroute::cli
