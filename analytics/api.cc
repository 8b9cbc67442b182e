#include "analytics/api.h"

#include <date/date.h>
#include <fmt/format.h>

#include <cstdio>

#include "connectors/http/form.h"
#include "omniroute/v1/events.pb.h"

namespace omniroute::analytics {
namespace {

using connectors::http::Response;

constexpr int64_t kDayMs = 86400 * 1000;
constexpr int64_t kMaxRangeMs = 400 * kDayMs;

// Unix ms, or a date (UTC midnight).
std::optional<int64_t> instant(const std::string& v) {
  if (v.empty() || v.size() > 20) return std::nullopt;
  if (v.find('-') == std::string::npos) {
    try {
      size_t used = 0;
      const int64_t ms = std::stoll(v, &used);
      if (used == v.size() && ms >= 0) return ms;
    } catch (const std::exception&) {
    }
    return std::nullopt;
  }
  int y = 0;
  unsigned m = 0, d = 0;
  char tail = 0;
  if (v.size() != 10 || std::sscanf(v.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3)
    return std::nullopt;
  const date::year_month_day ymd{date::year{y}, date::month{m}, date::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             date::sys_days(ymd).time_since_epoch())
      .count();
}

std::optional<v1::Channel> channel_named(const std::string& name) {
  std::string upper = "CHANNEL_";
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  v1::Channel ch;
  if (!v1::Channel_Parse(upper, &ch) || ch == v1::CHANNEL_UNSPECIFIED) return std::nullopt;
  return ch;
}

Response bad(const std::string& why) {
  return Response::error(400, why);
}

}  // namespace

std::optional<Response> answer(const Service& svc, const std::string& path,
                               const connectors::http::Request& req, const std::string& workspace,
                               int64_t now_ms) {
  if (path != "api/live" && path != "api/reports" && path != "api/conversation")
    return std::nullopt;
  if (req.method != "GET") return Response::error(405, "use GET");
  if (path == "api/live") {
    Response r;
    r.body = svc.live(workspace, now_ms).dump();
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }
  if (path == "api/conversation") {
    std::string id;
    for (const auto& [k, v] : connectors::http::parse_form(req.query)) {
      if (k != "id") return bad("unknown parameter " + k.substr(0, 32));
      id = v;
    }
    if (id.empty() || id.size() > 128 || id.find('/') != std::string::npos)
      return bad("id must name a conversation");
    const auto j = svc.conversation(workspace, id);
    if (j.is_null()) return Response::error(404, "no such conversation in this workspace");
    Response r;
    r.body = j.dump();
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }
  Filter f;
  f.workspace = workspace;  // a supervisor sees their own workspace, never another
  f.from_ms = now_ms - kDayMs;
  f.to_ms = now_ms;
  bool csv = false;
  for (const auto& [k, v] : connectors::http::parse_form(req.query)) {
    if (k == "from" || k == "to") {
      const auto t = instant(v);
      if (!t) return bad(k + " must be Unix milliseconds or YYYY-MM-DD");
      (k == "from" ? f.from_ms : f.to_ms) = *t;
    } else if (k == "queue" || k == "inbox" || k == "agent" || k == "language") {
      if (v.size() > 128) return bad(k + " is longer than 128 characters");
      (k == "queue" ? f.queue : k == "inbox" ? f.inbox : k == "agent" ? f.agent : f.language) = v;
    } else if (k == "channel") {
      if (v.empty()) continue;
      const auto ch = channel_named(v);
      if (!ch) return bad("unknown channel " + v.substr(0, 32));
      f.channel = *ch;
    } else if (k == "format") {
      if (v != "csv" && v != "json") return bad("format must be csv or json");
      csv = v == "csv";
    } else {
      return bad("unknown parameter " + k.substr(0, 32));
    }
  }
  if (f.to_ms <= f.from_ms) return bad("to must be after from");
  if (f.to_ms - f.from_ms > kMaxRangeMs) return bad("a report covers at most 400 days");
  const Report report = svc.report(f);
  Response r;
  r.headers.emplace_back("Cache-Control", "no-store");
  if (csv) {
    r.content_type = "text/csv; charset=utf-8";
    r.body = to_csv(report);
    r.headers.emplace_back("Content-Disposition",
                           fmt::format("attachment; filename=\"omniroute-{}-{}-{}.csv\"", workspace,
                                       f.from_ms, f.to_ms));
  } else {
    r.body = to_json(report).dump();
  }
  return r;
}

}  // namespace omniroute::analytics
