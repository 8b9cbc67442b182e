#include "common/child_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace omniroute {

void ChildProcess::start() {
  started_ = std::chrono::steady_clock::now();
  pid_ = fork();
  if (pid_ == 0) {
    std::vector<char*> argv{binary_.data()};
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary_.c_str(), argv.data());
    _exit(127);
  }
}

int ChildProcess::stop(int signal, std::chrono::milliseconds grace) {
  forced_ = false;
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      forced_ = true;
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    usleep(5000);
  }
  pid_ = -1;
  return status;
}

std::optional<int> ChildProcess::ended() {
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
  pid_ = -1;
  return status;
}

}  // namespace omniroute
