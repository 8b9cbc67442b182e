#include "config/config.h"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <re2/re2.h>

#include "config/csat_section.h"
#include "config/kafka_section.h"
#include "config/router_section.h"
#include "config/workspace_section.h"
#include "config/yaml_reader.h"

namespace omniroute::config {
namespace {

const std::regex kIdPattern("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$");

std::string id_field(MapReader& m, const std::string& key, Errors& errors, const YAML::Node& at) {
  std::string v = m.str(key, "", true);
  if (!v.empty() && !std::regex_match(v, kIdPattern)) {
    errors.add(at, m.path_of(key),
               "must be 1-64 characters of letters, digits, '_', '.', '-', starting with a "
               "letter or digit");
  }
  return v;
}

template <typename Fn>
void each_item(MapReader& parent, const std::string& key, Errors& errors, Fn fn) {
  YAML::Node list = parent.child(key);
  if (!list.IsDefined() || list.IsNull()) return;
  if (!list.IsSequence()) {
    errors.add(list, parent.path_of(key), "must be a list");
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    std::string path = fmt::format("{}[{}]", parent.path_of(key), i);
    MapReader item(list[i], path, errors);
    if (!item.valid()) continue;
    fn(item, list[i], path);
    item.finish();
  }
}

// A list of channel names.
std::set<v1::Channel> channel_set(MapReader& m, const std::string& key, Errors& errors,
                                  const YAML::Node& at) {
  std::set<v1::Channel> out;
  for (const auto& name : m.str_list(key)) {
    auto ch = parse_channel(name);
    if (!ch)
      errors.add(at, m.path_of(key), "unknown channel '" + name + "'");
    else
      out.insert(*ch);
  }
  return out;
}

// skill: level (1..5).
Skills skills_map(MapReader& m, const std::string& key, Errors& errors, const YAML::Node& at) {
  Skills out;
  for (const auto& [skill, level] : m.str_map(key)) {
    int v = 0;
    try {
      v = std::stoi(level);
    } catch (const std::exception&) {
      v = 0;
    }
    if (v < 1 || v > 5 || std::to_string(v) != level) {
      errors.add(at, m.path_of(key) + "." + skill, "skill level must be 1 to 5");
      continue;
    }
    out[skill] = v;
  }
  return out;
}

// {timezone, hours: {mon: ["09:00-17:00"], weekdays: [...], daily: [...]}, holidays: [...]}
std::shared_ptr<const Schedule> schedule(MapReader& parent, const std::string& key, Errors& errors,
                                         const std::string& default_tz) {
  YAML::Node n = parent.child(key);
  if (!n.IsDefined() || n.IsNull()) return nullptr;
  const std::string path = parent.path_of(key);
  MapReader m(n, path, errors);
  if (!m.valid()) return nullptr;
  const std::string tz = m.str("timezone", default_tz);
  std::array<std::vector<std::string>, 7> week;
  {
    MapReader h(m.child("hours"), path + ".hours", errors);
    static const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    for (const auto& r : h.str_list("daily"))
      for (auto& d : week) d.push_back(r);
    for (const auto& r : h.str_list("weekdays"))
      for (size_t d = 1; d <= 5; ++d) week[d].push_back(r);
    for (size_t d = 0; d < 7; ++d)
      for (const auto& r : h.str_list(kDays[d])) week[d].push_back(r);
    h.finish();
  }
  const auto holidays = m.str_list("holidays");
  m.finish();
  std::string err;
  auto sched = Schedule::parse(tz, week, holidays, err);
  if (!sched) errors.add(n, path, err);
  return sched;
}

void parse_workspaces(MapReader& top, Config& c, Errors& errors) {
  std::set<std::string> ws_ids;
  each_item(
      top, "workspaces", errors, [&](MapReader& w, const YAML::Node& wn, const std::string& wpath) {
        Workspace ws;
        ws.id = id_field(w, "id", errors, wn);
        if (!ws.id.empty() && !ws_ids.insert(ws.id).second)
          errors.add(wn, wpath + ".id", "duplicate workspace id " + ws.id);
        ws.name = w.str("name", ws.id);
        std::set<std::string> queue_ids;
        each_item(
            w, "queues", errors, [&](MapReader& q, const YAML::Node& qn, const std::string& qpath) {
              Queue queue;
              queue.id = id_field(q, "id", errors, qn);
              if (!queue.id.empty() && !queue_ids.insert(queue.id).second)
                errors.add(qn, qpath + ".id", "duplicate queue id " + queue.id);
              const std::string strategy = q.str("strategy", "longest_idle");
              if (strategy == "longest_idle")
                queue.strategy = Strategy::kLongestIdle;
              else if (strategy == "least_busy")
                queue.strategy = Strategy::kLeastBusy;
              else if (strategy == "round_robin")
                queue.strategy = Strategy::kRoundRobin;
              else
                errors.add(qn, qpath + ".strategy",
                           "must be longest_idle, least_busy or round_robin");
              queue.skills = skills_map(q, "skills", errors, qn);
              queue.priority = static_cast<int>(q.integer("priority", 0, 0, 9));
              queue.sticky_window_ms = q.integer("sticky_window_s", 0, 0, 365 * 86400) * 1000;
              queue.sticky_wait_ms = q.integer("sticky_wait_s", 0, 0, 86400) * 1000;
              queue.bot = q.str("bot", "");
              queue.parallel_offers = static_cast<int>(q.integer("parallel_offers", 1, 1, 8));
              if (q.has("parallel_channels"))
                queue.parallel_channels = channel_set(q, "parallel_channels", errors, qn);
              each_item(q, "overflow", errors,
                        [&](MapReader& o, const YAML::Node&, const std::string&) {
                          OverflowStep step;
                          step.after_ms = o.integer("after_s", 0, 1, 30 * 86400) * 1000;
                          step.queues = o.str_list("queues");
                          step.relax_skills = static_cast<int>(o.integer("relax_skills", 0, 0, 5));
                          queue.overflow.push_back(step);
                        });
              for (size_t i = 1; i < queue.overflow.size(); ++i) {
                if (queue.overflow[i].after_ms <= queue.overflow[i - 1].after_ms)
                  errors.add(qn, qpath + ".overflow",
                             "steps must be in increasing order of after_s");
              }
              ws.queues.push_back(queue);
            });
        for (size_t qi = 0; qi < ws.queues.size(); ++qi) {
          for (const auto& step : ws.queues[qi].overflow)
            for (const auto& target : step.queues)
              if (!queue_ids.count(target))
                errors.add(fmt::format("workspaces.{}.queues[{}].overflow", ws.id, qi),
                           "no queue '" + target + "' in this workspace");
        }
        const std::string tz = w.str("timezone", "UTC");
        if (!Schedule::valid_zone(tz))
          errors.add(wn, wpath + ".timezone", "unknown time zone '" + tz + "'");
        ws.hours = schedule(w, "business_hours", errors, tz);
        if (!ws.hours) ws.hours = std::make_shared<Schedule>();
        ws.default_language = w.str("default_language", "en");
        ws.reopen_window_ms = w.integer("reopen_window_s", 7 * 86400, 0, 365 * 86400) * 1000;
        ws.closed_replies = w.str_map("closed_replies");
        std::set<std::string> inbox_ids;
        each_item(w, "inboxes", errors,
                  [&](MapReader& i, const YAML::Node& in, const std::string& ipath) {
                    Inbox inbox;
                    inbox.id = id_field(i, "id", errors, in);
                    if (!inbox.id.empty() && !inbox_ids.insert(inbox.id).second)
                      errors.add(in, ipath + ".id", "duplicate inbox id " + inbox.id);
                    std::string ch = i.str("channel", "", true);
                    if (!ch.empty()) {
                      auto parsed = parse_channel(ch);
                      if (!parsed)
                        errors.add(in, ipath + ".channel", "unknown channel '" + ch + "'");
                      else
                        inbox.channel = *parsed;
                    }
                    inbox.queue = i.str("queue", "", true);
                    if (!inbox.queue.empty() && !queue_ids.count(inbox.queue)) {
                      errors.add(in, ipath + ".queue",
                                 "no queue '" + inbox.queue + "' in this workspace");
                    }
                    inbox.settings = i.child("settings");
                    inbox.auto_acknowledge = i.str_map("auto_acknowledge");
                    inbox.auto_acknowledge_window_ms =
                        i.integer("auto_acknowledge_window_s", 86400, 0, 30 * 86400) * 1000;
                    inbox.csat = parse_csat(i, ipath, errors);
                    inbox.line = in.Mark().line + 1;
                    ws.inboxes.push_back(inbox);
                  });
        std::set<std::string> agent_ids;
        each_item(w, "agents", errors,
                  [&](MapReader& a, const YAML::Node& an, const std::string& apath) {
                    Agent agent;
                    agent.id = id_field(a, "id", errors, an);
                    if (!agent.id.empty() && !agent_ids.insert(agent.id).second)
                      errors.add(an, apath + ".id", "duplicate agent id " + agent.id);
                    agent.name = a.str("name", agent.id);
                    agent.token = a.secret("token", false);
                    agent.curve_public_key = a.str("curve_public_key", "");
                    agent.line = an.Mark().line + 1;
                    agent.queues = a.str_list("queues");
                    for (const auto& q : agent.queues) {
                      if (!queue_ids.count(q))
                        errors.add(an, apath + ".queues", "no queue '" + q + "' in this workspace");
                    }
                    MapReader cap(a.child("capacity"), apath + ".capacity", errors);
                    for (int ch = v1::Channel_MIN + 1; ch <= v1::Channel_MAX; ++ch) {
                      auto channel = static_cast<v1::Channel>(ch);
                      int64_t n = cap.integer(channel_name(channel), 0, 0, 1000);
                      if (n > 0) agent.capacity[channel] = static_cast<int>(n);
                    }
                    agent.total_capacity = static_cast<int>(cap.integer("total", 0, 0, 10000));
                    cap.finish();
                    agent.skills = skills_map(a, "skills", errors, an);
                    agent.languages = a.str_list("languages");
                    for (auto& l : agent.languages) l = primary_language(l);
                    agent.shift = schedule(a, "shift", errors, tz);
                    agent.bot = a.boolean("bot", false);
                    agent.supervisor = a.boolean("supervisor", false);
                    ws.agents.push_back(agent);
                  });
        for (const auto& q : ws.queues) {
          if (!q.bot.empty()) {
            const Agent* bot = ws.agent(q.bot);
            if (!bot || !bot->bot)
              errors.add(wn, wpath + ".queues",
                         "queue " + q.id + ": bot '" + q.bot + "' is not an agent with bot: true");
          }
        }
        each_item(w, "rules", errors,
                  [&](MapReader& r, const YAML::Node& rn, const std::string& rpath) {
                    Rule rule;
                    rule.name = r.str("name", rpath);
                    {
                      MapReader m(r.child("match"), rpath + ".match", errors);
                      rule.channels = channel_set(m, "channel", errors, rn);
                      for (const auto& i : m.str_list("inbox")) rule.inboxes.insert(i);
                      for (const auto& l : m.str_list("language"))
                        rule.languages.insert(primary_language(l));
                      for (auto k : m.str_list("keywords")) {
                        for (auto& ch : k)
                          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                        rule.keywords.push_back(k);
                      }
                      const std::string re = m.str("regex", "");
                      if (!re.empty()) {
                        RE2::Options opts;
                        opts.set_log_errors(false);
                        opts.set_case_sensitive(false);
                        auto compiled = std::make_shared<RE2>(re, opts);
                        if (!compiled->ok())
                          errors.add(rn, m.path_of("regex"), "bad regex: " + compiled->error());
                        else
                          rule.regex = compiled;
                      }
                      rule.customer = m.str_map("customer");
                      m.finish();
                    }
                    {
                      MapReader st(r.child("set"), rpath + ".set", errors);
                      rule.queue = st.str("queue", "");
                      if (!rule.queue.empty() && !queue_ids.count(rule.queue))
                        errors.add(rn, st.path_of("queue"),
                                   "no queue '" + rule.queue + "' in this workspace");
                      rule.priority = static_cast<int>(st.integer("priority", -1, -1, 9));
                      rule.skills = skills_map(st, "skills", errors, rn);
                      st.finish();
                    }
                    ws.rules.push_back(std::move(rule));
                  });
        each_item(w, "sla", errors,
                  [&](MapReader& p, const YAML::Node& pn, const std::string& ppath) {
                    SlaPolicy pol;
                    pol.name = p.str("name", ppath);
                    pol.channels = channel_set(p, "channel", errors, pn);
                    pol.min_priority = static_cast<int>(p.integer("min_priority", 0, 0, 9));
                    pol.max_priority = static_cast<int>(p.integer("max_priority", 9, 0, 9));
                    pol.first_response_ms = p.integer("first_response_s", 0, 0, 365 * 86400) * 1000;
                    pol.next_response_ms = p.integer("next_response_s", 0, 0, 365 * 86400) * 1000;
                    pol.resolution_ms = p.integer("resolution_s", 0, 0, 365 * 86400) * 1000;
                    pol.warning_fraction =
                        static_cast<double>(p.integer("warning_percent", 80, 1, 100)) / 100.0;
                    ws.sla.push_back(pol);
                  });
        if (!w.has("sla")) {
          // Defaults from the routing model: email answered within 2 h, chat within 1 min.
          SlaPolicy email;
          email.name = "default email";
          email.channels = {v1::CHANNEL_EMAIL};
          email.first_response_ms = 2 * 3600 * 1000;
          SlaPolicy live;
          live.name = "default live chat";
          live.channels = {v1::CHANNEL_CHAT};
          live.first_response_ms = 60 * 1000;
          ws.sla = {email, live};
        }
        c.workspaces.push_back(std::move(ws));
      });
}

}  // namespace

const Inbox* Workspace::inbox(const std::string& inbox_id) const {
  for (const auto& i : inboxes)
    if (i.id == inbox_id) return &i;
  return nullptr;
}

const Agent* Workspace::agent(const std::string& agent_id) const {
  for (const auto& a : agents)
    if (a.id == agent_id) return &a;
  return nullptr;
}

const Queue* Workspace::queue(const std::string& queue_id) const {
  for (const auto& q : queues)
    if (q.id == queue_id) return &q;
  return nullptr;
}

const SlaPolicy* Workspace::sla_for(v1::Channel c, int priority) const {
  for (const auto& p : sla) {
    if ((p.channels.empty() || p.channels.count(c)) && priority >= p.min_priority &&
        priority <= p.max_priority)
      return &p;
  }
  return nullptr;
}

const char* strategy_name(Strategy s) {
  switch (s) {
    case Strategy::kLeastBusy:
      return "least_busy";
    case Strategy::kRoundRobin:
      return "round_robin";
    default:
      return "longest_idle";
  }
}

std::string primary_language(const std::string& tag) {
  std::string out;
  for (char ch : tag) {
    if (ch == '-' || ch == '_') break;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return out;
}

const Workspace* Config::workspace(const std::string& id) const {
  for (const auto& w : workspaces)
    if (w.id == id) return &w;
  return nullptr;
}

std::vector<std::string> Config::all_topics() const {
  std::vector<std::string> t{kafka.topics.inbound, kafka.topics.routing, kafka.topics.dlq,
                             kafka.topics.changelog, kafka.topics.routers};
  for (int c = v1::Channel_MIN + 1; c <= v1::Channel_MAX; ++c) {
    t.push_back(kafka.topics.outbound(static_cast<v1::Channel>(c)));
  }
  return t;
}

std::optional<Config> parse(const std::string& yaml_text, std::vector<std::string>& out_errors,
                            const ParseOptions& options) {
  Errors errors;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    out_errors.push_back(fmt::format("line {}: YAML syntax error: {}", e.mark.line + 1, e.msg));
    return std::nullopt;
  }
  Config c;
  MapReader top(root, "", errors);
  parse_kafka(top, c, errors);
  {
    MapReader s(top.child("state"), "state", errors);
    c.state.dir = s.str("dir", c.state.dir);
    c.state.sync = s.boolean("sync", c.state.sync);
    s.finish();
  }
  parse_router(top, c, errors);
  {
    MapReader s(top.child("operations"), "operations", errors);
    c.operations.listen = s.str("listen", "");
    if (s.has("metrics_token")) c.operations.metrics_token = s.secret("metrics_token", false);
    c.operations.drain_ms = s.integer("drain_seconds", 0, 0, 300) * 1000;
    s.finish();
  }
  {
    MapReader s(top.child("analytics"), "analytics", errors);
    c.analytics.enabled = s.boolean("enabled", true);
    c.analytics.dir = s.str("dir", "");
    if (s.has("service_level_seconds")) {
      c.analytics.service_level_s.clear();
      for (const auto& t : s.str_list("service_level_seconds")) {
        try {
          const int64_t v = std::stoll(t);
          if (v <= 0 || v > 86400) throw std::out_of_range(t);
          c.analytics.service_level_s.push_back(v);
        } catch (const std::exception&) {
          errors.add("analytics.service_level_seconds",
                     "must be a list of seconds between 1 and 86400, got " + t);
        }
      }
    }
    s.finish();
  }
  c.log_level = top.str("log_level", "info");
  static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "off"};
  if (!kLevels.count(c.log_level))
    errors.add("log_level", "must be one of trace, debug, info, warn, error, off");
  {
    YAML::Node conns = top.child("connectors");
    if (conns.IsDefined() && !conns.IsNull()) {
      if (!conns.IsMap()) {
        errors.add(conns, "connectors", "must be a map of connector name to settings");
      } else {
        for (const auto& kv : conns) {
          std::string name = kv.first.as<std::string>();
          Connector conn;
          conn.line = kv.first.Mark().line + 1;
          if (kv.second.IsMap() && kv.second["enabled"].IsDefined()) {
            try {
              conn.enabled = kv.second["enabled"].as<bool>();
            } catch (const YAML::Exception&) {
              errors.add(kv.second["enabled"], "connectors." + name + ".enabled",
                         "must be true or false");
            }
            YAML::Node copy = YAML::Clone(kv.second);
            copy.remove("enabled");
            conn.settings = copy;
          } else {
            conn.settings = kv.second;
          }
          c.connectors[name] = conn;
        }
      }
    }
  }
  parse_workspaces(top, c, errors);
  parse_agent_workspace(top, c, errors);
  top.finish();
  check_agent_credentials(c, errors, options.require_agent_credentials);
  if (!errors.empty()) {
    out_errors = errors.items();
    return std::nullopt;
  }
  return c;
}

std::optional<Config> load_file(const std::string& path, std::vector<std::string>& errors,
                                const ParseOptions& options) {
  std::ifstream in(path);
  if (!in) {
    errors.push_back("cannot read config file " + path);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), errors, options);
}

}  // namespace omniroute::config
