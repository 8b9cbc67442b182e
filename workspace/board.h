// The supervisors' live board: a WebSocket (/agent/board) per supervisor tab that receives
// the live picture of its workspace (analytics/service.h, Service::live) as JSON, pushed
// within about 150 ms of every change and once a second while anything waits (waits grow),
// never polled. A tab gets only the latest picture: a slow one skips pictures, never queues
// them.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "connectors/http/server.h"

namespace omniroute::workspace {

class BoardViewer;

class Board : public std::enable_shared_from_this<Board> {
 public:
  // `snapshot(workspace, find)`: the picture as JSON text, its agents those whose id
  // contains `find` (what the supervisor typed in the board's search; a tab sends
  // {"find": "..."}, at most 64 characters).
  using Snapshot =
      std::function<std::string(const std::string& workspace, const std::string& find)>;
  explicit Board(Snapshot snapshot);
  ~Board();
  Board(const Board&) = delete;
  Board& operator=(const Board&) = delete;

  // Takes over a supervisor's upgraded connection (the session was checked).
  void attach(boost::beast::tcp_stream stream,
              boost::beast::http::request<boost::beast::http::string_body> req,
              connectors::http::ConnectionLease lease, const std::string& workspace);
  // From any thread: something in `workspace` changed.
  void changed(const std::string& workspace);
  size_t viewers() const;
  // Stops pushing and closes every board tab (they reconnect to whoever serves next).
  void stop();

 private:
  void run();
  Snapshot snapshot_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, std::vector<std::weak_ptr<BoardViewer>>> viewers_;
  std::set<std::string> dirty_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace omniroute::workspace
