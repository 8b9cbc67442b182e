// What the social platforms' connectors share (Messenger, Instagram, WhatsApp here;
// Telegram in connectors/telegram/): the connector's state (provider message ids, when each
// customer last wrote), inboxes found by the platform account an event names, publishing a
// webhook's events (200 only when Kafka has all of them), and long texts sent in parts.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/utf8.h"
#include "connectors/http/connector.h"
#include "connectors/sdk/survey.h"
#include "connectors/social/social.h"
#include "connectors/state/kv.h"
#include "connectors/state/provider_ids.h"

namespace omniroute::connectors::social {

constexpr int64_t kHourMs = 3600 * 1000;
constexpr int64_t kIdTtlMs = 30 * 24 * kHourMs;  // receipts come within days

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string when(int64_t ms) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  return fmt::format("{:%Y-%m-%d %H:%M} UTC", fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

inline bool is_meta(Platform p) {
  return p != Platform::kTelegram;
}

// The inbox setting that names the platform account an inbox is.
inline const char* account_key(Platform p) {
  switch (p) {
    case Platform::kMessenger:
      return "page_id";
    case Platform::kInstagram:
      return "account_id";
    case Platform::kWhatsApp:
      return "phone_number_id";
    case Platform::kTelegram:
      return "bot_token";
  }
  return "";
}

// Settings every platform connector has (listener, limits, state, API timeout).
std::vector<sdk::ConfigField> platform_settings(Platform p);

class PlatformConnector : public http::HttpConnector {
 public:
  PlatformConnector(Platform p, const sdk::Settings& s)
      : HttpConnector(platform_name(p), s),
        p_(p),
        prefix_(fmt::format("/v1/{}/", platform_name(p))) {
    limits_.max_events = static_cast<size_t>(s.integer("max_events"));
    limits_.max_text_bytes = static_cast<size_t>(s.integer("max_text_bytes"));
  }

 protected:
  // One route, /v1/<platform>/, whose requests go to `handle`.
  std::vector<http::Route> routes() final {
    http::Route route;
    route.prefix = prefix_;
    route.max_body_bytes = static_cast<size_t>(settings().integer("max_body_bytes"));
    route.handler = [this](http::Request req, http::Respond respond) {
      handle(std::move(req), std::move(respond));
    };
    return {std::move(route)};
  }
  virtual void handle(http::Request req, http::Respond respond) = 0;
  // The platform account an inbox is (events name it; Telegram overrides: the bot id).
  virtual std::string account_of(const sdk::InboxInfo& inbox) const {
    return inbox.settings.str(account_key(p_));
  }
  std::string prepare() override {
    std::string err;
    kv_ = state::Kv::open(settings().str("state_dir"), err);
    if (!kv_) return err;
    ids_ = std::make_unique<state::ProviderIds>(*kv_, "pid/", kIdTtlMs);
    ids_->prune(wall_ms());
    for (const auto& inbox : host().inboxes()) {
      const std::string account = account_of(inbox);
      if (account.empty())
        return fmt::format("{}/{} has no {}", inbox.workspace_id, inbox.inbox_id, account_key(p_));
      if (!accounts_.emplace(account, &inbox).second)
        return fmt::format("two inboxes for the same account {}", account);
    }
    return {};
  }

  // Publishes every event of one request; answers 200 when Kafka has all of them, 503 when
  // any failed (the platform retries the whole request; the router drops what it has).
  void publish_all(std::vector<Event> events, const sdk::InboxInfo* fixed, http::Respond respond) {
    struct Pending {
      std::atomic<int> left{0};
      std::atomic<bool> failed{false};
      http::Respond respond;
    };
    auto pending = std::make_shared<Pending>();
    pending->respond = std::move(respond);
    std::vector<std::pair<v1::Envelope, std::function<void()>>> todo;
    for (auto& e : events) {
      const sdk::InboxInfo* inbox = fixed;
      if (!inbox) {
        auto it = accounts_.find(e.account);
        if (it == accounts_.end()) {
          host().dead_letter(
              e.envelope.SerializeAsString(),
              fmt::format("{}: no inbox for account {}", platform_name(p_), e.account));
          continue;
        }
        inbox = it->second;
      }
      auto& env = e.envelope;
      std::function<void()> on_ok;
      if (env.has_message()) {
        auto* m = env.mutable_message();
        m->set_workspace_id(inbox->workspace_id);
        m->set_inbox_id(inbox->inbox_id);
        const std::string key = last_key(*inbox, m->customer_handle());
        const int64_t sent = m->sent_at_ms() ? m->sent_at_ms() : wall_ms();
        on_ok = [this, key, sent] { customer_wrote(key, sent); };
        // A survey's rating button pressed: the answer, not a message for an agent.
        if (v1::Envelope answer; sdk::as_survey_answer(*m, &answer)) env = std::move(answer);
      } else if (env.has_delivery_status()) {
        auto* s = env.mutable_delivery_status();
        const auto ours = ids_->find(s->provider_message_id());
        if (!ours) continue;  // not ours, or old
        s->set_workspace_id(inbox->workspace_id);
        s->set_inbox_id(inbox->inbox_id);
        s->set_outbound_id(ours->outbound_id);
        s->set_conversation_id(ours->conversation_id);
      } else if (env.has_signal()) {
        env.mutable_signal()->set_workspace_id(inbox->workspace_id);
        env.mutable_signal()->set_inbox_id(inbox->inbox_id);
      }
      todo.emplace_back(std::move(env), std::move(on_ok));
    }
    if (todo.empty()) {
      pending->respond(http::Response::json(200, R"({"status":"ok"})"));
      return;
    }
    pending->left = static_cast<int>(todo.size());
    for (auto& [env, on_ok] : todo) {
      // An event Kafka can never take fails only itself (to the DLQ); only a store that
      // is unavailable makes the platform retry the whole request.
      auto copy = std::make_shared<std::string>(env.SerializeAsString());
      host().publish(std::move(env), [this, pending, copy,
                                      on_ok = std::move(on_ok)](const sdk::PublishResult& r) {
        if (r.code == sdk::PublishResult::Code::kUnavailable)
          pending->failed = true;
        else if (!r.ok())
          host().dead_letter(*copy, fmt::format("{}: {}", platform_name(p_), r.detail));
        else if (on_ok)
          on_ok();
        if (--pending->left == 0) {
          if (pending->failed)
            pending->respond(http::Response::error(503, "event store unavailable, retry later"));
          else
            pending->respond(http::Response::json(200, R"({"status":"ok"})"));
        }
      });
    }
  }

  // ---------------------------------------------------------------- out

  static std::string last_key(const sdk::InboxInfo& inbox, const std::string& handle) {
    return fmt::format("last/{}/{}/{}", inbox.workspace_id, inbox.inbox_id, handle);
  }
  // Records that the customer wrote at `sent_ms`. Only ever moves forward: Meta re-delivers
  // old messages for days, and a late copy must never close an open 24-hour window.
  void customer_wrote(const std::string& key, int64_t sent_ms) {
    std::lock_guard lock(last_mu_);
    std::string v;
    if (kv_->get(key, &v) && std::atoll(v.c_str()) >= sent_ms) return;
    if (auto err = kv_->put(key, std::to_string(sent_ms)); !err.empty())
      host().logger()->warn("could not record when a customer last wrote: {}", err);
  }
  // When the customer last wrote (ms), 0 when unknown.
  int64_t last_inbound(const sdk::InboxInfo& inbox, const std::string& handle) const {
    std::string v;
    return kv_->get(last_key(inbox, handle), &v) ? std::atoll(v.c_str()) : 0;
  }
  void remember(const std::string& provider_id, const v1::OutboundMessage& m) {
    if (auto err = ids_->remember(provider_id, m.outbound_id(), m.conversation_id(), wall_ms());
        !err.empty())
      host().logger()->warn("{}: message {} sent; its receipts will not be matched: {}",
                            platform_name(p_), m.outbound_id(), err);
  }
  // Text longer than the channel takes goes as several messages, in order. How many parts
  // went out is kept, so a retry after a failed part sends only the rest (never a part
  // twice). The last part's id is remembered for receipts: channels deliver in order, so
  // its receipt stands for the whole reply.
  sdk::DeliveryResult send_parts(
      const v1::OutboundMessage& m, size_t max_units,
      const std::function<sdk::DeliveryResult(const std::string&, std::string*)>& send_one,
      std::string* first_id) {
    const auto parts = utf8::split(m.text_body(), max_units);
    const std::string progress = "parts/" + m.outbound_id();
    std::string v;
    size_t done = kv_->get(progress, &v) ? static_cast<size_t>(std::atoll(v.c_str())) : 0;
    std::string id;
    for (size_t i = done; i < parts.size(); ++i) {
      auto r = send_one(parts[i], &id);
      if (r.code != sdk::DeliveryResult::Code::kDelivered) {
        if (i > 0) {
          if (auto err = kv_->put(progress, std::to_string(i)); !err.empty())
            host().logger()->error("{}: parts sent of {} not recorded (a retry resends them): {}",
                                   platform_name(p_), m.outbound_id(), err);
          r.detail =
              fmt::format("parts 1-{} of {} sent; part {}: {}", i, parts.size(), i + 1, r.detail);
        }
        return r;
      }
      if (i == 0) *first_id = id;
      if (i + 1 == parts.size()) remember(id, m);
    }
    if (done > 0 && !kv_->del(progress).empty())
      host().logger()->warn("{}: progress of {} not cleared", platform_name(p_), m.outbound_id());
    auto r = sdk::DeliveryResult::delivered(*first_id);
    if (parts.size() > 1) r.detail = fmt::format("sent as {} messages", parts.size());
    return r;
  }

  Platform p_;
  std::string prefix_;
  Limits limits_;
  std::unique_ptr<state::Kv> kv_;
  std::unique_ptr<state::ProviderIds> ids_;  // provider message id -> our outbound message
  std::mutex last_mu_;  // customer_wrote: read-compare-write of one key at a time
  std::atomic<uint64_t> skipped_{0}, rejected_{0};  // events skipped / sent to the DLQ
  std::map<std::string, const sdk::InboxInfo*> accounts_;
};

}  // namespace omniroute::connectors::social
