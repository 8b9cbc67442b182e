#include "connectors/email/imap.h"

#include <curl/curl.h>
#include <re2/re2.h>

#include <algorithm>

#include <fmt/format.h>

namespace omniroute::connectors::email {

namespace {

struct Sink {
  std::string* out;
  size_t max;
};

size_t write_cb(char* data, size_t size, size_t n, void* userp) {
  auto* s = static_cast<Sink*>(userp);
  const size_t len = size * n;
  if (s->out && s->out->size() < s->max)
    s->out->append(data, std::min(len, s->max - s->out->size()));
  return len;  // keep reading: the server's response must be consumed
}

// Mailbox names are quoted in commands; a name with quotes or line ends is refused.
bool safe_mailbox(const std::string& m) {
  return !m.empty() && m.size() < 256 && std::none_of(m.begin(), m.end(), [](unsigned char c) {
    return c < 0x20 || c == '"' || c == '\\' || c == 0x7f;
  });
}

}  // namespace

ImapClient::ImapClient(ImapMailbox mailbox) : mb_(std::move(mailbox)) {
  // imap://host:port/MAILBOX
  const auto scheme = mb_.url.find("://");
  const auto slash =
      scheme == std::string::npos ? std::string::npos : mb_.url.find('/', scheme + 3);
  base_ = slash == std::string::npos ? mb_.url : mb_.url.substr(0, slash);
  mailbox_ = slash == std::string::npos || slash + 1 >= mb_.url.size() ? "INBOX"
                                                                       : mb_.url.substr(slash + 1);
  curl_ = curl_easy_init();
}

ImapClient::~ImapClient() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

std::string ImapClient::perform(const std::string& url, const std::string& request,
                                std::string* out, int64_t max_bytes) {
  CURL* c = static_cast<CURL*>(curl_);
  if (!c) return "curl_easy_init failed";
  if (!safe_mailbox(mailbox_)) return "mailbox name '" + mailbox_ + "' is not usable";
  char errbuf[CURL_ERROR_SIZE] = {0};
  Sink sink{out, static_cast<size_t>(std::max<int64_t>(max_bytes, 0))};
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERNAME, mb_.username.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, mb_.password.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, mb_.timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min(mb_.timeout_ms, 10000L));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  if (mb_.tls == "starttls") curl_easy_setopt(c, CURLOPT_USE_SSL, CURLUSESSL_ALL);
  if (!request.empty()) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.c_str());
  const CURLcode res = curl_easy_perform(c);
  if (res != CURLE_OK)
    return fmt::format("{}: {}", base_, errbuf[0] ? errbuf : curl_easy_strerror(res));
  return {};
}

std::string ImapClient::status(uint32_t* uidvalidity, uint32_t* uidnext) {
  std::string out;
  if (auto err =
          perform(base_ + "/", fmt::format("STATUS \"{}\" (UIDVALIDITY UIDNEXT)", mailbox_), &out);
      !err.empty())
    return err;
  if (!RE2::PartialMatch(out, R"(UIDVALIDITY (\d+))", uidvalidity) ||
      !RE2::PartialMatch(out, R"(UIDNEXT (\d+))", uidnext))
    return "unexpected STATUS response";
  return {};
}

std::string ImapClient::search_from(uint32_t first, std::vector<uint32_t>* uids) {
  std::string out;
  if (auto err = perform(base_ + "/" + mailbox_, fmt::format("UID SEARCH UID {}:*", first), &out);
      !err.empty())
    return err;
  uids->clear();
  std::string rest;
  if (!RE2::PartialMatch(out, R"(\* SEARCH([ 0-9]*))", &rest)) return {};
  re2::StringPiece r(rest);
  uint32_t uid = 0;
  // "n:*" also matches the highest UID when n is past it: keep only those asked for.
  while (RE2::FindAndConsume(&r, R"((\d+))", &uid))
    if (uid >= first) uids->push_back(uid);
  std::sort(uids->begin(), uids->end());
  return {};
}

std::string ImapClient::fetch(uint32_t uid, int64_t max_bytes, std::string* raw) {
  // libcurl fetches with BODY[] (a custom BODY.PEEK[] request would not hand over the
  // literal), which sets \Seen; the caller restores the flag when it must not stay.
  raw->clear();
  if (auto err = perform(fmt::format("{}/{};UID={}", base_, mailbox_, uid), "", raw, max_bytes + 1);
      !err.empty())
    return err;
  if (raw->empty()) return fmt::format("UID {}: the server sent no message", uid);
  return {};
}

std::string ImapClient::seen(uint32_t uid, bool* is_seen) {
  std::string out;
  if (auto err = perform(base_ + "/" + mailbox_, fmt::format("UID FETCH {} FLAGS", uid), &out);
      !err.empty())
    return err;
  if (out.find("FETCH") == std::string::npos)
    return fmt::format("UID {}: no FLAGS in the response", uid);
  *is_seen = out.find("\\Seen") != std::string::npos;
  return {};
}

std::string ImapClient::mark_unseen(uint32_t uid) {
  return perform(base_ + "/" + mailbox_, fmt::format("UID STORE {} -FLAGS (\\Seen)", uid), nullptr);
}

std::string ImapClient::mark_seen(uint32_t uid) {
  return perform(base_ + "/" + mailbox_, fmt::format("UID STORE {} +FLAGS (\\Seen)", uid), nullptr);
}

std::string ImapClient::move(uint32_t uid, const std::string& folder) {
  if (!safe_mailbox(folder)) return "folder name '" + folder + "' is not usable";
  return perform(base_ + "/" + mailbox_, fmt::format("UID MOVE {} \"{}\"", uid, folder), nullptr);
}

}  // namespace omniroute::connectors::email
