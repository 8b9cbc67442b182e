// Web chat visitor sessions: one WebSocket per browser tab (Boost.Beast), the hello that
// starts or resumes a visitor, their messages (acknowledged only once Kafka has them),
// typing, profile, and satisfaction ratings; and the state every session and the
// connector share (Core: the host, the visitor store, who is connected). The gateway
// (gateway.cc) accepts connections and delivers what the router sends.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <fmt/format.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "connectors/chat/visitors.h"
#include "connectors/http/server.h"
#include "connectors/sdk/connector.h"
#include "connectors/state/kv.h"

namespace omniroute::connectors::chat {

using json = nlohmann::json;

int64_t wall_ms();

// A string member of a frame, cut to `max` bytes (at a character boundary); "" otherwise.
std::string string_field(const json& f, const char* key, size_t max);

// A visitor's "message" frame -> InboundMessage (workspace and inbox not set). "" or the
// reason the visitor is told. Used by the gateway and by `omniroute normalize chat`.
std::string frame_to_message(const json& f, const std::string& visitor, const std::string& name,
                             const std::string& email, const std::string& lang, size_t max_text,
                             v1::InboundMessage& m);

class WsSession;

// Where the gateway records a survey it showed a visitor (scale, expiry): only those can
// be answered, by that visitor.
inline std::string survey_key(const std::string& visitor, const std::string& survey_id) {
  return "sv/" + visitor + "/" + survey_id;
}

struct Core {
  sdk::Host* host = nullptr;
  sdk::Settings settings;
  std::unique_ptr<VisitorBuckets> buckets;  // per visitor, across tabs and reconnects
  std::unique_ptr<state::Kv> kv;
  std::mutex mu;
  bool alive = true;
  std::multimap<std::string, std::weak_ptr<WsSession>> by_visitor;
  std::map<const WsSession*, std::weak_ptr<WsSession>> all;
  std::condition_variable none_left;
  std::atomic<uint64_t> seq{0};

  // Appends to the visitor's transcript (what a reload shows).
  void remember(const std::string& visitor, const json& entry) {
    const int64_t at = entry.value("at", wall_ms());
    if (auto err =
            kv->put(fmt::format("t/{}/{:013}-{:06}", visitor, at, seq++ % 1000000), entry.dump());
        !err.empty())
      host->logger()->warn("chat: a transcript line was not kept (a reload will miss it): {}", err);
  }
  json history(const std::string& visitor, size_t max) const {
    std::deque<json> out;
    kv->scan("t/" + visitor + "/", [&](std::string_view, std::string_view v) {
      out.push_back(json::parse(v, nullptr, false));
      if (out.size() > max) out.pop_front();
      return true;
    });
    json arr = json::array();
    for (auto& e : out)
      if (e.is_object()) arr.push_back(std::move(e));
    return arr;
  }
  // Sends `frame` to every open tab of the visitor.
  void push(const std::string& visitor, const std::string& frame);
};

// Starts a visitor's session on an upgraded connection (a hello is expected within 10 s).
void start_session(boost::beast::tcp_stream stream, std::shared_ptr<Core> core,
                   const sdk::InboxInfo& inbox, http::ConnectionLease lease,
                   boost::beast::http::request<boost::beast::http::string_body> req);
// Closes a session from any thread (the connector is stopping).
void close_session(const std::shared_ptr<WsSession>& s);

}  // namespace omniroute::connectors::chat
