#include "ops/metrics.h"

#include <chrono>
#include <memory>

#include <prometheus/text_serializer.h>

#include "omniroute/v1/events.pb.h"
#include "omniroute/v1/routing.pb.h"

namespace omniroute::ops {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

// Seconds from 1 ms to 2 min: a message's way through the system, a person's wait.
const Histogram::BucketBoundaries kLatency = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5,   1,      2.5,   5,    10,    30,   60,  120};
// One router step: 10 µs to 1 s.
const Histogram::BucketBoundaries kStep = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
                                           0.0005,  0.001,    0.0025,  0.005,  0.01,
                                           0.025,   0.05,     0.1,     0.25,   1};
const Histogram::BucketBoundaries kWrites = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};

std::string lower_suffix(std::string_view name, std::string_view prefix) {
  if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
  std::string out(name);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out.empty() ? "unknown" : out;
}

}  // namespace

Metrics::Metrics()
    : publish_to_offer(BuildHistogram()
                           .Name("omniroute_publish_to_offer_seconds")
                           .Help("From a connector receiving a customer's message to the router "
                                 "offering its conversation to an agent.")
                           .Register(registry)),
      step_seconds(
          BuildHistogram()
              .Name("omniroute_router_step_seconds")
              .Help("One router step that changed state: apply what arrived and commit it.")
              .Register(registry)
              .Add({}, kStep)),
      commit_writes(BuildHistogram()
                        .Name("omniroute_router_commit_writes")
                        .Help("Keys written or deleted by one state commit (a step's batch).")
                        .Register(registry)
                        .Add({}, kWrites)),
      consumer_lag(BuildGauge()
                       .Name("omniroute_consumer_lag_records")
                       .Help("Records in a partition the router has not read yet (high "
                             "watermark minus position).")
                       .Register(registry)),
      partitions(BuildGauge()
                     .Name("omniroute_router_partitions")
                     .Help("Partitions of omni.inbound this instance holds, by role: 1 while "
                           "it serves, restores or keeps a standby copy of the partition.")
                     .Register(registry)),
      outbox_depth(BuildGauge()
                       .Name("omniroute_outbox_records")
                       .Help("Outbox records produced or waiting to be, not yet acknowledged "
                             "by Kafka.")
                       .Register(registry)
                       .Add({})),
      waiting(BuildGauge()
                  .Name("omniroute_conversations_waiting")
                  .Help("Conversations waiting in a queue for an agent.")
                  .Register(registry)),
      longest_wait(BuildGauge()
                       .Name("omniroute_queue_longest_wait_seconds")
                       .Help("How long the longest-waiting conversation of a queue has waited.")
                       .Register(registry)),
      agents(BuildGauge()
                 .Name("omniroute_agents")
                 .Help("Agents by presence (available, busy = available with no room left, "
                       "away, offline).")
                 .Register(registry)),
      sla_events(BuildCounter()
                     .Name("omniroute_sla_events_total")
                     .Help("SLA warnings and breaches.")
                     .Register(registry)),
      routing_events(BuildCounter()
                         .Name("omniroute_routing_events_total")
                         .Help("Routing decisions and lifecycle events by kind.")
                         .Register(registry)),
      messages_in(BuildCounter()
                      .Name("omniroute_router_records_total")
                      .Help("Records the router applied from its input topics.")
                      .Register(registry)
                      .Add({})),
      csat_refused(BuildCounter()
                       .Name("omniroute_csat_refused_total")
                       .Help("Satisfaction answers the router refused: unknown survey, not the "
                             "customer asked, off the scale, after the window.")
                       .Register(registry)),
      auth_rejected(BuildCounter()
                        .Name("omniroute_auth_rejected_total")
                        .Help("Refused authentications: desks (CURVE), people signing in, "
                              "signed webhooks.")
                        .Register(registry)),
      http_requests(BuildCounter()
                        .Name("omniroute_http_requests_total")
                        .Help("HTTP requests answered, by route prefix and status code.")
                        .Register(registry)),
      deliveries(BuildCounter()
                     .Name("omniroute_deliveries_total")
                     .Help("Outbound messages handed to a channel, by outcome.")
                     .Register(registry)),
      reply_to_outbound(BuildHistogram()
                            .Name("omniroute_reply_to_outbound_seconds")
                            .Help("From the router taking an agent's reply to the channel "
                                  "accepting it.")
                            .Register(registry)),
      published(BuildCounter()
                    .Name("omniroute_inbound_published_total")
                    .Help("Customer messages connectors published to Kafka, by outcome.")
                    .Register(registry)),
      analytics_events(BuildCounter()
                           .Name("omniroute_analytics_events_total")
                           .Help("Routing events the analytics consumer applied.")
                           .Register(registry)
                           .Add({})),
      analytics_lag(BuildGauge()
                        .Name("omniroute_analytics_lag_records")
                        .Help("Records of omni.routing the analytics consumer has not applied "
                              "yet (high watermarks as last fetched minus its offsets).")
                        .Register(registry)
                        .Add({})),
      start_time(BuildGauge()
                     .Name("omniroute_process_start_time_seconds")
                     .Help("When this process started, Unix seconds.")
                     .Register(registry)
                     .Add({})) {
  start_time.Set(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
}

Metrics& metrics() {
  static Metrics* m = new Metrics();  // never destroyed: threads may record until exit
  return *m;
}

std::string scrape() {
  prometheus::TextSerializer s;
  return s.Serialize(metrics().registry.Collect());
}

prometheus::Histogram& by_channel(prometheus::Family<prometheus::Histogram>& family, int channel) {
  return family.Add({{"channel", channel_label(channel)}}, kLatency);
}

std::string channel_label(int channel) {
  if (!v1::Channel_IsValid(channel)) return "unknown";
  return lower_suffix(v1::Channel_Name(static_cast<v1::Channel>(channel)), "CHANNEL_");
}

std::string routing_kind_label(int kind) {
  if (!v1::RoutingEvent::Kind_IsValid(kind)) return "unknown";
  return lower_suffix(v1::RoutingEvent::Kind_Name(static_cast<v1::RoutingEvent::Kind>(kind)),
                      "KIND_");
}

}  // namespace omniroute::ops
