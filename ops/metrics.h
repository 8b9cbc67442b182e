// The process's Prometheus metrics (prometheus-cpp core): one registry per process, the
// families every part records into, and the text exposition served at /metrics by the
// front door (ops/endpoints.h). Names start with `omniroute_`; counters end in `_total`,
// durations are `_seconds` histograms. Labels are bounded: workspace, queue, channel,
// outcome, route, code, presence, topic/partition; never an agent or customer id.
// Every family is documented in docs/operations.md.
#pragma once

#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace omniroute::ops {

struct Metrics {
  prometheus::Registry registry;

  // Router.
  prometheus::Family<prometheus::Histogram>& publish_to_offer;  // {channel}
  prometheus::Histogram& step_seconds;
  prometheus::Histogram& commit_writes;
  prometheus::Family<prometheus::Gauge>& consumer_lag;  // {topic, partition}
  prometheus::Family<prometheus::Gauge>& partitions;    // {partition, role}
  prometheus::Gauge& outbox_depth;
  prometheus::Family<prometheus::Gauge>& waiting;           // {workspace, queue}
  prometheus::Family<prometheus::Gauge>& longest_wait;      // {workspace, queue}
  prometheus::Family<prometheus::Gauge>& agents;            // {workspace, presence}
  prometheus::Family<prometheus::Counter>& sla_events;      // {workspace, kind}
  prometheus::Family<prometheus::Counter>& routing_events;  // {workspace, kind}
  prometheus::Counter& messages_in;                         // records applied
  prometheus::Family<prometheus::Counter>& csat_refused;    // {workspace, reason}
  // Everyone who must authenticate.
  prometheus::Family<prometheus::Counter>& auth_rejected;  // {surface, reason}
  // Connectors and the front door.
  prometheus::Family<prometheus::Counter>& http_requests;        // {route, code}
  prometheus::Family<prometheus::Counter>& deliveries;           // {channel, outcome}
  prometheus::Family<prometheus::Histogram>& reply_to_outbound;  // {channel}
  prometheus::Family<prometheus::Counter>& published;            // {channel, outcome}
  // Analytics.
  prometheus::Counter& analytics_events;  // routing events applied
  prometheus::Gauge& analytics_lag;       // records of omni.routing not applied yet
  // Process.
  prometheus::Gauge& start_time;

  Metrics();
};

// The process's metrics (created on first use, never destroyed).
Metrics& metrics();

// The registry in Prometheus text exposition format 0.0.4.
std::string scrape();

// The histogram of `family` for `channel`, with latency buckets (1 ms to 2 min).
prometheus::Histogram& by_channel(prometheus::Family<prometheus::Histogram>& family, int channel);

// A label value from a channel's enum name ("CHANNEL_SMS" -> "sms").
std::string channel_label(int channel);
// A label value from a RoutingEvent kind's enum name ("KIND_OFFER_EXPIRED" -> "offer_expired").
std::string routing_kind_label(int kind);

}  // namespace omniroute::ops
