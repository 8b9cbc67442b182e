#include "cli/demo.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include "desk/desk.h"
#include "desk/keys.h"

namespace omniroute::cli {

Demo::Demo(config::Config& cfg) {
  std::vector<std::string> errors;
  for (auto& ws : cfg.workspaces) {
    for (auto& inbox : ws.inboxes) {
      if (inbox.channel != v1::CHANNEL_WEBHOOK) continue;
      auto settings = connectors::resolve_settings(
          inbox.settings, sdk::builtin_registry().find(v1::CHANNEL_WEBHOOK)->inbox_settings, "demo",
          errors);
      Inbox d{ws.id, inbox.id, settings.str("secret"), nullptr};
      d.receiver = std::make_unique<connectors::webhook::CallbackReceiver>(d.secret);
      YAML::Node s =
          inbox.settings.IsMap() ? YAML::Clone(inbox.settings) : YAML::Node(YAML::NodeType::Map);
      s["callback_url"] = d.receiver->url();
      inbox.settings = s;
      inboxes_.push_back(std::move(d));
    }
  }
}

int Demo::run(Stack& stack, int messages, int timeout_s) {
  const auto& cfg = stack.config();
  if (inboxes_.empty()) {
    fmt::print(stderr, "demo: the config has no webhook inbox\n");
    return 2;
  }
  std::string endpoint;
  for (const auto& h : stack.connectors()) {
    if (h->name() == "webhook" && !h->endpoints().empty()) endpoint = h->endpoints().front();
  }
  const std::string base = endpoint.substr(0, endpoint.find("/v1/"));

  // Scripted agents: accept every offer, answer every customer message once, resolve
  // when the answer is durable.
  std::atomic<int> accepted{0}, replied{0}, sent_status{0};
  std::vector<std::unique_ptr<desk::Desk>> desks;
  for (const auto& ws : cfg.workspaces) {
    for (const auto& a : ws.agents) {
      // The handlers need the desk they belong to; it exists once they are built.
      auto cell = std::make_shared<desk::Desk*>(nullptr);
      desk::Handler h;
      h.on_offer = [cell](const v1::Offer& o) { (*cell)->accept(o.offer_id()); };
      h.on_assignment = [cell, &accepted, name = a.name](const v1::Assignment& as) {
        if (as.offer_id().empty()) return;  // resumed, already answered
        ++accepted;
        (*cell)->reply(as.conversation().conversation_id(),
                       fmt::format("Hello {}, this is {}. Thanks for writing; we are on it.",
                                   as.conversation().customer_display_name(), name));
      };
      h.on_reply_ack = [cell, &replied](const v1::ReplyAck& ack) {
        ++replied;
        (*cell)->resolve(ack.conversation_id());
      };
      h.on_delivery = [&sent_status](const v1::DeliveryUpdate& u) {
        if (u.state() == v1::DeliveryStatus::STATE_SENT) ++sent_status;
      };
      desk::Options opts{stack.router()->agent_endpoint(), ws.id, a.id, a.token};
      opts.desk_name = "demo-desk";
      if (!stack.router()->curve_public_key().empty()) {
        // The scripted desks use the agents' own keys, as a person's desk would.
        opts.server_key = stack.router()->curve_public_key();
        opts.secret_key = desk::read_key_file(
            desk::agent_key_path(stack.config().router.agent_keys_dir, ws.id, a.id, true));
        if (opts.secret_key.size() != 40) {
          fmt::print(stderr, "demo: no secret key for {}/{} in {} (omniroute agent keygen --all)\n",
                     ws.id, a.id, stack.config().router.agent_keys_dir);
          return 1;
        }
      }
      auto d = std::make_unique<desk::Desk>(opts, h);
      *cell = d.get();
      d->start();
      desks.push_back(std::move(d));
    }
  }

  int in = 0;
  for (int i = 0; i < messages; ++i) {
    const auto& ib = inboxes_[static_cast<size_t>(i) % inboxes_.size()];
    v1::InboundMessage m;
    m.set_external_message_id(
        fmt::format("demo-{}-{}", std::chrono::system_clock::now().time_since_epoch().count(), i));
    m.set_customer_handle(fmt::format("customer-{}@example.com", i));
    m.set_customer_display_name(fmt::format("Customer {}", i));
    m.set_text_body(fmt::format("Hi, this is demo message {}: where is my order?", i));
    std::string body;
    (void)google::protobuf::util::MessageToJsonString(m, &body);
    const std::string url =
        fmt::format("{}/v1/webhook/{}/{}/messages", base, ib.workspace, ib.inbox);
    int status = connectors::webhook::post_signed(url, ib.secret, body);
    if (status == 202)
      ++in;
    else
      fmt::print(stderr, "demo: POST {} answered {}\n", url, status);
  }

  auto delivered = [&] {
    size_t n = 0;
    for (const auto& ib : inboxes_) n += ib.receiver->received().size();
    return static_cast<int>(n);
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline && !stop_requested() &&
         (delivered() < in || sent_status < in)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& d : desks) d->stop();
  const int out = delivered();
  fmt::print("\ndemo summary\n");
  fmt::print("  messages in (202 from the webhook):    {:>6} of {}\n", in, messages);
  fmt::print("  routed (offered and accepted):         {:>6}\n", accepted.load());
  fmt::print("  replied (acknowledged by the router):  {:>6}\n", replied.load());
  fmt::print("  delivered (signed callbacks received): {:>6}\n", out);
  fmt::print("  delivery status SENT seen by agents:   {:>6}\n", sent_status.load());
  const bool ok = in == messages && accepted == messages && replied == messages &&
                  out == messages && sent_status == messages;
  fmt::print("  result: {}\n", ok ? "every message was answered and delivered" : "INCOMPLETE");
  return ok ? 0 : 1;
}

}  // namespace omniroute::cli
