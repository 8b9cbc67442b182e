#include "workspace/gateway.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include "common/ids.h"
#include "common/log.h"

namespace omniroute::workspace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using json = nlohmann::json;

namespace {

json to_json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &out, o).ok()) return json::object();
  return json::parse(out, nullptr, false);
}

std::string str(const json& j, const char* key, size_t max = 4096) {
  if (!j.contains(key) || !j[key].is_string()) return {};
  std::string s = j[key];
  return s.size() > max ? std::string() : s;
}

// A boolean member, false when absent or of another type (never throws on hostile input).
bool flag(const json& j, const char* key) {
  return j.contains(key) && j[key].is_boolean() && j[key].get<bool>();
}

}  // namespace

// One browser tab: a WebSocket on the front door's threads.
class Tab : public std::enable_shared_from_this<Tab> {
 public:
  Tab(beast::tcp_stream&& stream, connectors::http::ConnectionLease lease,
      std::weak_ptr<Gateway> gw, Session who)
      : lease_(std::move(lease)),
        ws_(std::move(stream)),
        gw_(std::move(gw)),
        who_(std::move(who)) {}

  void start(boost::beast::http::request<boost::beast::http::string_body> req,
             std::shared_ptr<AgentLink> link, uint64_t since, std::string epoch) {
    link_ = link;
    websocket::stream_base::timeout t{std::chrono::seconds(30), std::chrono::seconds(60), true};
    ws_.set_option(t);
    ws_.read_message_max(256 * 1024);
    ws_.async_accept(req, [self = shared_from_this(), link, since,
                           epoch = std::move(epoch)](beast::error_code ec) {
      if (ec) return self->gone();
      link->attach(self, since, epoch);
      self->read();
    });
  }

  // From any thread.
  void send(std::string text) {
    net::post(ws_.get_executor(), [self = shared_from_this(), t = std::move(text)]() mutable {
      if (self->closed_) return;
      if (self->out_.size() >= 2000) {  // not reading: it reconnects and catches up
        self->closed_ = true;
        self->ws_.async_close(websocket::close_reason(websocket::close_code::try_again_later),
                              [self](beast::error_code) {});
        return;
      }
      self->out_.push_back(std::move(t));
      if (self->out_.size() == 1) self->write();
    });
  }
  void error(const std::string& what) { send(json{{"type", "error"}, {"error", what}}.dump()); }
  void close_from_any_thread() {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      if (self->closed_) return;
      self->closed_ = true;
      self->ws_.async_close(websocket::close_reason(websocket::close_code::going_away),
                            [self](beast::error_code) {});
    });
  }
  const Session& who() const { return who_; }

 private:
  void gone() {
    if (auto gw = gw_.lock()) gw->tab_closed(who_, this);
  }
  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->closed_ = true;
        return self->gone();
      }
      const json cmd = json::parse(beast::buffers_to_string(self->in_.data()), nullptr, false);
      self->in_.consume(self->in_.size());
      if (!cmd.is_object()) {
        self->error("commands are JSON objects");
      } else if (auto link = self->link_.lock()) {
        try {
          link->command(*self, cmd);
        } catch (const std::exception&) {  // a command of the wrong shape: that tab is told
          self->error("malformed command");
        }
      }
      self->read();
    });
  }
  void write() {
    ws_.text(true);
    ws_.async_write(net::buffer(out_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      if (ec) return;
                      self->out_.pop_front();
                      if (!self->out_.empty()) self->write();
                    });
  }

  connectors::http::ConnectionLease lease_;
  websocket::stream<beast::tcp_stream> ws_;
  std::weak_ptr<Gateway> gw_;
  Session who_;
  std::weak_ptr<AgentLink> link_;
  beast::flat_buffer in_;
  std::deque<std::string> out_;
  bool closed_ = false;
};

// ---------------------------------------------------------------- AgentLink

AgentLink::AgentLink(const Session& who, const GatewayOptions& o)
    : who_(who), epoch_(new_uuid()), max_log_(o.log_events) {
  desk::Options d;
  d.endpoint = o.router_endpoint;
  d.workspace_id = who.workspace;
  d.agent_id = who.agent;
  d.desk_name = "omniroute-workspace";
  d.presence = v1::PRESENCE_AWAY;  // available when the person says so
  d.server_key = o.router_public_key;
  d.secret_key = o.secret_key;
  desk::Handler h;
  auto event = [this](const char* type, const google::protobuf::Message& m) {
    publish({{"type", type}, {type, to_json(m)}});
  };
  h.on_welcome = [event](const v1::Welcome& w) { event("welcome", w); };
  h.on_offer = [event](const v1::Offer& m) { event("offer", m); };
  h.on_withdrawn = [event](const v1::OfferWithdrawn& m) { event("offer_withdrawn", m); };
  h.on_assignment = [event](const v1::Assignment& m) { event("assignment", m); };
  h.on_message = [event](const v1::CustomerMessage& m) { event("customer_message", m); };
  h.on_reply_ack = [event](const v1::ReplyAck& m) { event("reply_ack", m); };
  h.on_delivery = [event](const v1::DeliveryUpdate& m) { event("delivery_update", m); };
  h.on_resolved = [event](const v1::Resolved& m) { event("resolved", m); };
  h.on_gone = [event](const v1::ConversationGone& m) { event("conversation_gone", m); };
  h.on_linked = [event](const v1::CustomerLinked& m) { event("customer_linked", m); };
  h.on_typing = [event](const v1::Typing& m) { event("typing", m); };
  h.on_error = [event](const v1::Error& m) { event("error", m); };
  // The router's side of the link, shown as it is: "connected", or why not.
  h.on_status = [this](const std::string& s) {
    publish({{"type", "router"},
             {"status", s == "connected" ? "connected" : "unreachable"},
             {"detail", s}});
  };
  h.on_note_added = [event](const v1::NoteAdded& m) { event("note_added", m); };
  h.on_updated = [event](const v1::ConversationUpdated& m) { event("conversation_updated", m); };
  h.on_canned = [event](const v1::CannedResponses& m) { event("canned_responses", m); };
  desk_ = std::make_unique<desk::Desk>(d, h);
  desk_->start();
}

AgentLink::~AgentLink() {
  desk_->stop();  // says offline: the router's presence grace takes it from there
  std::lock_guard lock(mu_);
  for (const auto& t : tabs_) t->close_from_any_thread();
}

void AgentLink::publish(json event) {
  std::lock_guard lock(mu_);
  event["seq"] = ++seq_;
  state_.apply(event);
  std::string text = event.dump(-1, ' ', false, json::error_handler_t::replace);
  log_.emplace_back(seq_, text);
  while (log_.size() > max_log_) log_.pop_front();
  for (const auto& t : tabs_) t->send(text);
}

void AgentLink::attach(const std::shared_ptr<Tab>& tab, uint64_t since, const std::string& epoch) {
  std::lock_guard lock(mu_);
  tabs_.insert(tab);
  idle_since_ms_ = 0;
  if (epoch != epoch_) since = 0;  // another stream's numbers: the whole state
  const bool in_log =
      since > 0 && since <= seq_ && !log_.empty() && since + 1 >= log_.front().first;
  if (since == seq_ && since > 0) return;  // up to date
  if (in_log) {
    for (const auto& [s, text] : log_)
      if (s > since) tab->send(text);
    return;
  }
  json st = state_.snapshot();
  st["type"] = "state";
  st["seq"] = seq_;
  st["epoch"] = epoch_;
  st["agent"] = who_.agent;
  st["workspace"] = who_.workspace;
  st["role"] = who_.role == config::Role::kSupervisor ? "supervisor" : "agent";
  tab->send(st.dump(-1, ' ', false, json::error_handler_t::replace));
}

bool AgentLink::detach(const Tab* tab) {
  std::lock_guard lock(mu_);
  for (auto it = tabs_.begin(); it != tabs_.end(); ++it)
    if (it->get() == tab) {
      tabs_.erase(it);
      break;
    }
  if (!tabs_.empty()) return false;
  idle_since_ms_ = now_ms();
  return true;
}

bool AgentLink::idle_since(int64_t* ms) const {
  std::lock_guard lock(mu_);
  *ms = idle_since_ms_;
  return tabs_.empty();
}

void AgentLink::command(Tab& from, const json& cmd) {
  const std::string c = str(cmd, "cmd", 64);
  if (c == "accept") {
    desk_->accept(str(cmd, "offer_id", 256));
  } else if (c == "reject") {
    desk_->reject(str(cmd, "offer_id", 256), str(cmd, "reason", 1000));
  } else if (c == "reply") {
    reply(from, cmd);
  } else if (c == "note") {
    const std::string conv = str(cmd, "conversation_id", 256), text = str(cmd, "text", 200000);
    if (conv.empty() || text.empty()) return from.error("note needs conversation_id and text");
    desk_->note(conv, text, str(cmd, "note_id", 128));
  } else if (c == "labels") {
    std::vector<std::string> labels;
    if (cmd.contains("labels") && cmd["labels"].is_array() && cmd["labels"].size() <= 100)
      for (const auto& l : cmd["labels"])
        if (l.is_string()) labels.push_back(l.get<std::string>().substr(0, 256));
    desk_->set_labels(str(cmd, "conversation_id", 256), labels);
  } else if (c == "snooze") {
    const bool timed = cmd.contains("until_ms") && cmd["until_ms"].is_number_integer();
    desk_->snooze(str(cmd, "conversation_id", 256), timed ? cmd["until_ms"].get<int64_t>() : 0,
                  flag(cmd, "until_customer"));
  } else if (c == "canned_save") {
    v1::CannedResponse r;
    if (!cmd.contains("response") || !cmd["response"].is_object() ||
        !google::protobuf::util::JsonStringToMessage(cmd["response"].dump(), &r).ok())
      return from.error("canned_save needs a response object (see docs/agent-protocol.md)");
    desk_->save_canned(r);
  } else if (c == "canned_delete") {
    desk_->delete_canned(str(cmd, "canned_id", 256));
  } else if (c == "force_assign") {
    if (who_.role != config::Role::kSupervisor) return from.error("only supervisors force-assign");
    desk_->force_assign(str(cmd, "conversation_id", 256), str(cmd, "agent_id", 256),
                        str(cmd, "note", 4000), str(cmd, "to_queue_id", 256));
  } else if (c == "link") {
    desk_->link(str(cmd, "customer_id", 256), str(cmd, "other_customer_id", 256),
                str(cmd, "note", 4000));
  } else if (c == "unlink") {
    desk_->unlink(str(cmd, "customer_id", 256));
  } else if (c == "resolve") {
    desk_->resolve(str(cmd, "conversation_id", 256));
  } else if (c == "typing") {
    desk_->typing(str(cmd, "conversation_id", 256), flag(cmd, "on"));
  } else if (c == "transfer") {
    desk_->transfer(str(cmd, "conversation_id", 256), str(cmd, "to_agent_id", 256),
                    str(cmd, "to_queue_id", 256), str(cmd, "note", 4000));
  } else if (c == "presence") {
    const std::string p = str(cmd, "presence", 16);
    if (p != "available" && p != "away") return from.error("presence is available or away");
    desk_->set_presence(p == "available" ? v1::PRESENCE_AVAILABLE : v1::PRESENCE_AWAY);
    publish({{"type", "presence"}, {"presence", p}});
  } else {
    from.error("unknown command '" + c + "'");
  }
}

void AgentLink::reply(Tab& from, const json& cmd) {
  const std::string conv = str(cmd, "conversation_id", 256), text = str(cmd, "text", 200000);
  std::string id = str(cmd, "reply_id", 128);
  if (id.empty()) id = new_uuid();
  if (cmd.contains("template") && cmd["template"].is_object()) {
    const json& t = cmd["template"];
    std::vector<std::string> params;
    if (t.contains("parameters") && t["parameters"].is_array() && t["parameters"].size() <= 100)
      for (const auto& v : t["parameters"])
        if (v.is_string()) params.push_back(v.get<std::string>().substr(0, 4096));
    const std::string name = str(t, "name", 512), lang = str(t, "language", 16);
    if (conv.empty() || name.empty() || lang.empty())
      return from.error("a template reply needs conversation_id, name and language");
    {
      std::lock_guard lock(mu_);
      state_.reply_sent(id, conv, fmt::format("[template {} ({})]", name, lang), who_.agent);
    }
    desk_->reply_template(conv, name, lang, params, id);
    return;
  }
  if (conv.empty() || text.empty()) return from.error("reply needs conversation_id and text");
  {
    std::lock_guard lock(mu_);
    state_.reply_sent(id, conv, text, who_.agent);
  }
  desk_->reply(conv, text, id);
}

// ---------------------------------------------------------------- Gateway

Gateway::Gateway(GatewayOptions o) : o_(std::move(o)) {
  reaper_ = std::thread([this] { reap(); });
}

Gateway::~Gateway() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  reaper_.join();
  close_all();
}

void Gateway::close_all() {
  std::map<std::string, std::shared_ptr<AgentLink>> gone;
  {
    std::lock_guard lock(mu_);
    gone.swap(links_);
  }
  // Destroyed here, outside the lock: each stops its desk and closes its tabs.
}

void Gateway::upgrade(beast::tcp_stream stream,
                      boost::beast::http::request<boost::beast::http::string_body> req,
                      connectors::http::ConnectionLease lease, const Session& who, uint64_t since,
                      const std::string& epoch) {
  std::shared_ptr<AgentLink> link;
  {
    std::lock_guard lock(mu_);
    auto& l = links_[who.workspace + "/" + who.agent];
    if (!l) l = std::make_shared<AgentLink>(who, o_);
    link = l;
  }
  auto tab = std::make_shared<Tab>(std::move(stream), std::move(lease), weak_from_this(), who);
  tab->start(std::move(req), link, since, epoch);
}

void Gateway::tab_closed(const Session& who, const Tab* tab) {
  std::lock_guard lock(mu_);
  auto it = links_.find(who.workspace + "/" + who.agent);
  if (it != links_.end()) it->second->detach(tab);
}

size_t Gateway::links() const {
  std::lock_guard lock(mu_);
  return links_.size();
}

void Gateway::reap() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(500));
    const int64_t now = now_ms();
    for (auto it = links_.begin(); it != links_.end();) {
      int64_t since = 0;
      if (it->second->idle_since(&since) && since > 0 && now - since >= o_.tab_grace_ms) {
        log::get("workspace")->info("{}: no tab open; protocol session ended", it->first);
        auto gone = std::move(it->second);
        it = links_.erase(it);
        lock.unlock();
        gone.reset();  // stops the desk outside the lock
        lock.lock();
        it = links_.begin();  // the map may have changed meanwhile
        continue;
      }
      ++it;
    }
  }
}

}  // namespace omniroute::workspace
