// `omniroute agent`: a terminal desk. Prints offers, assignments and customer messages;
// reads commands from stdin.
#include <iostream>
#include <mutex>
#include <sstream>

#include <fmt/format.h>

#include <thread>
#include "cli/agent_workbench.h"
#include "cli/commands.h"
#include "config/config.h"
#include "desk/desk.h"
#include "desk/keys.h"
#include "schemas/channel.h"

namespace omniroute::cli {
namespace {

std::mutex g_out;
template <typename... Args>
void say(fmt::format_string<Args...> f, Args&&... args) {
  std::lock_guard lock(g_out);
  fmt::print(f, std::forward<Args>(args)...);
  fmt::print("\n");
  std::fflush(stdout);
}

const char* author(v1::Author a) {
  switch (a) {
    case v1::AUTHOR_CUSTOMER:
      return "customer";
    case v1::AUTHOR_AGENT:
      return "agent";
    case v1::AUTHOR_SYSTEM:
      return "system";
    default:
      return "?";
  }
}

constexpr const char* kHelp =
    "commands: accept OFFER | reject OFFER [reason] | reply CONV TEXT | "
    "template CONV NAME LANGUAGE [param | param ...] (WhatsApp) | typing CONV (chat) | "
    "resolve CONV | "
    "transfer CONV agent:ID|queue:ID [note] | assign CONV AGENT [note] (supervisors) | "
    "link CUSTOMER OTHER [note] | unlink CUSTOMER | away | available | "
    "resume (take the session back from another desk) | quit\n          ";

}  // namespace

int cmd_agent(const AgentOptions& o) {
  auto cell = std::make_shared<desk::Desk*>(nullptr);
  desk::Handler h;
  h.on_status = [](const std::string& s) { say("[desk] {}", s); };
  h.on_welcome = [](const v1::Welcome& w) {
    say("[welcome] {} open conversations, {} pending offers", w.open_conversations_size(),
        w.pending_offers_size());
  };
  h.on_offer = [cell, o](const v1::Offer& of) {
    const auto& c = of.conversation();
    say("[offer] {} {} from {} ({}): \"{}\"", of.offer_id(), channel_name(c.channel()),
        c.customer_display_name().empty() ? c.customer_handle() : c.customer_display_name(),
        c.inbox_id(), of.preview());
    if (o.auto_accept)
      (*cell)->accept(of.offer_id());
    else
      say("        accept {}   |   reject {}", of.offer_id(), of.offer_id());
  };
  h.on_withdrawn = [](const v1::OfferWithdrawn& w) {
    say("[withdrawn] {}: {}", w.offer_id(), w.reason());
  };
  h.on_assignment = [cell, o](const v1::Assignment& a) {
    const auto& c = a.conversation();
    say("[conversation] {} with {} <{}> on {}", c.conversation_id(), c.customer_display_name(),
        c.customer_handle(), channel_name(c.channel()));
    say("   customer {}", c.customer_id());
    for (const auto& p : a.customer_history()) {
      say("   earlier: {} on {} ({}{}), {} messages{}", p.conversation().conversation_id(),
          channel_name(p.conversation().channel()), p.state(),
          p.agent_id().empty() ? "" : ", " + p.agent_id(), p.history_size(),
          p.history_truncated() ? " (latest)" : "");
      for (const auto& m : p.history())
        say("      #{} {}: {}", m.seq(), author(m.author()), m.text_body());
    }
    for (const auto& m : a.history())
      say("   #{} {}: {}", m.seq(), author(m.author()), m.text_body());
    if (!o.auto_reply.empty() && !a.offer_id().empty())
      (*cell)->reply(c.conversation_id(), o.auto_reply);
  };
  h.on_message = [](const v1::CustomerMessage& m) {
    if (m.message().has_csat()) {
      say("[rating] {} customer rated {} of {}{}{}", m.conversation_id(),
          m.message().csat().rating(), m.message().csat().scale(),
          m.message().text_body().empty() ? "" : ": ", m.message().text_body());
      return;
    }
    say("[message] {} #{} customer: {}", m.conversation_id(), m.message().seq(),
        m.message().text_body());
  };
  h.on_reply_ack = [cell, o](const v1::ReplyAck& a) {
    say("[sent] {} reply #{} queued for delivery as {}", a.conversation_id(), a.seq(),
        a.outbound_id());
    if (o.auto_resolve) (*cell)->resolve(a.conversation_id());
  };
  h.on_delivery = [](const v1::DeliveryUpdate& u) {
    say("[delivery] {} {} {}{}", u.conversation_id(), u.outbound_id(),
        v1::DeliveryStatus::State_Name(u.state()), u.detail().empty() ? "" : ": " + u.detail());
  };
  h.on_resolved = [](const v1::Resolved& r) { say("[resolved] {}", r.conversation_id()); };
  h.on_gone = [](const v1::ConversationGone& g) {
    say("[gone] {} {}", g.conversation_id(), g.reason());
  };
  h.on_linked = [](const v1::CustomerLinked& l) {
    say("[customer] {} {}; group: {}", l.customer_id(),
        l.root_customer_id().empty() ? "is a root" : "is linked into " + l.root_customer_id(),
        fmt::join(l.linked_customer_ids(), ", "));
  };
  h.on_typing = [](const v1::Typing& t) {
    if (t.on()) say("[typing] {} the customer is typing", t.conversation_id());
  };
  h.on_error = [](const v1::Error& e) {
    say("[error] {} {} {}", v1::Error::Code_Name(e.code()), e.ref_id(), e.message());
  };

  auto canned = add_workbench_handlers(h, [](const std::string& s) { say("{}", s); });

  desk::Options opts{o.endpoint, o.workspace, o.agent, o.token};
  opts.desk_name = "omniroute-agent-cli";
  if (!o.insecure) {
    const std::string key_file = o.key_file.empty()
                                     ? desk::agent_key_path("var/keys", o.workspace, o.agent, true)
                                     : o.key_file;
    opts.secret_key = desk::read_key_file(key_file);
    opts.server_key =
        desk::key_from_arg(o.server_key.empty() ? "var/state/router.pub" : o.server_key);
    if (opts.secret_key.size() != 40) {
      say("omniroute agent: no secret key in {} (make one: omniroute agent keygen -w {} -a {}; "
          "or --insecure for a router without CURVE)",
          key_file, o.workspace, o.agent);
      return 2;
    }
    if (opts.server_key.size() != 40) {
      say("omniroute agent: no router public key ({}): give --server-key KEY|FILE "
          "(the router writes it to <state.dir>/router.pub)",
          o.server_key.empty() ? "var/state/router.pub" : o.server_key);
      return 2;
    }
  }
  desk::Desk d(opts, h);
  *cell = &d;
  d.start();
  say("{}{}", kHelp, kWorkbenchHelp);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd, arg;
    in >> cmd >> arg;
    std::string rest;
    std::getline(in, rest);
    if (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
    if (cmd.empty()) continue;
    if (cmd == "quit" || cmd == "exit") break;
    if (cmd == "accept" && !arg.empty())
      d.accept(arg);
    else if (cmd == "reject" && !arg.empty())
      d.reject(arg, rest);
    else if (cmd == "reply" && !arg.empty() && !rest.empty())
      d.reply(arg, rest);
    else if (cmd == "template" && !arg.empty() && !rest.empty()) {
      std::istringstream r(rest);
      std::string name, lang, params;
      r >> name >> lang;
      std::getline(r, params);
      std::vector<std::string> values;
      for (size_t start = 0; !params.empty() && start <= params.size();) {
        size_t bar = params.find('|', start);
        std::string v =
            params.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        while (!v.empty() && v.back() == ' ') v.pop_back();
        if (!v.empty()) values.push_back(v);
        if (bar == std::string::npos) break;
        start = bar + 1;
      }
      if (lang.empty())
        say("{}", kHelp);
      else
        d.reply_template(arg, name, lang, values);
    } else if (cmd == "typing" && !arg.empty()) {
      d.typing(arg, rest != "off");
    } else if (cmd == "resolve" && !arg.empty())
      d.resolve(arg);
    else if ((cmd == "transfer" || cmd == "assign") && !arg.empty() && !rest.empty()) {
      std::istringstream r(rest);
      std::string target, note;
      r >> target;
      std::getline(r, note);
      if (!note.empty() && note.front() == ' ') note.erase(0, 1);
      if (cmd == "assign")
        d.force_assign(arg, target, note);
      else if (target.rfind("agent:", 0) == 0)
        d.transfer(arg, target.substr(6), "", note);
      else if (target.rfind("queue:", 0) == 0)
        d.transfer(arg, "", target.substr(6), note);
      else
        say("{}", kHelp);
    } else if (cmd == "link" && !arg.empty() && !rest.empty()) {
      std::istringstream r(rest);
      std::string other, note;
      r >> other;
      std::getline(r, note);
      if (!note.empty() && note.front() == ' ') note.erase(0, 1);
      d.link(arg, other, note);
    } else if (cmd == "unlink" && !arg.empty()) {
      d.unlink(arg);
    } else if (cmd == "away")
      d.set_presence(v1::PRESENCE_AWAY);
    else if (cmd == "available")
      d.set_presence(v1::PRESENCE_AVAILABLE);
    else if (cmd == "resume")
      d.resume();
    else if (!workbench_command(d, *canned, cmd, arg, rest,
                                [](const std::string& s) { say("{}", s); }))
      say("{}{}", kHelp, kWorkbenchHelp);
  }
  // stdin closed (or quit): with auto-accept, keep serving until interrupted.
  if (o.auto_accept && !std::cin.good() && line != "quit" && line != "exit") {
    while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  d.set_presence(v1::PRESENCE_OFFLINE);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  d.stop();
  return 0;
}

int cmd_agent_keygen(const KeygenOptions& o) {
  if (o.all) {
    if (o.config_path.empty()) {
      fmt::print(stderr, "omniroute agent keygen --all needs -c/--config\n");
      return 2;
    }
    std::vector<std::string> errors;
    auto cfg = config::load_file(o.config_path, errors, {.require_agent_credentials = false});
    if (!cfg) {
      for (const auto& e : errors) fmt::print(stderr, "{}\n", e);
      return 1;
    }
    const std::string dir =
        cfg->router.agent_keys_dir.empty() ? o.keys_dir : cfg->router.agent_keys_dir;
    int made = 0;
    for (const auto& ws : cfg->workspaces) {
      for (const auto& a : ws.agents) {
        if (!a.curve_public_key.empty()) continue;
        std::string err;
        if (desk::write_agent_keys(dir, ws.id, a.id, desk::generate_keypair(), err)) {
          fmt::print("{}\n", desk::agent_key_path(dir, ws.id, a.id, false));
          ++made;
        } else if (!err.empty()) {
          fmt::print(stderr, "{}\n", err);
          return 1;
        }
      }
    }
    fmt::print(stderr, "keygen: {} new key pairs in {}\n", made, dir);
    return 0;
  }
  const auto pair = desk::generate_keypair();
  if (o.workspace.empty() != o.agent.empty()) {
    fmt::print(stderr, "omniroute agent keygen: give both -w and -a, or neither\n");
    return 2;
  }
  if (o.workspace.empty()) {
    fmt::print("public: {}\nsecret: {}\n", pair.public_key, pair.secret_key);
    return 0;
  }
  std::string err;
  if (!desk::write_agent_keys(o.keys_dir, o.workspace, o.agent, pair, err)) {
    fmt::print(stderr, "{}\n",
               err.empty() ? "a key for " + o.workspace + "/" + o.agent + " exists already in " +
                                 o.keys_dir + " (remove it first to replace it)"
                           : err);
    return 1;
  }
  fmt::print("{}\n{}\n", desk::agent_key_path(o.keys_dir, o.workspace, o.agent, false),
             desk::agent_key_path(o.keys_dir, o.workspace, o.agent, true));
  return 0;
}

}  // namespace omniroute::cli
