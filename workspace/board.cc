#include "workspace/board.h"

#include <chrono>
#include <optional>

#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

namespace omniroute::workspace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

namespace {
constexpr size_t kMaxViewersPerWorkspace = 500;
constexpr auto kCoalesce = std::chrono::milliseconds(150);
constexpr auto kTick = std::chrono::seconds(1);
}  // namespace

// One supervisor tab. Write-only: what it sends is read and dropped (a board takes no
// commands), which also keeps pings and the close handshake working.
class BoardViewer : public std::enable_shared_from_this<BoardViewer> {
 public:
  BoardViewer(beast::tcp_stream&& s, connectors::http::ConnectionLease lease,
              std::function<void()> wake)
      : lease_(std::move(lease)), ws_(std::move(s)), wake_(std::move(wake)) {}

  void start(beast::http::request<beast::http::string_body> req, std::string first) {
    ws_.set_option(
        websocket::stream_base::timeout{std::chrono::seconds(30), std::chrono::seconds(60), true});
    ws_.read_message_max(1024);
    ws_.async_accept(
        req, [self = shared_from_this(), first = std::move(first)](beast::error_code ec) mutable {
          if (ec) return;
          self->open_ = true;
          self->read();
          self->deliver(std::move(first));
        });
  }
  // From any thread: the newest picture replaces one not yet written.
  void send(std::string text) {
    net::post(ws_.get_executor(), [self = shared_from_this(), t = std::move(text)]() mutable {
      self->deliver(std::move(t));
    });
  }
  bool closed() const { return closed_.load(); }
  void close_from_any_thread() {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      if (self->closed_.exchange(true) || !self->open_) return;
      self->ws_.async_close(websocket::close_reason(websocket::close_code::going_away),
                            [self](beast::error_code) {});
    });
  }
  std::string find() const {
    std::lock_guard lock(find_mu_);
    return find_;
  }

 private:
  void deliver(std::string text) {
    if (closed_ || !open_) return;
    pending_ = std::move(text);
    if (!writing_) write();
  }
  void write() {
    if (!pending_) return;
    current_ = std::move(*pending_);
    pending_.reset();
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(current_),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->writing_ = false;
                      if (ec) {
                        self->closed_ = true;
                        return;
                      }
                      self->write();
                    });
  }
  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->closed_ = true;
        return;
      }
      const auto cmd =
          nlohmann::json::parse(beast::buffers_to_string(self->in_.data()), nullptr, false);
      self->in_.consume(self->in_.size());
      if (cmd.is_object() && cmd.contains("find") && cmd["find"].is_string()) {
        const std::string f = cmd["find"];
        if (f.size() <= 64) {
          {
            std::lock_guard lock(self->find_mu_);
            self->find_ = f;
          }
          self->wake_();
        }
      }
      self->read();
    });
  }

  connectors::http::ConnectionLease lease_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer in_;
  std::optional<std::string> pending_;
  std::string current_;
  std::function<void()> wake_;
  mutable std::mutex find_mu_;
  std::string find_;
  bool open_ = false, writing_ = false;
  std::atomic<bool> closed_{false};
};

Board::Board(Snapshot snapshot) : snapshot_(std::move(snapshot)), thread_([this] { run(); }) {}

Board::~Board() {
  stop();
}

void Board::stop() {
  std::vector<std::shared_ptr<BoardViewer>> open;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    for (auto& [ws, list] : viewers_)
      for (auto& w : list)
        if (auto s = w.lock()) open.push_back(std::move(s));
    viewers_.clear();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& v : open) v->close_from_any_thread();
}

void Board::attach(beast::tcp_stream stream, beast::http::request<beast::http::string_body> req,
                   connectors::http::ConnectionLease lease, const std::string& workspace) {
  auto v = std::make_shared<BoardViewer>(std::move(stream), std::move(lease),
                                         [weak = weak_from_this(), workspace] {
                                           if (auto b = weak.lock()) b->changed(workspace);
                                         });
  {
    std::lock_guard lock(mu_);
    auto& list = viewers_[workspace];
    std::erase_if(list, [](const auto& w) {
      auto s = w.lock();
      return !s || s->closed();
    });
    if (list.size() >= kMaxViewersPerWorkspace) return;  // dropped: the tab retries later
    list.push_back(v);
  }
  v->start(std::move(req), snapshot_(workspace, {}));
}

void Board::changed(const std::string& workspace) {
  {
    std::lock_guard lock(mu_);
    if (!viewers_.count(workspace)) return;
    dirty_.insert(workspace);
  }
  wake_.notify_all();
}

size_t Board::viewers() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [ws, list] : viewers_)
    for (const auto& w : list)
      if (auto s = w.lock(); s && !s->closed()) ++n;
  return n;
}

void Board::run() {
  auto next_tick = std::chrono::steady_clock::now() + kTick;
  std::unique_lock lock(mu_);
  while (!stop_) {
    wake_.wait_until(lock, next_tick, [&] { return stop_ || !dirty_.empty(); });
    if (stop_) break;
    const bool tick = std::chrono::steady_clock::now() >= next_tick;
    if (!tick) {  // let a burst of changes settle into one picture
      lock.unlock();
      std::this_thread::sleep_for(kCoalesce);
      lock.lock();
    }
    std::set<std::string> due;
    if (tick) {
      for (const auto& [ws, list] : viewers_) due.insert(ws);
      next_tick = std::chrono::steady_clock::now() + kTick;
    }
    due.merge(dirty_);
    dirty_.clear();
    for (const auto& ws : due) {
      auto it = viewers_.find(ws);
      if (it == viewers_.end()) continue;
      std::erase_if(it->second, [](const auto& w) {
        auto s = w.lock();
        return !s || s->closed();
      });
      if (it->second.empty()) {
        viewers_.erase(it);
        continue;
      }
      std::map<std::string, std::vector<std::shared_ptr<BoardViewer>>> by_find;
      for (const auto& w : it->second)
        if (auto s = w.lock()) by_find[s->find()].push_back(std::move(s));
      lock.unlock();
      for (auto& [find, to] : by_find) {  // one picture per search typed
        const std::string text = snapshot_(ws, find);
        for (auto& v : to) v->send(text);
      }
      lock.lock();
    }
  }
}

}  // namespace omniroute::workspace
