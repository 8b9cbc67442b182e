#include "bench/baselines.h"

#include <atomic>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <zmq.hpp>

#include "config/config.h"
#include "router/engine.h"
#include "router/store.h"

namespace omniroute::bench {

namespace fs = std::filesystem;

// Traffic like a contact center's: chat ~200 B, SMS ~160 B, email ~4 KB; 10% with
// attachment metadata.
v1::Envelope make_message(int64_t i, int conversation, int workspaces) {
  v1::Envelope env;
  auto* m = env.mutable_message();
  const int ws = conversation % workspaces;
  m->set_event_id(fmt::format("bench-{}", i));
  m->set_workspace_id(fmt::format("ws{}", ws));
  m->set_inbox_id("api");
  m->set_channel(v1::CHANNEL_WEBHOOK);
  m->set_customer_handle(fmt::format("cust{}", conversation));
  m->set_customer_display_name(fmt::format("Customer {}", conversation));
  m->set_external_message_id(fmt::format("b{}", i));
  m->set_received_at_ms(1);
  const int kind = static_cast<int>(i % 10);
  if (kind < 5) {
    m->set_text_body(std::string(200, 'c'));
  } else if (kind < 8) {
    m->set_text_body(std::string(160, 's'));
  } else {
    m->set_subject("Question about my order");
    m->set_text_body(std::string(4000, 'e'));
  }
  if (kind == 3) {
    auto* a = m->add_attachments();
    a->set_name("photo.jpg");
    a->set_content_type("image/jpeg");
    a->set_size_bytes(183211);
    a->set_sha256(std::string(64, 'a'));
  }
  return env;
}

std::string bench_config(const Options& o, const std::string& brokers, const std::string& state_dir,
                         const std::string& endpoint, int capacity, const std::string& inbound) {
  std::string out = fmt::format(R"(log_level: warn
kafka: {{brokers: "{}", partitions: 6, replication_factor: 1, topics: {{inbound: {}}}, properties: {{fetch.wait.max.ms: "1"}}}}
state: {{dir: "{}"}}
router:
  agent_endpoint: "{}"
  agent_auth: none    # the bench's desks measure routing, not CURVE (loopback only)
  insecure: true
  heartbeat_interval_ms: 1000
  heartbeat_timeout_ms: 10000
  offer_timeout_ms: 120000
  max_batch: 1024
workspaces:
)",
                                brokers, inbound, state_dir, endpoint);
  for (int w = 0; w < o.workspaces; ++w) {
    out += fmt::format(
        "  - id: ws{}\n    queues: [{{id: q}}]\n    inboxes: [{{id: api, channel: webhook, queue: "
        "q, "
        "settings: {{secret: s}}}}]\n    agents:\n",
        w);
    for (int a = 0; a < o.agents; ++a) {
      out += fmt::format("      - {{id: a{}, capacity: {{webhook: {}}}}}\n", a, capacity);
    }
  }
  return out;
}

bool produce_blocking(kafka::Producer& p, const std::string& topic, const std::string& key,
                      const std::string& value, kafka::Completion done) {
  for (int attempt = 0; attempt < 100000; ++attempt) {
    if (p.produce(topic, key, value, done)) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // local queue full: let it drain
  }
  return false;
}

// ---------------------------------------------------------------- raw baselines

json kafka_baseline(const Options& o, const kafka::ClientConfig& kc, const std::string& topic,
                    int partitions) {
  std::string err;
  auto producer = kafka::Producer::create(kc, err);
  if (!producer) return {{"error", err}};
  std::atomic<int64_t> acked{0};
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < o.messages; ++i) {
    const int conv = static_cast<int>(i % o.conversations);
    auto env = make_message(i, conv, o.workspaces);
    produce_blocking(*producer, topic, env.message().workspace_id(), env.SerializeAsString(),
                     [&](const kafka::DeliveryReport& r) {
                       if (r.ok()) ++acked;
                     });
  }
  producer->flush(120000);
  const double produce_s = secs(Clock::now() - t0);
  auto consumer = kafka::Consumer::create(kc, "bench-raw", err, {{"fetch.wait.max.ms", "1"}});
  std::vector<kafka::PartitionOffset> parts;
  for (int p = 0; p < partitions; ++p) parts.push_back({topic, p, RD_KAFKA_OFFSET_BEGINNING});
  (void)consumer->assign(parts, err);
  const auto t1 = Clock::now();
  int64_t consumed = 0;
  uint64_t parsed_bytes = 0;
  while (consumed < o.messages && secs(Clock::now() - t1) < 300) {
    for (auto& m : consumer->poll(1024, 100)) {
      if (m.is_error()) continue;
      v1::Envelope e;  // decode as the router does, so both sides pay for it
      e.ParseFromArray(m.value().data(), static_cast<int>(m.value().size()));
      parsed_bytes += m.value().size();
      ++consumed;
    }
  }
  const double consume_s = secs(Clock::now() - t1);
  // Latency of Kafka alone: produce -> consume at a low fixed rate (1,000/s for 2 s).
  std::vector<double> lat;
  {
    std::vector<kafka::PartitionOffset> ends;
    for (int p = 0; p < partitions; ++p) ends.push_back({topic, p, RD_KAFKA_OFFSET_END});
    (void)consumer->assign(ends, err);
    consumer->poll(1, 500);  // let the assignment settle
    std::atomic<bool> done{false};
    std::thread reader([&] {
      while (!done) {
        for (auto& m : consumer->poll(256, 10)) {
          if (m.is_error() || m.value().size() != sizeof(int64_t)) continue;
          int64_t sent;
          std::memcpy(&sent, m.value().data(), sizeof sent);
          lat.push_back(us(ns_now() - sent));
        }
      }
    });
    const auto t2 = Clock::now();
    for (int i = 0; i < 2000; ++i) {
      std::this_thread::sleep_until(t2 + std::chrono::microseconds(1000 * i));
      int64_t now = ns_now();
      produce_blocking(*producer, topic, "k",
                       std::string(reinterpret_cast<const char*>(&now), sizeof now));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    done = true;
    reader.join();
  }
  consumer->close();
  return {{"messages", o.messages},
          {"acked", acked.load()},
          {"produce_msgs_per_s", o.messages / produce_s},
          {"consumed", consumed},
          {"consume_msgs_per_s", consumed / consume_s},
          {"avg_record_bytes", consumed ? static_cast<double>(parsed_bytes) / consumed : 0},
          {"produce_to_consume_at_1000_per_s", percentiles_json(lat)}};
}

// What the router writes per message, measured on the real Engine in-process.

WriteShape measure_write_shape(const Options& o, const std::string& dir) {
  std::vector<std::string> errors;
  Options small = o;
  small.workspaces = 1;
  small.agents = 4;
  auto cfg =
      config::parse(bench_config(small, "unused:9092", dir, "tcp://127.0.0.1:1", 1000), errors);
  if (!cfg) throw std::runtime_error(errors.front());
  std::string err;
  auto store = router::Store::open(dir, false, err);
  router::SystemClock clock;
  router::Engine engine(*cfg, *store, clock);
  engine.load();
  size_t writes = 0, bytes = 0;
  auto step = [&](auto&& fn) {
    auto b = store->begin();
    fn(b);
    (void)engine.commit(b);  // counters are written into the batch here
    writes += b.count();
    bytes += b.bytes_written();
    return engine.take_frames();
  };
  auto frame = [](auto&& fill) {
    v1::AgentFrame f;
    fill(f);
    return f.SerializeAsString();
  };
  step([&](auto& b) {
    engine.apply_desk(b, "d", frame([](v1::AgentFrame& f) {
                        f.mutable_hello()->set_protocol_version(1);
                        f.mutable_hello()->set_workspace_id("ws0");
                        f.mutable_hello()->set_agent_id("a0");
                      }));
  });
  constexpr int kConvs = 200, kPer = 10;
  int64_t n = 0;
  for (int i = 0; i < kConvs * kPer; ++i) {
    const int conv = i % kConvs;
    auto env = make_message(n++, conv * small.workspaces, small.workspaces);
    auto frames = step([&](auto& b) {
      engine.apply_record(b, "omni.inbound", 0, i, "ws0", env.SerializeAsString());
    });
    for (auto& df : frames) {
      if (df.frame.has_offer()) {
        const std::string offer = df.frame.offer().offer_id();
        step([&](auto& b) {
          engine.apply_desk(
              b, "d", frame([&](v1::AgentFrame& f) { f.mutable_accept()->set_offer_id(offer); }));
        });
      }
    }
    const std::string conv_id = fmt::format("C{}", conv + 1);
    step([&](auto& b) {
      engine.apply_desk(
          b, "d", frame([&](v1::AgentFrame& f) {
            f.mutable_reply()->set_conversation_id(conv_id);
            f.mutable_reply()->set_reply_id(fmt::format("r{}", i));
            f.mutable_reply()->set_text_body("re:" + env.message().external_message_id());
          }));
    });
    // The outbox entries are deleted once Kafka acknowledged them.
    auto out = engine.take_outbox();
    step([&](auto& b) {
      for (const auto& r : out) engine.outbox_done(b, r.key);
    });
  }
  return {static_cast<double>(writes) / (kConvs * kPer),
          static_cast<double>(bytes) / (kConvs * kPer)};
}

json rocksdb_baseline(const Options& o, const std::string& dir, const WriteShape& shape,
                      int batch_messages) {
  std::string err;
  auto store = router::Store::open(dir, false, err);
  if (!store) return {{"error", err}};
  const int writes = std::max(1, static_cast<int>(std::lround(shape.writes_per_message)));
  const size_t value_size = static_cast<size_t>(shape.bytes_per_message / writes);
  std::string value(value_size > 24 ? value_size - 24 : 1, 'v');
  const router::Cf cfs[] = {router::Cf::kMessages, router::Cf::kConversations, router::Cf::kDedup,
                            router::Cf::kOutbox, router::Cf::kMeta};
  const auto t0 = Clock::now();
  int64_t done = 0;
  while (done < o.messages) {
    auto b = store->begin();
    for (int m = 0; m < batch_messages && done < o.messages; ++m, ++done) {
      for (int w = 0; w < writes; ++w) {
        b.put(cfs[w % 5],
              fmt::format("ws{}/C{}/{:010}/{}", done % 4, done % o.conversations, done, w), value);
      }
    }
    if (auto e = store->commit(b); !e.empty()) return {{"error", e}};
  }
  const double s = secs(Clock::now() - t0);
  return {{"messages", o.messages},
          {"writes_per_message", shape.writes_per_message},
          {"bytes_per_message", shape.bytes_per_message},
          {"messages_per_commit", batch_messages},
          {"msgs_per_s", o.messages / s},
          {"writes_per_s", static_cast<double>(o.messages) * writes / s}};
}

json zeromq_baseline(const Options& o) {
  zmq::context_t ctx;
  zmq::socket_t router(ctx, zmq::socket_type::router), dealer(ctx, zmq::socket_type::dealer);
  router.set(zmq::sockopt::sndhwm, 0);
  router.set(zmq::sockopt::rcvhwm, 0);
  dealer.set(zmq::sockopt::sndhwm, 0);
  dealer.set(zmq::sockopt::rcvhwm, 0);
  router.bind("tcp://127.0.0.1:*");
  dealer.connect(router.get(zmq::sockopt::last_endpoint));
  v1::AgentFrame f;
  auto* offer = f.mutable_offer();
  offer->set_offer_id("C123456/1");
  offer->mutable_conversation()->set_conversation_id("C123456");
  offer->mutable_conversation()->set_workspace_id("ws0");
  offer->mutable_conversation()->set_customer_handle("cust123456");
  offer->mutable_conversation()->set_customer_display_name("Customer 123456");
  offer->set_preview(std::string(140, 'p'));
  const std::string bytes = f.SerializeAsString();
  // Round trips one at a time: latency.
  const int pings = std::min(o.messages, 20000);
  std::vector<double> rtt;
  rtt.reserve(static_cast<size_t>(pings));
  const auto t0 = Clock::now();
  for (int i = 0; i < pings; ++i) {
    const int64_t s = ns_now();
    dealer.send(zmq::buffer(bytes));
    zmq::message_t id, body;
    (void)router.recv(id);
    (void)router.recv(body);
    router.send(id, zmq::send_flags::sndmore);
    router.send(body, zmq::send_flags::none);
    zmq::message_t back;
    (void)dealer.recv(back);
    rtt.push_back(us(ns_now() - s));
  }
  const double ping_s = secs(Clock::now() - t0);
  // Pipelined round trips, window of 1000: throughput.
  const auto t1 = Clock::now();
  int sent = 0, received = 0;
  while (received < o.messages) {
    while (sent < o.messages && sent - received < 1000) {
      dealer.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
      ++sent;
    }
    zmq::message_t id, body;
    while (router.recv(id, zmq::recv_flags::dontwait)) {
      (void)router.recv(body);
      router.send(id, zmq::send_flags::sndmore);
      router.send(body, zmq::send_flags::none);
    }
    zmq::message_t back;
    while (dealer.recv(back, zmq::recv_flags::dontwait)) ++received;
  }
  const double pipe_s = secs(Clock::now() - t1);
  return {{"message_bytes", bytes.size()},
          {"pingpong_round_trips_per_s", pings / ping_s},
          {"pingpong_rtt", percentiles_json(rtt)},
          {"pipelined_round_trips_per_s", o.messages / pipe_s}};
}

}  // namespace omniroute::bench
