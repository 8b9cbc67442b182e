// The email connector: IMAP in, SMTP out, and its registration (settings, normalizer).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "connectors/email/email.h"
#include "connectors/email/imap.h"
#include "connectors/email/mime.h"
#include "connectors/email/smtp.h"
#include "connectors/sdk/survey.h"

namespace omniroute::connectors::email {

namespace {

// The last UID of a mailbox whose event Kafka acknowledged, per UIDVALIDITY.
struct Position {
  uint32_t uidvalidity = 0;
  uint32_t uid = 0;
};

Position read_position(const std::string& path) {
  Position p;
  std::ifstream in(path);
  in >> p.uidvalidity >> p.uid;
  if (!in) p = Position{};
  return p;
}

bool write_position(const std::string& path, const Position& p) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << p.uidvalidity << " " << p.uid << "\n";
    out.flush();
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

class EmailConnector : public sdk::Connector {
 public:
  explicit EmailConnector(const sdk::Settings& s) : settings_(s) {}
  ~EmailConnector() override { stop(); }

  std::string start(sdk::Host& host) override {
    host_ = &host;
    for (const auto& inbox : host.inboxes()) {
      if (inbox.settings.str("imap_url").empty() && inbox.settings.str("maildir").empty()) continue;
      std::error_code ec;
      const auto dir = std::filesystem::path(settings_.str("state_dir")) / inbox.workspace_id;
      std::filesystem::create_directories(dir, ec);
      if (ec) return fmt::format("email: cannot create {}: {}", dir.string(), ec.message());
      pollers_.emplace_back([this, inbox] { poll_loop(inbox); });
    }
    if (pollers_.empty())
      host.logger()->warn(
          "email: no inbox has imap_url or maildir: replies are delivered, nothing is read");
    return {};
  }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : pollers_)
      if (t.joinable()) t.join();
    pollers_.clear();
  }

  sdk::DeliveryResult deliver(const v1::OutboundMessage& m, const sdk::InboxInfo& inbox) override {
    const auto& s = inbox.settings;
    Sender from;
    from.address = s.str("from_address");
    from.name = s.str("from_name");
    from.reply_to = s.str("reply_to");
    from.message_id_domain = s.str("message_id_domain");
    if (from.message_id_domain.empty() && from.address.find('@') != std::string::npos)
      from.message_id_domain = from.address.substr(from.address.find('@') + 1);
    from.attachment_dir = settings_.str("attachment_dir");
    std::string err;
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    // A survey by mail: the question and how to answer (a reply starting with a digit).
    v1::OutboundMessage survey;
    if (m.has_survey()) {
      survey = m;
      survey.set_text_body(sdk::survey_text(m.survey()));
    }
    const std::string bytes = compose(m.has_survey() ? survey : m, from, now, err);
    if (bytes.empty()) return sdk::DeliveryResult::failed(err);
    SmtpServer server;
    server.url = s.str("smtp_url");
    server.username = s.str("smtp_username");
    server.password = s.str("smtp_password");
    server.tls = s.str("smtp_tls");
    server.timeout_ms = static_cast<long>(settings_.integer("smtp_timeout_ms"));
    return send(server, from.address, m.customer_handle(), bytes);
  }

 private:
  // Reads new mail of one inbox: in UID order, each message published and acknowledged by
  // Kafka before it is marked (\Seen / moved) and the position advances. A crash re-reads
  // from the last acknowledged UID; the router's dedup drops what it already has.
  void poll_loop(const sdk::InboxInfo& inbox) {
    const auto& log = host_->logger();
    const auto& s = inbox.settings;
    const std::string maildir = s.str("maildir");
    ImapClient imap({s.str("imap_url"), s.str("imap_username"), s.str("imap_password"),
                     s.str("imap_tls"), 30000});
    const std::string pos_path = (std::filesystem::path(settings_.str("state_dir")) /
                                  inbox.workspace_id / (inbox.inbox_id + ".imap"))
                                     .string();
    Limits limits;
    limits.max_message_bytes = settings_.integer("max_message_bytes");
    limits.max_parts = static_cast<int>(settings_.integer("max_parts"));
    limits.max_depth = static_cast<int>(settings_.integer("max_depth"));
    limits.max_header_bytes = settings_.integer("max_header_bytes");
    limits.max_text_bytes = settings_.integer("max_text_bytes");
    limits.max_attachments = static_cast<int>(settings_.integer("max_attachments"));
    const auto interval = std::chrono::milliseconds(s.integer("poll_interval_ms"));
    const std::string after = s.str("after_ingest");
    std::string last_error;
    while (true) {
      std::string err = maildir.empty() ? poll_once(inbox, imap, pos_path, limits, after)
                                        : maildir_once(inbox, maildir, limits, after);
      if (err != last_error) {
        if (!err.empty())
          log->warn("email {}/{}: {} (retrying every poll)", inbox.workspace_id, inbox.inbox_id,
                    err);
        else if (!last_error.empty())
          log->info("email {}/{}: mailbox reachable again", inbox.workspace_id, inbox.inbox_id);
        last_error = err;
      }
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, interval, [this] { return stop_; })) return;
    }
  }

  std::string poll_once(const sdk::InboxInfo& inbox, ImapClient& imap, const std::string& pos_path,
                        const Limits& limits, const std::string& after) {
    const auto& log = host_->logger();
    Position pos = read_position(pos_path);
    uint32_t uidvalidity = 0, uidnext = 0;
    if (auto err = imap.status(&uidvalidity, &uidnext); !err.empty()) return err;
    if (pos.uidvalidity != uidvalidity) {
      if (pos.uidvalidity != 0)
        log->warn(
            "email {}/{}: UIDVALIDITY changed ({} -> {}): reading the mailbox again (the "
            "router drops what it already has)",
            inbox.workspace_id, inbox.inbox_id, pos.uidvalidity, uidvalidity);
      pos = {uidvalidity, 0};
    }
    // (UIDNEXT from STATUS can lag behind mail just delivered; SEARCH selects the mailbox,
    // which makes the server look.)
    std::vector<uint32_t> uids;
    if (auto err = imap.search_from(pos.uid + 1, &uids); !err.empty()) return err;
    for (uint32_t uid : uids) {
      if (stopping()) return {};
      // Reading sets \\Seen on the server: remember whether it was, to put it back when the
      // message is not ingested now (Kafka down) or the inbox asks to leave flags alone.
      bool was_seen = false;
      if (auto err = imap.seen(uid, &was_seen); !err.empty()) return err;
      auto restore = [&] {
        if (!was_seen) (void)imap.mark_unseen(uid);
      };
      std::string raw;
      if (auto err = imap.fetch(uid, limits.max_message_bytes, &raw); !err.empty()) {
        restore();
        return err;
      }
      if (auto err = ingest(inbox, raw, limits, "imap_uid", std::to_string(uid)); !err.empty()) {
        restore();
        return fmt::format("UID {}: {}", uid, err);
      }
      if (after == "seen") {
        if (auto err = imap.mark_seen(uid); !err.empty())
          log->warn("email {}/{}: UID {} not marked \\Seen: {}", inbox.workspace_id, inbox.inbox_id,
                    uid, err);
      } else if (after == "none") {
        restore();
      } else if (after.rfind("move:", 0) == 0) {
        if (auto err = imap.move(uid, after.substr(5)); !err.empty())
          log->warn("email {}/{}: UID {} not moved: {}", inbox.workspace_id, inbox.inbox_id, uid,
                    err);
      }
      pos.uid = uid;
      if (!write_position(pos_path, pos)) return "cannot write " + pos_path;
      ++ingested_;
    }
    return {};
  }

  // One raw message: published and acknowledged by Kafka (""), or sent to the DLQ when it
  // can never be an event (""), or not yet (the error: the caller retries later).
  std::string ingest(const sdk::InboxInfo& inbox, const std::string& raw, const Limits& limits,
                     const std::string& source_key, const std::string& source_id) {
    Parsed parsed;
    std::string why;
    const Outcome outcome = parse(raw, limits, settings_.str("attachment_dir"), parsed, why);
    if (outcome != Outcome::kOk) {
      host_->dead_letter(raw.substr(0, 64 << 10),
                         fmt::format("email {}/{} {} {}: {}", inbox.workspace_id, inbox.inbox_id,
                                     source_key, source_id, why));
      return {};
    }
    v1::Envelope env;
    auto* m = env.mutable_message();
    *m = std::move(parsed.message);
    m->set_workspace_id(inbox.workspace_id);
    m->set_inbox_id(inbox.inbox_id);
    m->set_channel(v1::CHANNEL_EMAIL);
    (*m->mutable_provider_metadata())[source_key] = source_id;
    survey_answer(env);
    auto acked = std::make_shared<std::promise<sdk::PublishResult>>();
    auto result = acked->get_future();
    host_->publish(std::move(env), [acked](const sdk::PublishResult& r) { acked->set_value(r); });
    if (result.wait_for(std::chrono::seconds(60)) != std::future_status::ready)
      return "Kafka did not acknowledge within 60 s";
    const auto r = result.get();
    if (!r.ok()) return "not published (" + r.detail + ")";
    return {};
  }

  // A person's reply to a survey's mail that starts with a digit is the rating (the rest of
  // what they wrote, quotes cut, is the comment); anything else stays a message.
  static void survey_answer(v1::Envelope& env) {
    const v1::InboundMessage& m = env.message();
    const std::string& to = m.thread().in_reply_to();
    uint32_t rating = 0;
    std::string comment;
    if (to.rfind("outbound:", 0) != 0 || !sdk::is_survey_id(to.substr(9)) ||
        m.auto_generated() != v1::AUTO_GENERATED_NONE ||
        !sdk::parse_digit_reply(m.text_body(), 5, &rating, &comment))
      return;
    v1::Envelope answer;
    auto* a = answer.mutable_csat();
    a->set_workspace_id(m.workspace_id());
    a->set_inbox_id(m.inbox_id());
    a->set_channel(v1::CHANNEL_EMAIL);
    a->set_customer_handle(m.customer_handle());
    a->set_survey_id(to.substr(9));
    a->set_rating(rating);
    a->set_comment(comment);
    a->set_external_id(m.external_message_id());
    env = std::move(answer);
  }

  // A Maildir an MTA delivers into: new/ is read in name order (MTAs start names with the
  // time); a message leaves new/ (to cur/ flagged seen, or not, or to a Maildir++ folder)
  // only after Kafka acknowledged its event, so a crash re-reads it.
  std::string maildir_once(const sdk::InboxInfo& inbox, const std::string& root,
                           const Limits& limits, const std::string& after) {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(fs::path(root) / "new", ec))
      if (e.is_regular_file(ec)) files.push_back(e.path());
    if (ec) return fmt::format("maildir {}: {}", root, ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      if (stopping()) return {};
      std::string raw;
      {
        std::ifstream in(f, std::ios::binary);
        if (!in) continue;  // taken meanwhile
        raw.resize(static_cast<size_t>(limits.max_message_bytes) + 1);
        in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
        raw.resize(static_cast<size_t>(in.gcount()));
      }
      const std::string name = f.filename().string();
      if (auto err = ingest(inbox, raw, limits, "maildir_file", name); !err.empty())
        return name + ": " + err;
      fs::path dest_dir = fs::path(root) / "cur";
      if (after.rfind("move:", 0) == 0) dest_dir = fs::path(root) / ("." + after.substr(5)) / "cur";
      fs::create_directories(dest_dir, ec);
      const std::string base = name.substr(0, name.find(':'));
      fs::rename(f, dest_dir / (base + (after == "seen" ? ":2,S" : ":2,")), ec);
      if (ec) return fmt::format("cannot move {} out of new/: {}", name, ec.message());
      ++ingested_;
    }
    return {};
  }

  bool stopping() {
    std::lock_guard lock(mu_);
    return stop_;
  }

  sdk::Settings settings_;
  sdk::Host* host_ = nullptr;
  std::vector<std::thread> pollers_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<uint64_t> ingested_{0};
};

}  // namespace

sdk::ConnectorFactory factory() {
  using T = sdk::ConfigField::Type;
  sdk::ConnectorFactory f;
  f.name = "email";
  f.channel = v1::CHANNEL_EMAIL;
  f.handle_kind = v1::Identity::KIND_EMAIL;
  f.description = "Email: IMAP in (libcurl), MIME with GMime, replies by SMTP";
  f.settings = {
      {"attachment_dir", T::kString, "Attachment store (content addressed by sha256)",
       "var/attachments"},
      {"state_dir", T::kString, "Where each mailbox's last acknowledged UID is kept", "var/email"},
      {"max_message_bytes", T::kInt, "Larger messages are cut here (flagged)", "26214400", false,
       1024, int64_t{1} << 30},
      {"max_parts", T::kInt, "MIME parts read per message (flagged when cut)", "500", false, 1,
       100000},
      {"max_depth", T::kInt, "Multipart nesting read (flagged when cut)", "20", false, 1, 1000},
      {"max_header_bytes", T::kInt, "A larger header block sends the message to the DLQ", "262144",
       false, 1024, 16 << 20},
      {"max_text_bytes", T::kInt, "Text and HTML bodies are cut here (flagged)", "1048576", false,
       1024, 64 << 20},
      {"max_attachments", T::kInt, "Attachments listed per message (flagged when cut)", "100",
       false, 0, 10000},
      {"smtp_timeout_ms", T::kInt, "Timeout of one SMTP delivery", "30000", false, 1000, 600000},
  };
  f.inbox_settings = {
      {"from_address", T::kString, "Address replies are sent from", "", true},
      {"from_name", T::kString, "Display name of the inbox (\"Acme Support\")", ""},
      {"reply_to", T::kString, "Reply-To address, if not from_address", ""},
      {"message_id_domain", T::kString, "Right side of our Message-IDs (default: from's domain)",
       ""},
      {"smtp_url", T::kString, "smtp://host:587 (STARTTLS per smtp_tls) or smtps://host:465", "",
       true},
      {"smtp_tls", T::kString, "none | starttls (required) | implicit (smtps://)", "starttls"},
      {"smtp_username", T::kString, "SMTP user (often the from address)", ""},
      {"smtp_password", T::kSecret, "SMTP password or app password ({env: X} or {file: P})", ""},
      {"imap_url", T::kString,
       "imap://host:143/INBOX or imaps://host:993/INBOX (empty: no reading)", ""},
      {"imap_tls", T::kString, "none | starttls (required) | implicit (imaps://)", "starttls"},
      {"imap_username", T::kString, "IMAP user", ""},
      {"imap_password", T::kSecret, "IMAP password or app password ({env: X} or {file: P})", ""},
      {"maildir", T::kString, "A Maildir an MTA delivers into, instead of IMAP (its new/ is read)",
       ""},
      {"poll_interval_ms", T::kInt, "How often the mailbox is checked", "5000", false, 100,
       3600000},
      {"after_ingest", T::kString, "seen | move:<folder> | none", "seen"},
  };
  f.create = [](const sdk::Settings& s) -> std::unique_ptr<sdk::Connector> {
    return std::make_unique<EmailConnector>(s);
  };
  f.normalize = [](std::string_view payload, v1::InboundMessage& out) -> std::string {
    Parsed parsed;
    std::string why;
    switch (parse(payload, Limits{}, "", parsed, why)) {
      case Outcome::kOk:
        out = std::move(parsed.message);
        return "";
      case Outcome::kRejected:
        return "rejected: " + why;
      case Outcome::kNotAMessage:
        return why;
    }
    return "unreachable";
  };
  return f;
}

}  // namespace omniroute::connectors::email
