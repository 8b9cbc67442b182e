// Real mail servers for tests: Dovecot (IMAP) serving a Maildir from a temp dir, and an
// SMTP server (python3-aiosmtpd, tests/connectors/smtp_capture.py) capturing what it gets.
// Both on free loopback ports, stopped with the object.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/child_process.h"
#include "tests/support/support.h"

namespace omniroute::testing {

namespace fs = std::filesystem;

// A Dovecot IMAP server for one user, support@acme.test / secret.
class Dovecot {
 public:
  explicit Dovecot(const std::string& dir) : dir_(dir), port_(free_port()) {
    // Dovecot refuses to serve mail as root: as root, mail belongs to nobody.
    uid_ = getuid();
    gid_ = getgid();
    if (uid_ == 0) {
      const passwd* nobody = getpwnam("nobody");
      uid_ = nobody->pw_uid;
      gid_ = nobody->pw_gid;
    }
    // Dovecot's own processes (users dovecot, dovenull, the mail uid) must reach its files.
    chmod(fs::path(dir_).parent_path().c_str(), 0755);
    fs::create_directories(dir_);
    chmod(dir_.c_str(), 0755);
    for (const char* d : {"run", "state", "home"}) fs::create_directories(dir_ + "/" + d);
    maildir_ = dir_ + "/home/support@acme.test/Maildir";
    for (const char* d : {"new", "cur", "tmp"}) fs::create_directories(maildir_ + "/" + d);
    std::ofstream(dir_ + "/passwd") << "support@acme.test:{PLAIN}secret\n";
    std::ofstream(dir_ + "/dovecot.conf") << fmt::format(R"(base_dir = {0}/run
state_dir = {0}/state
log_path = {0}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {0}/passwd
}}
userdb {{
  driver = static
  args = uid={1} gid={2} home={0}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {3}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
)",
                                                         dir_, uid_, gid_, port_);
    chown_all();
    server_ = std::make_unique<ChildProcess>(
        "/usr/sbin/dovecot", std::vector<std::string>{"-F", "-c", dir_ + "/dovecot.conf"});
    server_->start();
  }
  ~Dovecot() { server_->stop(15); }

  std::string url() const { return fmt::format("imap://127.0.0.1:{}/INBOX", port_); }
  // An MTA delivering into the mailbox.
  void deliver(const std::string& name, const std::string& raw) {
    const std::string tmp = maildir_ + "/tmp/" + name;
    std::ofstream(tmp, std::ios::binary) << raw;
    chown(tmp.c_str(), uid_, gid_);
    fs::rename(tmp, maildir_ + "/new/" + name);
  }
  // A Maildir++ folder of the mailbox.
  void add_folder(const std::string& name) {
    for (const char* d : {"new", "cur", "tmp"})
      fs::create_directories(maildir_ + "/." + name + "/" + d);
    chown_all();
  }
  size_t in_folder(const std::string& name) const {
    size_t n = 0;
    for (const char* d : {"new", "cur"})
      for (const auto& e : fs::directory_iterator(maildir_ + "/." + name + "/" + d))
        n += e.is_regular_file();
    return n;
  }
  // Messages flagged \Seen (Maildir keeps flags in the file name: ":2,S").
  size_t seen() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(maildir_ + "/cur")) {
      const std::string f = e.path().filename().string();
      const auto flags = f.find(":2,");
      if (flags != std::string::npos && f.find('S', flags) != std::string::npos) ++n;
    }
    return n;
  }

 private:
  void chown_all() {
    for (const auto& e : fs::recursive_directory_iterator(dir_ + "/home"))
      chown(e.path().c_str(), uid_, gid_);
    chown((dir_ + "/home").c_str(), uid_, gid_);
  }
  std::string dir_, maildir_;
  int port_;
  uid_t uid_;
  gid_t gid_;
  std::unique_ptr<ChildProcess> server_;
};

// python3-aiosmtpd capturing every accepted message as NNNN.eml; refuses "nobody@" (550)
// and "later@" (451) recipients.
class SmtpCapture {
 public:
  explicit SmtpCapture(const std::string& dir) : dir_(dir), port_(free_port()) {
    fs::create_directories(dir_);
    server_ = std::make_unique<ChildProcess>(
        OMNIROUTE_PYTHON3, std::vector<std::string>{std::string(OMNIROUTE_SOURCE_DIR) +
                                                        "/tests/connectors/smtp_capture.py",
                                                    std::to_string(port_), dir_});
    server_->start();
    wait_until([&] { return port_open(port_); });
  }
  ~SmtpCapture() { server_->stop(9); }
  int port() const { return port_; }
  std::string url() const { return fmt::format("smtp://127.0.0.1:{}", port_); }
  std::vector<std::string> captured() const {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().extension() == ".eml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<std::string> out;
    for (const auto& p : files) {
      std::ifstream in(p, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      out.push_back(ss.str());
    }
    return out;
  }

 private:
  std::string dir_;
  int port_;
  std::unique_ptr<ChildProcess> server_;
};

}  // namespace omniroute::testing
