#include "cli/agent_workbench.h"

#include <chrono>
#include <map>
#include <mutex>
#include <sstream>

#include <fmt/format.h>

namespace omniroute::cli {

struct CannedCache {
  std::mutex mu;
  std::map<std::string, v1::CannedResponse> by_code;  // "<scope>/<code>" of the latest list
};

namespace {

std::string scope_name(const v1::CannedResponse& r) {
  switch (r.scope()) {
    case v1::CannedResponse::SCOPE_WORKSPACE:
      return "workspace";
    case v1::CannedResponse::SCOPE_QUEUE:
      return "queue:" + r.queue_id();
    case v1::CannedResponse::SCOPE_PERSONAL:
      return "personal";
    default:
      return "?";
  }
}

std::string summary(const v1::ConversationSummary& s) {
  std::string out =
      s.labels().empty() ? "no labels" : fmt::format("labels {}", fmt::join(s.labels(), ", "));
  if (s.snoozed_until_ms() > 0)
    out +=
        fmt::format("; snoozed for {} s",
                    (s.snoozed_until_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count()) /
                        1000);
  if (s.snoozed_until_customer()) out += "; snoozed until the customer writes";
  return out;
}

}  // namespace

std::shared_ptr<CannedCache> add_workbench_handlers(desk::Handler& h,
                                                    std::function<void(const std::string&)> print) {
  auto cache = std::make_shared<CannedCache>();
  h.on_note_added = [print](const v1::NoteAdded& n) {
    print(
        fmt::format("[note] {} #{} stored (agents only)", n.conversation_id(), n.message().seq()));
  };
  h.on_updated = [print](const v1::ConversationUpdated& u) {
    print(fmt::format("[updated] {} {}: {}", u.conversation().conversation_id(), u.reason(),
                      summary(u.conversation())));
  };
  auto keep = [cache, print](const google::protobuf::RepeatedPtrField<v1::CannedResponse>& all,
                             bool quiet) {
    std::lock_guard lock(cache->mu);
    cache->by_code.clear();
    for (const auto& r : all) cache->by_code[scope_name(r) + "/" + r.shortcode()] = r;
    if (!quiet) print(fmt::format("[canned] {} canned responses (type: canned)", all.size()));
  };
  h.on_canned = [keep](const v1::CannedResponses& c) { keep(c.responses(), false); };
  auto welcome = h.on_welcome;
  h.on_welcome = [welcome, keep](const v1::Welcome& w) {
    if (welcome) welcome(w);
    keep(w.canned_responses(), true);
  };
  return cache;
}

bool workbench_command(desk::Desk& d, CannedCache& cache, const std::string& cmd,
                       const std::string& arg, const std::string& rest,
                       const std::function<void(const std::string&)>& print) {
  if (cmd == "note" && !arg.empty() && !rest.empty()) {
    d.note(arg, rest);
  } else if (cmd == "labels" && !arg.empty()) {
    std::vector<std::string> labels;
    std::stringstream in(rest);
    for (std::string l; std::getline(in, l, ',');) {
      while (!l.empty() && l.front() == ' ') l.erase(0, 1);
      while (!l.empty() && l.back() == ' ') l.pop_back();
      if (!l.empty()) labels.push_back(l);
    }
    d.set_labels(arg, labels);
  } else if (cmd == "snooze" && !arg.empty() && !rest.empty()) {
    if (rest == "off") {
      d.snooze(arg, 0, false);
    } else if (rest == "customer") {
      d.snooze(arg, 0, true);
    } else {
      int64_t minutes = 0;
      try {
        minutes = std::stoll(rest);
      } catch (...) {
        return false;
      }
      if (minutes <= 0) return false;
      const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      d.snooze(arg, now + minutes * 60000, false);
    }
  } else if (cmd == "canned") {
    std::lock_guard lock(cache.mu);
    if (cache.by_code.empty()) print("[canned] none");
    for (const auto& [key, r] : cache.by_code)
      for (const auto& t : r.texts())
        print(fmt::format("[canned] /{} ({}) {}: {}", r.shortcode(), scope_name(r),
                          t.language().empty() ? "any" : t.language(), t.text()));
  } else if (cmd == "canned-add" && !arg.empty() && !rest.empty()) {
    std::istringstream in(rest);
    std::string code, lang, text;
    in >> code >> lang;
    std::getline(in, text);
    if (!text.empty() && text.front() == ' ') text.erase(0, 1);
    if (code.empty() || lang.empty() || text.empty()) return false;
    v1::CannedResponse r;
    {
      std::lock_guard lock(cache.mu);  // adding a language keeps the others
      if (auto it = cache.by_code.find(arg + "/" + code); it != cache.by_code.end()) r = it->second;
    }
    if (arg == "personal")
      r.set_scope(v1::CannedResponse::SCOPE_PERSONAL);
    else if (arg == "workspace")
      r.set_scope(v1::CannedResponse::SCOPE_WORKSPACE);
    else if (arg.rfind("queue:", 0) == 0) {
      r.set_scope(v1::CannedResponse::SCOPE_QUEUE);
      r.set_queue_id(arg.substr(6));
    } else {
      return false;
    }
    r.set_shortcode(code);
    if (lang == "-") lang.clear();
    bool replaced = false;
    for (auto& t : *r.mutable_texts())
      if (t.language() == lang) {
        t.set_text(text);
        replaced = true;
      }
    if (!replaced) {
      auto* t = r.add_texts();
      t->set_language(lang);
      t->set_text(text);
    }
    d.save_canned(r);
  } else if (cmd == "canned-del" && !arg.empty()) {
    std::string id;
    {
      std::lock_guard lock(cache.mu);
      for (const auto& [key, r] : cache.by_code)
        if (r.shortcode() == arg) id = r.canned_id();
    }
    if (id.empty()) {
      print("[canned] no such shortcode");
      return true;
    }
    d.delete_canned(id);
  } else {
    return false;
  }
  return true;
}

}  // namespace omniroute::cli
