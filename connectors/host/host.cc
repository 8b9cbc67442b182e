#include "connectors/host/host.h"

#include "ops/metrics.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "common/ids.h"
#include "config/yaml_reader.h"
#include "connectors/http/listener.h"

namespace omniroute::connectors {
namespace {

// Settings the host itself reads from every `connectors.<name>` section.
const std::vector<sdk::ConfigField>& host_fields() {
  using T = sdk::ConfigField::Type;
  static const std::vector<sdk::ConfigField> kFields{
      {"max_attempts", T::kInt, "Delivery attempts before an outbound message is failed", "8",
       false, 1, 1000},
      {"initial_backoff_ms", T::kInt, "Delay before the second attempt; doubles each time", "200",
       false, 1, 3600000},
      {"max_backoff_ms", T::kInt, "Upper bound of the delay between attempts", "30000", false, 1,
       86400000},
      {"publish_timeout_ms", T::kInt, "How long a publish may wait for Kafka before it fails",
       "10000", false, 100, 600000},
      {"max_parked", T::kInt, "Outbound messages waiting for a retry before consumption pauses",
       "10000", false, 1, 10000000},
  };
  return kFields;
}

std::vector<sdk::ConfigField> with_host_fields(const std::vector<sdk::ConfigField>& own) {
  std::vector<sdk::ConfigField> all = own;
  all.insert(all.end(), host_fields().begin(), host_fields().end());
  return all;
}

}  // namespace

int RetryPolicy::backoff_ms(int attempt) const {
  int64_t d = initial_backoff_ms;
  for (int i = 1; i < attempt && d < max_backoff_ms; ++i) d *= 2;
  return static_cast<int>(std::min<int64_t>(d, max_backoff_ms));
}

sdk::Settings resolve_settings(const YAML::Node& node, const std::vector<sdk::ConfigField>& fields,
                               const std::string& path, std::vector<std::string>& errors) {
  config::Errors errs;
  config::MapReader m(node, path, errs);
  std::map<std::string, std::string> values;
  for (const auto& f : fields) {
    using T = sdk::ConfigField::Type;
    switch (f.type) {
      case T::kString: {
        std::string v = m.str(f.name, f.default_value, f.required);
        values[f.name] = v;
        break;
      }
      case T::kInt: {
        int64_t def = f.default_value.empty() ? 0 : std::stoll(f.default_value);
        if (f.required && !m.has(f.name)) errs.add(node, m.path_of(f.name), "is required");
        values[f.name] = std::to_string(m.integer(f.name, def, f.min, f.max));
        break;
      }
      case T::kBool: {
        bool v = m.boolean(f.name, f.default_value == "true");
        values[f.name] = v ? "true" : "false";
        break;
      }
      case T::kSecret:
        values[f.name] = m.secret(f.name, f.required);
        break;
    }
  }
  m.finish();
  for (const auto& e : errs.items()) errors.push_back(e);
  return sdk::Settings(std::move(values));
}

void validate(const config::Config& cfg, const sdk::Registry& registry,
              std::vector<std::string>& errors) {
  std::vector<http::NamedSettings> resolved;
  // A body that can never become one Kafka record must be refused at the door (413), so
  // no limit may promise more.
  const int64_t room = std::min(cfg.kafka.max_message_bytes(), cfg.router.max_record_bytes) - 512;
  for (const auto& [name, conn] : cfg.connectors) {
    const auto* f = registry.find(name);
    if (!f) {
      errors.push_back(fmt::format("line {}: connectors.{}: unknown connector (known: {})",
                                   conn.line, name, fmt::join(registry.names(), ", ")));
      continue;
    }
    auto s = resolve_settings(conn.settings, with_host_fields(f->settings), "connectors." + name,
                              errors);
    if (s.has("max_body_bytes") && s.integer("max_body_bytes") > room)
      errors.push_back(fmt::format(
          "line {}: connectors.{}.max_body_bytes: {} is more than a Kafka record holds ({}, from "
          "kafka.properties message.max.bytes and router.max_record_bytes)",
          conn.line, name, s.integer("max_body_bytes"), room));
    if (conn.enabled) resolved.push_back({name, std::move(s)});
  }
  for (auto& e : http::listener_conflicts(resolved)) errors.push_back(std::move(e));
  for (size_t w = 0; w < cfg.workspaces.size(); ++w) {
    const auto& ws = cfg.workspaces[w];
    for (size_t i = 0; i < ws.inboxes.size(); ++i) {
      const auto& inbox = ws.inboxes[i];
      const auto* f = registry.find(inbox.channel);
      std::string path = fmt::format("workspaces[{}].inboxes[{}]", w, i);
      if (!f) {
        errors.push_back(fmt::format("line {}: {}.channel: no connector for channel {}", inbox.line,
                                     path, channel_name(inbox.channel)));
        continue;
      }
      sdk::Settings s =
          resolve_settings(inbox.settings, f->inbox_settings, path + ".settings", errors);
      for (const auto& field : f->inbox_settings) {
        if (field.ref_channel == 0 || s.str(field.name).empty()) continue;
        const auto want = static_cast<v1::Channel>(field.ref_channel);
        const config::Inbox* target = nullptr;
        for (const auto& other : ws.inboxes)
          if (other.id == s.str(field.name)) target = &other;
        if (!target || target->channel != want)
          errors.push_back(fmt::format(
              "line {}: {}.settings.{}: '{}' is not a {} inbox of workspace {}", inbox.line, path,
              field.name, s.str(field.name), channel_name(want), ws.id));
      }
    }
  }
}

ConnectorHost::ConnectorHost(const config::Config& cfg, const sdk::ConnectorFactory& factory,
                             kafka::ClientConfig kafka_cfg)
    : cfg_(cfg),
      factory_(factory),
      kafka_cfg_(std::move(kafka_cfg)),
      logger_(log::get("connector/" + factory.name)) {}

ConnectorHost::~ConnectorHost() {
  stop();
}

std::string ConnectorHost::start() {
  std::vector<std::string> errors;
  YAML::Node section;
  if (auto it = cfg_.connectors.find(factory_.name); it != cfg_.connectors.end())
    section = it->second.settings;
  settings_ = resolve_settings(section, with_host_fields(factory_.settings),
                               "connectors." + factory_.name, errors);
  for (const auto& ws : cfg_.workspaces) {
    for (const auto& inbox : ws.inboxes) {
      if (inbox.channel != factory_.channel) continue;
      sdk::InboxInfo info{ws.id, inbox.id, inbox.channel,
                          resolve_settings(inbox.settings, factory_.inbox_settings,
                                           fmt::format("{}/{}.settings", ws.id, inbox.id), errors)};
      inboxes_.push_back(std::move(info));
    }
  }
  if (!errors.empty()) return fmt::format("{}", fmt::join(errors, "; "));
  retry_.max_attempts = static_cast<int>(settings_.integer("max_attempts"));
  retry_.initial_backoff_ms = static_cast<int>(settings_.integer("initial_backoff_ms"));
  retry_.max_backoff_ms = static_cast<int>(settings_.integer("max_backoff_ms"));
  std::string err;
  producer_ = kafka::Producer::create(
      kafka_cfg_, err, {{"message.timeout.ms", settings_.str("publish_timeout_ms")}});
  if (!producer_) return "kafka producer: " + err;
  if (!factory_.create) return "connector " + factory_.name + " has no runtime (normalize only)";
  connector_ = factory_.create(settings_);
  if (!connector_) return "connector " + factory_.name + " could not be created";
  if (auto start_err = connector_->start(*this); !start_err.empty()) return start_err;
  delivery_thread_ = std::thread([this] { delivery_loop(); });
  return {};
}

void ConnectorHost::stop() {
  if (connector_) connector_->stop();
  stop_ = true;
  if (delivery_thread_.joinable()) delivery_thread_.join();
  // Completions reference this host: let them all run before it goes away.
  producer_.reset();
}

std::vector<std::string> ConnectorHost::endpoints() const {
  return connector_ ? connector_->endpoints() : std::vector<std::string>{};
}

void ConnectorHost::publish(v1::Envelope envelope, sdk::PublishDone done) {
  std::string workspace;
  std::string event_id;
  const int64_t now = now_ms();
  switch (envelope.payload_case()) {
    case v1::Envelope::kMessage: {
      auto* m = envelope.mutable_message();
      if (m->event_id().empty()) m->set_event_id(new_uuid());
      if (m->received_at_ms() == 0) m->set_received_at_ms(now);
      if (m->handle_kind() == v1::Identity::KIND_UNSPECIFIED)
        m->set_handle_kind(factory_.handle_kind);
      workspace = m->workspace_id();
      event_id = m->event_id();
      break;
    }
    case v1::Envelope::kDeliveryStatus: {
      auto* s = envelope.mutable_delivery_status();
      if (s->event_id().empty()) s->set_event_id(new_uuid());
      if (s->at_ms() == 0) s->set_at_ms(now);
      workspace = s->workspace_id();
      event_id = s->event_id();
      break;
    }
    case v1::Envelope::kSignal:
      workspace = envelope.signal().workspace_id();
      break;
    case v1::Envelope::kCsat: {
      auto* a = envelope.mutable_csat();
      if (a->event_id().empty()) a->set_event_id(new_uuid());
      if (a->at_ms() == 0) a->set_at_ms(now);
      if (a->channel() == v1::CHANNEL_UNSPECIFIED) a->set_channel(factory_.channel);
      workspace = a->workspace_id();
      event_id = a->event_id();
      break;
    }
    default:
      done({sdk::PublishResult::Code::kInvalid, "empty envelope", {}});
      return;
  }
  if (workspace.empty()) {
    done({sdk::PublishResult::Code::kInvalid, "envelope without workspace", {}});
    return;
  }
  std::string bytes = envelope.SerializeAsString();
  // A record Kafka (or the router) cannot take must be refused now, with a 413, not
  // answered "retry later" forever.
  const int64_t room = std::min(cfg_.kafka.max_message_bytes(), cfg_.router.max_record_bytes) - 512;
  if (static_cast<int64_t>(bytes.size()) > room) {
    done({sdk::PublishResult::Code::kTooLarge,
          fmt::format("the event is {} bytes; at most {} fit one record", bytes.size(), room),
          {}});
    return;
  }
  // Customer messages are counted by channel and outcome (omniroute_inbound_published_total).
  if (envelope.has_message()) {
    done = [inner = std::move(done), channel = ops::channel_label(envelope.message().channel())](
               const sdk::PublishResult& r) {
      ops::metrics()
          .published.Add({{"channel", channel}, {"outcome", r.ok() ? "published" : "failed"}})
          .Increment();
      inner(r);
    };
  }
  auto shared_done = std::make_shared<sdk::PublishDone>(std::move(done));
  std::string err;
  rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
  bool queued = producer_->produce(
      cfg_.kafka.topics.inbound, workspace, bytes,
      [this, shared_done, event_id](const kafka::DeliveryReport& r) {
        if (r.ok()) {
          ++stats_.published;
          (*shared_done)({sdk::PublishResult::Code::kOk, {}, event_id});
        } else {
          ++stats_.publish_failed;
          logger_->warn("publish of event {} failed: {}", event_id, r.error);
          (*shared_done)({kafka::permanent_produce_error(r.err)
                              ? sdk::PublishResult::Code::kTooLarge
                              : sdk::PublishResult::Code::kUnavailable,
                          r.error, event_id});
        }
      },
      &err, &code);
  if (!queued) {
    ++stats_.publish_failed;
    (*shared_done)({kafka::permanent_produce_error(code) ? sdk::PublishResult::Code::kTooLarge
                                                         : sdk::PublishResult::Code::kUnavailable,
                    err, event_id});
  }
}

void ConnectorHost::count_delivery(const v1::OutboundMessage& msg, const sdk::DeliveryResult& res) {
  using Code = sdk::DeliveryResult::Code;
  auto& m = ops::metrics();
  const std::string channel = ops::channel_label(msg.channel());
  const char* outcome = res.code == Code::kDelivered ? "delivered"
                        : res.code == Code::kRetry   ? "retry"
                                                     : "failed";
  m.deliveries.Add({{"channel", channel}, {"outcome", outcome}}).Increment();
  // An agent's reply (not an automatic message), first time out: router -> channel.
  if (res.code == Code::kDelivered && !msg.agent_id().empty() && !msg.automatic() &&
      msg.created_at_ms() > 0) {
    ops::by_channel(m.reply_to_outbound, msg.channel())
        .Observe(static_cast<double>(std::max<int64_t>(0, now_ms() - msg.created_at_ms())) /
                 1000.0);
  }
}

void ConnectorHost::dead_letter(std::string_view payload, std::string_view reason) {
  v1::DeadLetter dl;
  dl.set_value(std::string(payload));
  dl.set_reason(std::string(reason));
  dl.set_component("connector/" + factory_.name);
  dl.set_at_ms(now_ms());
  std::string bytes = dl.SerializeAsString();
  std::string err;
  if (!producer_->produce(
          cfg_.kafka.topics.dlq, factory_.name, bytes,
          [this](const kafka::DeliveryReport& r) {
            if (!r.ok()) logger_->error("dead letter lost: {}", r.error);
          },
          &err)) {
    logger_->error("dead letter could not be queued: {}", err);
  }
}

void ConnectorHost::delivery_loop() {
  const std::string topic = cfg_.kafka.topics.outbound(factory_.channel);
  std::string err;
  auto consumer = kafka::Consumer::create(kafka_cfg_, "omniroute-connector-" + factory_.name, err);
  if (!consumer || !consumer->subscribe({topic}, err)) {
    logger_->error("cannot consume {}: {}", topic, err);
    return;
  }
  struct Pending {
    v1::OutboundMessage msg;
    int32_t partition;
    int64_t offset;
    int attempt;
  };
  // partition -> offset -> done. The committed position is the first offset not done.
  std::map<int32_t, std::map<int64_t, bool>> inflight;
  std::multimap<int64_t, Pending> retries;  // by due time (steady ms)
  // Completions run on the producer's thread and may outlive this loop: they only touch
  // this shared block.
  struct Completed {
    std::mutex mu;
    std::vector<std::pair<int32_t, int64_t>> done;  // offset, or -1-offset: publish again
    std::vector<v1::Envelope> republish;
  };
  auto completed = std::make_shared<Completed>();
  const size_t max_parked = static_cast<size_t>(settings_.integer("max_parked"));

  auto publish_status = [this, completed](v1::Envelope env, int32_t p, int64_t off, bool final) {
    publish(env, [completed, env, p, off, final](const sdk::PublishResult& r) {
      if (!final) return;
      std::lock_guard lock(completed->mu);
      if (r.ok()) {
        completed->done.emplace_back(p, off);
      } else {
        // The status must reach Kafka before the offset may move: publish it again.
        completed->republish.push_back(env);
        completed->done.emplace_back(p, -1 - off);
      }
    });
  };

  auto status_of = [&](const Pending& pd, v1::DeliveryStatus::State state,
                       const std::string& detail, const std::string& provider_id) {
    v1::Envelope env;
    auto* s = env.mutable_delivery_status();
    s->set_workspace_id(pd.msg.workspace_id());
    s->set_inbox_id(pd.msg.inbox_id());
    s->set_channel(pd.msg.channel());
    s->set_outbound_id(pd.msg.outbound_id());
    s->set_conversation_id(pd.msg.conversation_id());
    s->set_state(state);
    s->set_detail(detail.substr(0, 512));
    s->set_provider_message_id(provider_id);
    s->set_attempt(pd.attempt);
    return env;
  };

  auto attempt = [&](Pending pd) {
    const sdk::InboxInfo* inbox = sdk::Host::inbox(pd.msg.workspace_id(), pd.msg.inbox_id());
    if (pd.msg.has_notice()) {
      // Live notices (typing, agent joined, queue position): shown if the customer is
      // there, never retried, no status.
      if (inbox) (void)connector_->deliver(pd.msg, *inbox);
      inflight[pd.partition][pd.offset] = true;
      return;
    }
    sdk::DeliveryResult res =
        inbox ? connector_->deliver(pd.msg, *inbox)
              : sdk::DeliveryResult::failed("unknown inbox " + pd.msg.inbox_id());
    count_delivery(pd.msg, res);
    switch (res.code) {
      case sdk::DeliveryResult::Code::kDelivered:
        ++stats_.delivered;
        logger_->info("delivered outbound {} ({}/{}, conversation {}, attempt {})",
                      pd.msg.outbound_id(), pd.msg.workspace_id(), pd.msg.inbox_id(),
                      pd.msg.conversation_id(), pd.attempt);
        publish_status(
            status_of(pd, v1::DeliveryStatus::STATE_SENT, res.detail, res.provider_message_id),
            pd.partition, pd.offset, true);
        break;
      case sdk::DeliveryResult::Code::kRetry:
        if (pd.attempt < retry_.max_attempts) {
          ++stats_.retries;
          int delay = retry_.backoff_ms(pd.attempt);
          if (res.retry_after_ms > delay)
            delay = static_cast<int>(std::min<int64_t>(res.retry_after_ms, retry_.max_backoff_ms));
          logger_->warn("outbound {} attempt {} failed ({}); retry in {} ms", pd.msg.outbound_id(),
                        pd.attempt, res.detail, delay);
          publish_status(status_of(pd, v1::DeliveryStatus::STATE_DEFERRED, res.detail, {}),
                         pd.partition, pd.offset, false);
          pd.attempt++;
          retries.emplace(steady_ms() + delay, std::move(pd));
          break;
        }
        res.detail = fmt::format("gave up after {} attempts: {}", pd.attempt, res.detail);
        [[fallthrough]];
      case sdk::DeliveryResult::Code::kFailed:
        ++stats_.delivery_failed;
        logger_->warn("outbound {} failed: {}", pd.msg.outbound_id(), res.detail);
        publish_status(status_of(pd, v1::DeliveryStatus::STATE_FAILED, res.detail, {}),
                       pd.partition, pd.offset, true);
        break;
    }
  };

  std::map<int32_t, int64_t> committed;
  auto commit_progress = [&] {
    std::vector<kafka::PartitionOffset> next;
    for (auto& [p, offs] : inflight) {
      int64_t pos = -1;
      while (!offs.empty() && offs.begin()->second) {
        pos = offs.begin()->first + 1;
        offs.erase(offs.begin());
      }
      if (pos >= 0 && committed[p] != pos) {
        committed[p] = pos;
        next.push_back({topic, p, pos});
      }
    }
    std::string cerr;
    if (!next.empty() && !consumer->commit(next, cerr))
      logger_->warn("offset commit failed: {}", cerr);
  };

  while (!stop_) {
    int timeout = 100;
    if (!retries.empty())
      timeout = static_cast<int>(std::clamp<int64_t>(retries.begin()->first - steady_ms(), 0, 100));
    std::vector<kafka::Message> msgs;
    if (retries.size() < max_parked) {
      msgs = consumer->poll(64, timeout);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(timeout));
    }
    for (auto& m : msgs) {
      if (m.is_error()) {
        if (!m.is_eof()) logger_->warn("consume {}: {}", topic, m.error());
        continue;
      }
      inflight[m.partition()][m.offset()] = false;
      Pending pd{{}, m.partition(), m.offset(), 1};
      if (!pd.msg.ParseFromArray(m.value().data(), static_cast<int>(m.value().size())) ||
          pd.msg.outbound_id().empty()) {
        dead_letter(m.value(), fmt::format("undecodable OutboundMessage at {}/{}@{}", topic,
                                           m.partition(), m.offset()));
        inflight[m.partition()][m.offset()] = true;
        continue;
      }
      attempt(std::move(pd));
    }
    while (!retries.empty() && retries.begin()->first <= steady_ms() && !stop_) {
      Pending pd = std::move(retries.begin()->second);
      retries.erase(retries.begin());
      attempt(std::move(pd));
    }
    std::vector<std::pair<int32_t, int64_t>> done;
    std::vector<v1::Envelope> again;
    {
      std::lock_guard lock(completed->mu);
      done.swap(completed->done);
      again.swap(completed->republish);
    }
    size_t ai = 0;
    for (auto [p, off] : done) {
      if (off >= 0) {
        inflight[p][off] = true;
      } else if (ai < again.size()) {
        publish_status(again[ai++], p, -1 - off, true);
      }
    }
    commit_progress();
  }
  consumer->close();
}

}  // namespace omniroute::connectors
