// Email in: an IMAP mailbox read by UID with libcurl (one connection reused per poll).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace omniroute::connectors::email {

struct ImapMailbox {
  std::string url;  // imap://host:143/INBOX or imaps://host:993/INBOX
  std::string username, password;
  std::string tls = "starttls";  // none | starttls (required) | implicit (imaps://)
  long timeout_ms = 30000;
};

class ImapClient {
 public:
  explicit ImapClient(ImapMailbox mailbox);
  ~ImapClient();
  ImapClient(const ImapClient&) = delete;
  ImapClient& operator=(const ImapClient&) = delete;

  // Every call returns "" or what went wrong (never the password).
  std::string status(uint32_t* uidvalidity, uint32_t* uidnext);
  // UIDs >= first, ascending.
  std::string search_from(uint32_t first, std::vector<uint32_t>* uids);
  // The whole message; only its first `max_bytes` + 1 bytes are kept (the caller cuts).
  // Fetching sets \Seen (see seen() / mark_unseen()).
  std::string fetch(uint32_t uid, int64_t max_bytes, std::string* raw);
  std::string mark_seen(uint32_t uid);
  std::string mark_unseen(uint32_t uid);
  std::string seen(uint32_t uid, bool* is_seen);
  std::string move(uint32_t uid, const std::string& folder);
  const std::string& mailbox_name() const { return mailbox_; }

 private:
  std::string perform(const std::string& url, const std::string& request, std::string* out,
                      int64_t max_bytes = 1 << 20);
  ImapMailbox mb_;
  std::string base_;     // imap://host:port
  std::string mailbox_;  // INBOX
  void* curl_ = nullptr;
};

}  // namespace omniroute::connectors::email
