// passwd: an argon2id hash for an agent_workspace account, from a password typed without
// echo (twice) or read from standard input.
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "workspace/passwords.h"

namespace omniroute::cli {
namespace {

std::string read_line(bool echo_off) {
  termios old{};
  const bool tty = echo_off && tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fmt::print(stderr, "\n");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

int cmd_passwd(const PasswdOptions& o) {
  const bool tty = isatty(STDIN_FILENO) != 0;
  if (tty) fmt::print(stderr, "password: ");
  const std::string password = read_line(tty);
  if (tty) {
    fmt::print(stderr, "again: ");
    if (read_line(true) != password) {
      fmt::print(stderr, "passwd: the two passwords differ\n");
      return 1;
    }
  }
  if (password.size() < 8) {
    fmt::print(stderr, "passwd: use at least 8 characters\n");
    return 1;
  }
  if (password.size() > 1024) {
    fmt::print(stderr, "passwd: at most 1024 characters\n");
    return 1;
  }
  const auto hash = workspace::hash_password(password);
  if (!hash) {
    fmt::print(stderr, "passwd: hashing failed (out of memory?)\n");
    return 1;
  }
  if (o.login.empty()) {
    fmt::print("{}\n", *hash);
    return 0;
  }
  // Ready to paste under agent_workspace.accounts.
  fmt::print(
      "    - login: {}\n      workspace: {}\n      agent: {}\n      role: {}\n"
      "      password_hash: \"{}\"\n",
      o.login, o.workspace, o.agent, o.supervisor ? "supervisor" : "agent", *hash);
  return 0;
}

}  // namespace omniroute::cli
