#include "connectors/http/server.h"

#include "ops/metrics.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <nlohmann/json.hpp>

namespace omniroute::connectors::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        }))
      return v;
  }
  return {};
}

Response Response::error(int status, std::string_view message) {
  Response r;
  r.status = status;
  // Messages may quote what a client sent: ill-formed UTF-8 is replaced, never thrown on.
  r.body = nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Shared by the server and its sessions. A session whose request waits for Kafka may
// outlive the server (its Respond is held by a publish completion): it keeps the
// io_context alive, and answers nothing once `alive` is false.
struct Server::Core {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  net::steady_timer accept_backoff{ioc};
  Options options;
  std::mutex mu;
  bool alive = true;
  std::atomic<int> connections{0};
  std::map<const void*, std::function<void()>> closers;  // how to close each session
  std::map<std::string, int> per_client;                 // open connections by peer address
  // Sessions waiting for a request header, oldest first: closed first at the cap.
  std::map<uint64_t, const void*> idle_order;
  std::map<const void*, uint64_t> idle_since;
  uint64_t idle_seq = 0;
  Stats stats;

  void set_idle(const void* session, bool idle) {
    std::lock_guard lock(mu);
    if (auto it = idle_since.find(session); it != idle_since.end()) {
      idle_order.erase(it->second);
      idle_since.erase(it);
    }
    if (idle) {
      idle_since[session] = ++idle_seq;
      idle_order[idle_seq] = session;
    }
  }
  // Closes the connection idle longest; false when none is idle.
  bool close_oldest_idle() {
    std::function<void()> close;
    {
      std::lock_guard lock(mu);
      if (idle_order.empty()) return false;
      const void* s = idle_order.begin()->second;
      idle_order.erase(idle_order.begin());
      idle_since.erase(s);
      if (auto it = closers.find(s); it != closers.end()) close = it->second;
      ++stats.idle_closed;
    }
    if (close) close();
    return static_cast<bool>(close);
  }
};

namespace {
// One connection's place under the caps; released when the last holder lets go (the
// HTTP session, or the WebSocket session it was handed to).
struct Slot {
  std::shared_ptr<Server::Core> core;
  std::string client;
  Slot(std::shared_ptr<Server::Core> c, std::string addr)
      : core(std::move(c)), client(std::move(addr)) {
    core->connections++;
    std::lock_guard lock(core->mu);
    core->per_client[client]++;
  }
  ~Slot() {
    core->connections--;
    std::lock_guard lock(core->mu);
    if (auto it = core->per_client.find(client); it != core->per_client.end() && --it->second <= 0)
      core->per_client.erase(it);
  }
};
}  // namespace

namespace {

std::mutex g_registry_mu;
std::map<std::string, std::weak_ptr<Server>>& registry() {
  static std::map<std::string, std::weak_ptr<Server>> r;
  return r;
}

// Every server running in the process, port-0 ones too (Server::all).
std::map<const Server*, std::weak_ptr<Server>>& running() {
  static std::map<const Server*, std::weak_ptr<Server>> r;
  return r;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<Server::Core> core, Server* server,
          std::shared_ptr<Slot> slot)
      : core_(std::move(core)),
        slot_(std::move(slot)),
        stream_(std::move(socket)),
        server_(server) {}
  ~Session() {
    core_->set_idle(this, false);
    std::lock_guard lock(core_->mu);
    core_->closers.erase(this);
  }

  void start() {
    {
      std::lock_guard lock(core_->mu);
      if (!core_->alive) {
        close();
        return;
      }
      std::weak_ptr<Session> weak = shared_from_this();
      core_->closers[this] = [weak] {
        if (auto s = weak.lock()) net::post(s->stream_.get_executor(), [s] { s->close(); });
      };
    }
    read_header();
  }

 private:
  int timeout_ms() const { return core_->options.request_timeout_ms; }

  void read_header() {
    route_label_ = "none";
    core_->set_idle(this, true);
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(core_->options.max_header_bytes));
    stream_.expires_after(std::chrono::milliseconds(timeout_ms()));
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  bool fail(beast::error_code ec, size_t body_limit) {
    if (!ec) return false;
    if (ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::bad_descriptor) {
      close();
    } else if (ec == bhttp::error::body_limit) {
      respond(Response::error(413, fmt::format("body exceeds {} bytes", body_limit)), false);
    } else if (ec == bhttp::error::header_limit) {
      respond(Response::error(431, "headers too large"), false);
    } else {
      respond(Response::error(400, "malformed HTTP request: " + ec.message()), false);
    }
    return true;
  }

  void on_header(beast::error_code ec) {
    core_->set_idle(this, false);
    if (fail(ec, 0)) return;
    const auto& h = parser_->get();
    // Framing a proxy in front of us could read differently is refused, and the
    // connection closed (RFC 9112 6.1, 6.3): no request smuggling.
    if (h.version() >= 11 && h.find(bhttp::field::host) == h.end()) {
      respond(Response::error(400, "HTTP/1.1 request without Host"), false);
      return;
    }
    if (auto te = h.find(bhttp::field::transfer_encoding); te != h.end()) {
      std::string v(te->value());
      for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      v.erase(std::remove_if(v.begin(), v.end(), [](char c) { return c == ' ' || c == '\t'; }),
              v.end());
      if (v != "chunked") {
        respond(Response::error(400, "unsupported Transfer-Encoding (only chunked)"), false);
        return;
      }
      if (h.find(bhttp::field::content_length) != h.end()) {
        respond(Response::error(400, "both Transfer-Encoding and Content-Length"), false);
        return;
      }
    }
    std::string_view target(h.target().data(), h.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    auto route = server_->find(path);
    if (!route.route) {
      respond(Response::error(404, "unknown path"), false);
      return;
    }
    route_label_ = route.route->prefix;
    if (beast::websocket::is_upgrade(h) && route.route->upgrade) {
      count(101);
      // The handshake request has no body: hand the connection over as it is.
      stream_.expires_never();
      try {
        // The WebSocket session keeps this connection's place under the caps.
        route.route->upgrade(std::move(stream_), parser_->release(), slot_);
      } catch (const std::exception&) {
      }
      server_->handler_done(route);
      return;
    }
    const size_t limit = route.route->max_body_bytes;
    server_->handler_done(route);
    // A declared length is checked now (Beast checked it against its default at the
    // header); chunked bodies are cut by the parser's limit while they are read.
    if (auto len = parser_->content_length(); len && *len > limit) {
      respond(Response::error(413, fmt::format("body exceeds {} bytes", limit)), false);
      return;
    }
    parser_->body_limit(limit);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this(), limit](beast::error_code ec2, size_t) {
                        self->on_body(ec2, limit);
                      });
  }

  void on_body(beast::error_code ec, size_t limit) {
    if (fail(ec, limit)) return;
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    beast::error_code rec;
    auto ep = stream_.socket().remote_endpoint(rec);
    if (!rec) req.remote = ep.address().to_string();
    // The route may have gone while the body was read.
    auto route = server_->find(req.path);
    if (!route.route) {
      respond(Response::error(404, "unknown path"), false);
      return;
    }
    auto answered = std::make_shared<std::atomic<bool>>(false);
    Respond respond = [self = shared_from_this(), answered](Response r) {
      if (answered->exchange(true)) return;
      std::lock_guard lock(self->core_->mu);
      if (!self->core_->alive) return;
      net::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable {
        self->respond(std::move(r), self->keep_alive_);
      });
    };
    try {
      route.route->handler(std::move(req), respond);
    } catch (const std::exception&) {
      respond(Response::error(500, "internal error"));
    }
    server_->handler_done(route);
  }

  // Requests by route prefix (bounded: the routes this server has, or "none") and status.
  void count(int status) {
    ops::metrics()
        .http_requests.Add({{"route", route_label_}, {"code", std::to_string(status)}})
        .Increment();
  }

  void respond(Response r, bool keep_alive) {
    count(r.status);
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(r.status), 11);
    res->set(bhttp::field::content_type, r.content_type);
    res->set(bhttp::field::server, "omniroute");
    for (const auto& [k, v] : r.headers) res->set(k, v);
    if (r.status == 503 && res->find(bhttp::field::retry_after) == res->end())
      res->set(bhttp::field::retry_after, "5");
    res->keep_alive(keep_alive);
    res->body() = std::move(r.body);
    res->prepare_payload();
    stream_.expires_after(std::chrono::milliseconds(timeout_ms()));
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res](beast::error_code ec, size_t) {
                         if (ec || !res->keep_alive()) {
                           self->close();
                           return;
                         }
                         self->read_header();
                       });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  std::shared_ptr<Server::Core> core_;  // first: destroyed after the stream
  std::shared_ptr<Slot> slot_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string route_label_ = "none";
  Server* server_;  // only used on the server's threads
  bool keep_alive_ = false;
};

}  // namespace

Server::Server(Options options) : options_(options), core_(std::make_shared<Core>()) {
  core_->options = options;
}

Server::~Server() {
  stop();
  std::lock_guard lock(g_registry_mu);
  running().erase(this);
  if (!key_.empty()) {
    auto it = registry().find(key_);
    if (it != registry().end() && it->second.expired()) registry().erase(it);
  }
}

std::vector<std::shared_ptr<Server>> Server::all() {
  std::vector<std::shared_ptr<Server>> out;
  std::lock_guard lock(g_registry_mu);
  for (const auto& [key, weak] : running())
    if (auto s = weak.lock()) out.push_back(std::move(s));
  return out;
}

std::shared_ptr<Server> Server::listen(const std::string& hostport, const Options& options,
                                       std::string& err) {
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) {
    err = "listen must be host:port, got " + hostport;
    return nullptr;
  }
  beast::error_code ec;
  auto addr = net::ip::make_address(hostport.substr(0, colon), ec);
  if (ec) {
    err = "listen: bad address " + hostport.substr(0, colon);
    return nullptr;
  }
  int port = -1;
  try {
    port = std::stoi(hostport.substr(colon + 1));
  } catch (...) {
  }
  if (port < 0 || port > 65535) {
    err = "listen: bad port in " + hostport;
    return nullptr;
  }
  std::lock_guard lock(g_registry_mu);
  const std::string key = fmt::format("{}:{}", addr.to_string(), port);
  if (port != 0) {
    auto it = registry().find(key);
    if (it != registry().end()) {
      if (auto s = it->second.lock()) {
        if (!(s->options_ == options)) {
          err = fmt::format(
              "{} is already served with other listener settings (threads {}, "
              "request_timeout_ms {}, max_connections {}): connectors sharing an "
              "address must declare the same ones",
              key, s->options_.threads, s->options_.request_timeout_ms,
              s->options_.max_connections);
          return nullptr;
        }
        return s;
      }
    }
  }
  std::shared_ptr<Server> s(new Server(options));
  tcp::endpoint ep(addr, static_cast<uint16_t>(port));
  auto& acc = s->core_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    err = fmt::format("listen on {}: {}", hostport, ec.message());
    return nullptr;
  }
  s->address_ = fmt::format("{}:{}", addr.to_string(), acc.local_endpoint().port());
  if (port != 0) {
    s->key_ = key;
    registry()[key] = s;
  }
  running()[s.get()] = s;
  s->accept();
  for (int i = 0; i < std::max(1, options.threads); ++i)
    s->threads_.emplace_back([core = s->core_] { core->ioc.run(); });
  return s;
}

void Server::accept() {
  core_->acceptor.async_accept(
      net::make_strand(core_->ioc), [this](beast::error_code ec, tcp::socket socket) {
        if (ec) {
          if (ec == net::error::operation_aborted || !core_->acceptor.is_open()) return;
          // Out of descriptors (or memory): wait a moment instead of spinning on accept.
          {
            std::lock_guard lock(core_->mu);
            ++core_->stats.accept_errors;
          }
          core_->accept_backoff.expires_after(std::chrono::milliseconds(100));
          core_->accept_backoff.async_wait([this](beast::error_code wec) {
            if (!wec && core_->acceptor.is_open()) accept();
          });
          return;
        }
        admit(std::move(socket));
        accept();
      });
}

void Server::admit(tcp::socket socket) {
  beast::error_code rec;
  const auto ep = socket.remote_endpoint(rec);
  const std::string client = rec ? std::string() : ep.address().to_string();
  bool refuse = false;
  {
    std::lock_guard lock(core_->mu);
    auto it = core_->per_client.find(client);
    if (it != core_->per_client.end() && it->second >= options_.max_connections_per_client) {
      ++core_->stats.refused_per_client;
      refuse = true;
    }
  }
  if (!refuse && core_->connections.load() >= options_.max_connections &&
      !core_->close_oldest_idle()) {
    std::lock_guard lock(core_->mu);
    ++core_->stats.refused_at_cap;
    refuse = true;
  }
  if (refuse) {
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  auto slot = std::make_shared<Slot>(core_, client);
  std::make_shared<Session>(std::move(socket), core_, this, std::move(slot))->start();
}

Server::Stats Server::stats() const {
  std::lock_guard lock(core_->mu);
  Stats s = core_->stats;
  s.connections = core_->connections.load();
  return s;
}

// Graceful: no new connections, every open one closed, threads leave when the
// io_context runs out of work. Sessions still waiting for an answer keep the core alive
// and answer nothing.
void Server::stop() {
  if (threads_.empty()) return;
  std::vector<std::function<void()>> closers;
  {
    std::lock_guard lock(core_->mu);
    core_->alive = false;
    for (auto& [k, c] : core_->closers) closers.push_back(c);
  }
  net::post(core_->ioc, [core = core_] {
    beast::error_code ec;
    core->acceptor.close(ec);
  });
  for (auto& c : closers) c();
  net::post(core_->ioc, [core = core_] { core->accept_backoff.cancel(); });
  for (auto& t : threads_) t.join();
  threads_.clear();
  // What was posted while the threads wound down runs now (a close, a last answer), so
  // no session, strand or buffer is left waiting in the queue.
  core_->ioc.restart();
  core_->ioc.poll();
}

std::string Server::add_route(Route route) {
  std::lock_guard lock(mu_);
  for (const auto& [p, r] : routes_) {
    if (route.prefix.rfind(p, 0) == 0 || p.rfind(route.prefix, 0) == 0)
      return fmt::format("path prefix {} overlaps {} on {}", route.prefix, p, address_);
  }
  std::string prefix = route.prefix;
  routes_[prefix] = {std::make_shared<const Route>(std::move(route)),
                     std::make_shared<std::atomic<int>>(0)};
  return {};
}

void Server::remove_route(const std::string& prefix) {
  std::unique_lock lock(mu_);
  auto it = routes_.find(prefix);
  if (it == routes_.end()) return;
  auto running = it->second.running;
  routes_.erase(it);
  idle_.wait(lock, [&] { return running->load() == 0; });
}

Server::RouteRef Server::find(std::string_view path) {
  std::lock_guard lock(mu_);
  for (const auto& [p, r] : routes_) {
    if (path.substr(0, p.size()) == p) {
      r.running->fetch_add(1);
      return r;
    }
  }
  return {};
}

void Server::handler_done(const RouteRef& ref) {
  if (!ref.running) return;
  std::lock_guard lock(mu_);
  ref.running->fetch_sub(1);
  idle_.notify_all();
}

}  // namespace omniroute::connectors::http
