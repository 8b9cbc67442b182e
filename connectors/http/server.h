// The HTTP front door every HTTP-facing connector shares (Boost.Beast). Connectors that
// listen on the same address share one server and are told apart by path prefix, so a
// whole deployment can sit behind one public port: /v1/webhook/, /v1/sms/,
// /v1/messenger/, /v1/instagram/, /v1/whatsapp/, /v1/telegram/, /v1/chat/. Each route
// declares its own body limit; the header is read first, the route found, and only then
// is a body of at most that size read.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "connectors/http/form.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace omniroute::connectors::http {

struct Request {
  std::string method;                                        // "GET", "POST", ...
  std::string target;                                        // As sent: path and query.
  std::string path;                                          // Target up to '?'.
  std::string query;                                         // After '?', raw (percent-encoded).
  std::vector<std::pair<std::string, std::string>> headers;  // Names in lower case.
  std::string body;
  std::string remote;  // Peer address.
  // First header of that name (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // {"error": message}
  static Response error(int status, std::string_view message);
  // {"status": word} plus extra JSON members given as raw text pairs (already JSON values).
  static Response json(int status, std::string body);
};

// Answers a request; call exactly once, from any thread.
using Respond = std::function<void(Response)>;
using Handler = std::function<void(Request request, Respond respond)>;
// A connection's place under the server's caps: hold it as long as the connection lives
// (a WebSocket session keeps the one it was handed), release it when it closes.
using ConnectionLease = std::shared_ptr<void>;
// Takes over a connection that asked for a WebSocket upgrade on the route's prefix.
using UpgradeHandler = std::function<void(
    boost::beast::tcp_stream stream,
    boost::beast::http::request<boost::beast::http::string_body> request, ConnectionLease lease)>;

struct Route {
  std::string prefix;  // "/v1/sms/": every path starting with it.
  size_t max_body_bytes = 1 << 20;
  Handler handler;
  UpgradeHandler upgrade;  // Optional.
};

class Server : public std::enable_shared_from_this<Server> {
 public:
  struct Options {
    int threads = 1;
    int request_timeout_ms = 15000;
    // Every open connection counts, WebSocket ones included. At the cap, the connection
    // idle longest (waiting for its next request) is closed to let a new one in; when none
    // is idle, the new one is closed.
    int max_connections = 10000;
    int max_connections_per_client = 256;  // From one peer address.
    size_t max_header_bytes = 16 * 1024;
    bool operator==(const Options&) const = default;
  };
  // Counters for tests and logs.
  struct Stats {
    int connections = 0;
    uint64_t refused_at_cap = 0, refused_per_client = 0, idle_closed = 0, accept_errors = 0;
  };
  Stats stats() const;

  // A server on `hostport`: the one already running there in this process, or a new one.
  // Sharing connectors must declare the same listener options (an error says which
  // differ). Port 0 always starts a new server on a free port. nullptr and `err` when
  // the address cannot be bound.
  static std::shared_ptr<Server> listen(const std::string& hostport, const Options& options,
                                        std::string& err);
  ~Server();
  // Every server running in this process (the front doors, port-0 ones too).
  static std::vector<std::shared_ptr<Server>> all();

  // Adds a route; error text when the prefix is taken.
  std::string add_route(Route route);
  // Removes a route and waits until none of its handlers runs. Requests arriving later
  // get 404.
  void remove_route(const std::string& prefix);

  const std::string& address() const { return address_; }  // "127.0.0.1:8080"
  const Options& options() const { return options_; }

  // Internal, for sessions (called on the server's threads only).
  struct RouteRef {
    std::shared_ptr<const Route> route;
    std::shared_ptr<std::atomic<int>> running;
  };
  RouteRef find(std::string_view path);
  void handler_done(const RouteRef& ref);
  // What outlives the server while a request still waits for its answer (sessions hold it).
  struct Core;

 private:
  explicit Server(Options options);
  void accept();
  void admit(boost::asio::ip::tcp::socket socket);
  void stop();

  Options options_;
  std::shared_ptr<Core> core_;
  std::vector<std::thread> threads_;
  std::string address_;
  std::string key_;  // In the registry of shared servers; "" when not shared.
  std::mutex mu_;
  std::condition_variable idle_;
  std::map<std::string, RouteRef, std::less<>> routes_;
};

}  // namespace omniroute::connectors::http
