// What leaves the router: changelog records first, then, once Kafka acknowledged a
// step's records, its desk frames and outbox records (with retries and backoff for the
// outbox; records Kafka refuses for good go to the DLQ).
#include <unistd.h>

#include <chrono>
#include <thread>

#include "ops/metrics.h"
#include "router/router.h"

namespace omniroute::router {
namespace {
void poke_fd(int fd) {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
}
constexpr int64_t kFirstRetryMs = 50, kMaxRetryMs = 10000;
}  // namespace

void Router::Acks::wake_if_first() const {
  if (done.empty() && failed.empty() && changelog.empty()) poke_fd(fd);
}

void Router::retry_later(Out r, int attempts) {
  int64_t delay = kFirstRetryMs;
  for (int i = 1; i < attempts && delay < kMaxRetryMs; ++i) delay *= 2;
  // Due times never go down along the list: it stays in order.
  int64_t due = clock_.now_ms() + std::min(delay, kMaxRetryMs);
  if (!retries_.empty()) due = std::max(due, retries_.back().due_ms);
  retries_.push_back({std::move(r), attempts, due});
}

int64_t Router::next_retry_ms() const {
  return retries_.empty() ? INT64_MAX : retries_.front().due_ms;
}

void Router::send_outbox(std::vector<Out> records, int attempts) {
  for (auto& r : records) {
    std::string err;
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
    auto acks = acks_;
    Out copy = r;
    bool queued = producer_->produce(
        r.record.entry.topic(), r.record.entry.key(), r.record.entry.value(),
        [acks, attempts, copy = std::move(copy)](const kafka::DeliveryReport& rep) mutable {
          std::lock_guard lock(acks->mu);
          acks->wake_if_first();
          if (rep.ok())
            acks->done.push_back({copy.partition, copy.record.key});
          else
            acks->failed.push_back({std::move(copy), rep.err, attempts + 1});
        },
        &err, &code);
    if (queued) {
      ++in_flight_;
      continue;
    }
    if (kafka::permanent_produce_error(code))
      refused_.emplace_back(std::move(r), err);
    else
      retry_later(std::move(r), attempts + 1);  // the local queue is full: back off
  }
}

// Records wait their turn behind earlier ones that failed (order per conversation is
// kept); due ones go out again with their attempt count, so another failure doubles the
// wait. The loop never spins on a produce that keeps failing.
void Router::send_due_retries(std::vector<Out> fresh) {
  if (!retries_.empty()) {
    const int64_t now = clock_.now_ms();
    std::vector<Retry> due;
    while (!retries_.empty() && retries_.front().due_ms <= now) {
      due.push_back(std::move(retries_.front()));
      retries_.pop_front();
    }
    if (!due.empty())
      log_->warn("producing {} outbox records again (attempt {})", due.size(), due[0].attempts + 1);
    for (auto& r : due) send_outbox({std::move(r.out)}, r.attempts);
    if (!retries_.empty()) {
      const Retry& last = retries_.back();
      for (auto& r : fresh) retries_.push_back({std::move(r), last.attempts, last.due_ms});
      return;
    }
  }
  send_outbox(std::move(fresh));
}

void Router::send_direct(const std::string& rid, const v1::AgentFrame& f) {
  (void)send_one(rid, f);
}

void Router::send_frames(std::vector<DeskFrame>& frames) {
  for (auto& df : frames) (void)send_one(df.routing_id, df.frame);
}

bool Router::send_one(const std::string& rid, const v1::AgentFrame& f) {
  try {
    std::string bytes = f.SerializeAsString();
    if (socket_->send(zmq::buffer(rid), zmq::send_flags::sndmore | zmq::send_flags::dontwait) &&
        socket_->send(zmq::buffer(bytes), zmq::send_flags::dontwait))
      return true;
    // The desk does not read fast enough: it would miss this frame without knowing. Its
    // next frame is answered "say Hello again"; the Welcome carries every conversation.
    if (resync_.insert(rid).second)
      log_->warn("desk queue full: frames dropped; the desk will be asked to resync");
  } catch (const zmq::error_t& e) {
    log_->debug("desk gone before a frame could be sent: {}", e.what());
  }
  return false;
}

void Router::ask_resync(const std::string& rid, const zmq::message_t& body) {
  v1::AgentFrame in;
  if (in.ParseFromArray(body.data(), static_cast<int>(body.size())) && in.has_hello()) {
    // Its Welcome is the resync (a dropped one asks again): a new one, even if the frames
    // dropped came after the last.
    resync_.erase(rid);
    if (auto it = desk_partition_.find(rid); it != desk_partition_.end())
      if (Partition* part = serving(it->second)) part->engine().resync_desk(rid);
    return;
  }
  v1::AgentFrame e;
  e.mutable_error()->set_code(v1::Error::CODE_UNKNOWN_SESSION);
  e.mutable_error()->set_message(
      "frames to this desk were dropped (its queue was full): say Hello again");
  resync_.erase(rid);
  if (!send_one(rid, e)) return;  // still full: asked again on its next frame
  if (auto it = desk_partition_.find(rid); it != desk_partition_.end())
    if (Partition* part = serving(it->second)) part->engine().resync_desk(rid);
}

// A step goes on the changelog as StepFrames (router/changelog.h): its records tagged with
// this copy's writer id and the step, then its commit record; readers apply a step only
// once its commit is there, so a step cut off by a crash is never half applied.
void Router::produce_changelog(Partition& part) {
  const std::string& topic = current_->kafka.topics.changelog;
  auto produce = [&](Partition::Step& step, const StepFrames& frames, size_t index) {
    const auto [key, framed] = frames.at(index);
    const std::string_view value(framed);
    for (int attempt = 0;; ++attempt) {
      std::string err;
      rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
      if (producer_->produce_to(
              topic, part.id(), key, framed.empty() ? nullptr : &value,
              [acks = acks_, report = Acks::Changelog{part.id(), part.incarnation(), step.seq, -1,
                                                      RD_KAFKA_RESP_ERR_NO_ERROR}](
                  const kafka::DeliveryReport& rep) mutable {
                std::lock_guard lock(acks->mu);
                report.offset = rep.offset;
                report.code = rep.err;
                acks->wake_if_first();
                acks->changelog.push_back(report);
              },
              &err, &code)) {
        ++step.outstanding;
        return;
      }
      if (kafka::permanent_produce_error(code)) {
        log_->critical(
            "changelog record refused by Kafka ({}); exiting: state that cannot be "
            "made durable on the cluster must not be acted on",
            err);
        std::_Exit(3);
      }
      // The producer's queue is full: let it drain.
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100, 1 + attempt)));
    }
  };
  for (auto& step : part.pending()) {
    if (step.produced >= step.frames_total()) continue;
    const StepFrames frames(step.records, {part.writer(), step.seq});
    for (; step.produced < frames.size(); ++step.produced) produce(step, frames, step.produced);
  }
}

void Router::drain_acks() {
  std::vector<Acks::Done> done;
  std::vector<Acks::Failed> failed;
  std::vector<Acks::Changelog> changelog;
  {
    std::lock_guard lock(acks_->mu);
    done.swap(acks_->done);
    failed.swap(acks_->failed);
    changelog.swap(acks_->changelog);
  }
  in_flight_ -= static_cast<int64_t>(done.size() + failed.size());
  for (const auto& d : done) {
    // A partition handed over meanwhile: its new owner sends the record again (harmless).
    if (Partition* part = serving(d.partition)) part->engine().outbox_done(part->batch(), d.key);
  }
  for (auto& f : failed) {
    if (kafka::permanent_produce_error(f.code))
      refused_.emplace_back(std::move(f.out), rd_kafka_err2str(f.code));
    else
      retry_later(std::move(f.out), f.attempts);
  }
  for (auto& c : changelog) {
    auto it = partitions_.find(c.partition);
    if (it == partitions_.end() || it->second->incarnation() != c.incarnation) continue;
    Partition& part = *it->second;
    if (c.code == RD_KAFKA_RESP_ERR_NO_ERROR) {
      part.acknowledged(c.seq, c.offset);
      continue;
    }
    // No delivery timeout: this is a broker refusal. The step and those after it go again
    // (a later step may have written the same keys: the topic must end with its values).
    log_->warn("changelog record for partition {} failed ({}); producing it again", c.partition,
               rd_kafka_err2str(c.code));
    part.refused(c.seq);
  }
  for (auto& [p, part] : partitions_) produce_changelog(*part);
}

void Router::release_steps(Partition& part) {
  for (auto& step : part.released()) {
    send_frames(step.frames);
    std::vector<Out> out;
    out.reserve(step.outbox.size());
    for (auto& r : step.outbox) out.push_back({part.id(), std::move(r)});
    send_due_retries(std::move(out));
  }
}

void Router::release_steps() {
  for (auto& [p, part] : partitions_) release_steps(*part);
  if (!retries_.empty()) send_due_retries({});
}

}  // namespace omniroute::router
