// A child process started with fork/exec and stopped with a signal: the router and
// connector processes of benchmarks, the fault harness and crash tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace omniroute {

class ChildProcess {
 public:
  ChildProcess(std::string binary, std::vector<std::string> args)
      : binary_(std::move(binary)), args_(std::move(args)) {}
  ~ChildProcess() { stop(9); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void start();
  // Sends `signal` and waits up to `grace` for the process, then kills it (SIGKILL);
  // returns its wait status (-1 if not running). forced() says whether the grace ran out.
  int stop(int signal, std::chrono::milliseconds grace = std::chrono::seconds(30));
  bool forced() const { return forced_; }
  // The wait status if the process has ended on its own (reaped; not running any more),
  // std::nullopt while it runs or when it was never started.
  std::optional<int> ended();
  pid_t pid() const { return pid_; }
  std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  std::string binary_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  bool forced_ = false;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace omniroute
