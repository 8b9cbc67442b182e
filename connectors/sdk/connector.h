// The connector SDK: everything a connector author sees. A connector turns native
// channel input into omniroute.v1 events and delivers OutboundMessages. It never talks
// to Kafka: the host publishes for it, tells it when an event is durable, owns retries
// with backoff for deliveries, and routes poison input to the DLQ.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto.h"
#include "common/log.h"
#include "connectors/sdk/settings.h"
#include "omniroute/v1/events.pb.h"
#include "schemas/channel.h"

namespace omniroute::sdk {

using Logger = log::Logger;

// An inbox served by this connector, with its connector-specific settings.
struct InboxInfo {
  std::string workspace_id;
  std::string inbox_id;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  Settings settings;
};

// Outcome of a publish. Only kOk means the event is durable in Kafka: only then may a
// connector acknowledge to its channel (HTTP 2xx, IMAP \Seen, chat frame ack).
struct PublishResult {
  // kUnavailable may succeed later (say so: 503 with Retry-After); kInvalid and kTooLarge
  // never will (the sender's mistake: 400, 413).
  enum class Code { kOk, kUnavailable, kInvalid, kTooLarge };
  Code code = Code::kOk;
  std::string detail;                            // Why, when not kOk.
  std::string event_id;                          // Id of the published event.
  bool ok() const { return code == Code::kOk; }  // HTTP answers: http::publish_failure
};
using PublishDone = std::function<void(const PublishResult&)>;

// Outcome of one delivery attempt. kRetry asks the host to try again later (with
// backoff); kFailed is final. Connectors never sleep or loop on their own.
struct DeliveryResult {
  enum class Code { kDelivered, kRetry, kFailed };
  Code code = Code::kDelivered;
  std::string detail;               // Server reply or error text; never secrets.
  std::string provider_message_id;  // Id the channel gave the message, if any.
  int64_t retry_after_ms = 0;       // kRetry: the channel asked to wait at least this long.
  static DeliveryResult delivered(std::string provider_id = {}) {
    return {Code::kDelivered, {}, std::move(provider_id), 0};
  }
  static DeliveryResult retry(std::string why, int64_t after_ms = 0) {
    return {Code::kRetry, std::move(why), {}, after_ms};
  }
  static DeliveryResult failed(std::string why) { return {Code::kFailed, std::move(why), {}, 0}; }
};

// What the host offers a running connector. Thread-safe.
class Host {
 public:
  virtual ~Host() = default;
  // Publishes to omni.inbound (key = workspace). Fills event ids and received_at_ms when
  // empty. `done` runs exactly once, on a host thread, when Kafka acknowledged or failed.
  virtual void publish(v1::Envelope envelope, PublishDone done) = 0;
  // Sends input that can never be processed to omni.dlq with the reason.
  virtual void dead_letter(std::string_view payload, std::string_view reason) = 0;
  // Inboxes configured for this connector's channel.
  virtual const std::vector<InboxInfo>& inboxes() const = 0;
  const InboxInfo* inbox(std::string_view workspace_id, std::string_view inbox_id) const;
  // Logger tagged "connector/<name>".
  virtual const Logger& logger() const = 0;
};

// One channel connector instance.
class Connector {
 public:
  virtual ~Connector() = default;
  // Starts accepting channel input; returns an error text on failure ("" on success).
  virtual std::string start(Host& host) = 0;
  // Stops accepting input; pending publishes still complete.
  virtual void stop() = 0;
  // One delivery attempt of an agent's reply. Called on the host's delivery thread; must
  // bound its own I/O with timeouts.
  virtual DeliveryResult deliver(const v1::OutboundMessage& message, const InboxInfo& inbox) = 0;
  // Where it listens, for `omniroute up` to print ("http://127.0.0.1:8080/v1/webhook/...").
  virtual std::vector<std::string> endpoints() const { return {}; }
};

// Native payload -> canonical event, for `omniroute normalize` and for the connector.
// Returns an error text, or "" with `out` filled.
using Normalizer = std::function<std::string(std::string_view payload, v1::InboundMessage& out)>;

// How a connector is known to the host: by name, with its declared settings.
struct ConnectorFactory {
  std::string name;  // Unique: "webhook", "email", ...
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  // What its customer handles are: an email address (KIND_EMAIL) or a phone number
  // (KIND_PHONE) is itself an identity that links customers across channels; the default
  // is an opaque id. The host stamps it on every message (InboundMessage.handle_kind).
  v1::Identity::Kind handle_kind = v1::Identity::KIND_UNSPECIFIED;
  std::string description;
  std::vector<ConfigField> settings;        // Keys of `connectors.<name>`.
  std::vector<ConfigField> inbox_settings;  // Keys of each inbox's `settings`.
  std::function<std::unique_ptr<Connector>(const Settings& settings)> create;
  Normalizer normalize;  // Optional.
  std::vector<std::string>
      providers;  // Payload formats it reads ("twilio"), for `normalize --provider`.
};

// Connectors registered by name; a duplicate name is an error.
class Registry {
 public:
  // Returns an error text ("" on success).
  std::string add(ConnectorFactory factory);
  const ConnectorFactory* find(std::string_view name) const;
  const ConnectorFactory* find(v1::Channel channel) const;
  std::vector<std::string> names() const;

 private:
  std::vector<ConnectorFactory> factories_;
};

// Every built-in connector registers here (connectors/registry.cc, one line each).
Registry& builtin_registry();

}  // namespace omniroute::sdk
