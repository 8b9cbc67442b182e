// inspect owners: which router instance serves which partition of omni.inbound (and so which
// workspaces), as the owners announced it on omni.routers.
#include <map>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "cli/commands.h"
#include "kafka/kafka.h"
#include "omniroute/v1/store.pb.h"
#include "router/partition.h"

namespace omniroute::cli {

int cmd_inspect_owners(const Common& common) {
  auto cfg = load(common);
  if (!cfg) return 2;
  if (cfg->kafka.embedded()) {
    fmt::print(stderr,
               "inspect owners: kafka.brokers is 'embedded'; pass the cluster's address with "
               "--brokers (omniroute up / broker print it)\n");
    return 2;
  }
  const kafka::ClientConfig kc{cfg->kafka.brokers, cfg->kafka.properties};
  const std::string& topic = cfg->kafka.topics.routers;
  std::string err;
  auto reader = kafka::Consumer::create(kc, "omniroute-inspect", err);
  if (!reader) {
    fmt::print(stderr, "inspect owners: {}\n", err);
    return 2;
  }
  const int parts = reader->partition_count(topic, 5000);
  const int inbound = reader->partition_count(cfg->kafka.topics.inbound, 5000);
  if (parts <= 0 || inbound <= 0) {
    fmt::print(stderr, "inspect owners: topics {} / {} not found at {}\n", topic,
               cfg->kafka.topics.inbound, cfg->kafka.brokers);
    return 2;
  }
  std::map<int32_t, v1::store::RouterOwner> owners;
  for (int32_t p = 0; p < parts; ++p) {
    int64_t low = 0, high = 0;
    if (!reader->query_watermarks(topic, p, low, high, 5000) || high <= low) continue;
    if (!reader->assign({{topic, p, low}}, err)) continue;
    for (int64_t next = low, idle = 0; next < high && idle < 20;) {
      auto msgs = reader->poll(1000, 250);
      idle = msgs.empty() ? idle + 1 : 0;
      for (auto& m : msgs) {
        if (m.is_error()) continue;
        next = m.offset() + 1;
        v1::store::RouterOwner o;
        if (o.ParseFromArray(m.value().data(), static_cast<int>(m.value().size())))
          owners[o.partition()] = o;
      }
    }
  }
  std::map<int32_t, std::vector<std::string>> workspaces;
  for (const auto& w : cfg->workspaces)
    workspaces[router::partition_of(w.id, inbound)].push_back(w.id);
  // "restored": changelog records the owner applied before serving, and in how long ("-":
  // its local copy was already current).
  fmt::print("{:<9} {:<28} {:<10} {:<20} {:<22} {}\n", "partition", "owner", "instance",
             "since (UTC)", "restored", "workspaces");
  for (int32_t p = 0; p < inbound; ++p) {
    auto it = owners.find(p);
    std::string owner = "(none yet)", instance = "", since = "", restored = "";
    if (it != owners.end()) {
      owner = it->second.released() ? "(moving)" : it->second.endpoint();
      instance = it->second.instance().substr(0, 8);
      since = fmt::format("{:%Y-%m-%d %H:%M:%S}",
                          fmt::gmtime(static_cast<std::time_t>(it->second.since_ms() / 1000)));
      restored = it->second.restoring() ? "restoring now"
                 : it->second.released() || it->second.restored_records() == 0
                     ? "-"
                     : fmt::format("{} rec in {:.2f} s", it->second.restored_records(),
                                   static_cast<double>(it->second.restore_ms()) / 1000);
    }
    std::string ws;
    for (const auto& w : workspaces[p]) ws += (ws.empty() ? "" : " ") + w;
    fmt::print("{:<9} {:<28} {:<10} {:<20} {:<22} {}\n", p, owner, instance, since, restored, ws);
  }
  return 0;
}

}  // namespace omniroute::cli
