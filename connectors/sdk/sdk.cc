#include <stdexcept>

#include "connectors/sdk/connector.h"

namespace omniroute::sdk {

std::string Settings::str(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::string() : it->second;
}

int64_t Settings::integer(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return 0;
  return std::stoll(it->second);
}

bool Settings::boolean(const std::string& name) const {
  auto v = str(name);
  return v == "true" || v == "1" || v == "yes" || v == "on";
}

const InboxInfo* Host::inbox(std::string_view workspace_id, std::string_view inbox_id) const {
  for (const auto& i : inboxes()) {
    if (i.workspace_id == workspace_id && i.inbox_id == inbox_id) return &i;
  }
  return nullptr;
}

std::string Registry::add(ConnectorFactory factory) {
  if (factory.name.empty()) return "connector name must not be empty";
  if (find(factory.name)) return "connector '" + factory.name + "' is registered twice";
  if (factory.channel != v1::CHANNEL_UNSPECIFIED && find(factory.channel)) {
    return "channel " + channel_name(factory.channel) + " already has a connector";
  }
  factories_.push_back(std::move(factory));
  return {};
}

const ConnectorFactory* Registry::find(std::string_view name) const {
  for (const auto& f : factories_)
    if (f.name == name) return &f;
  return nullptr;
}

const ConnectorFactory* Registry::find(v1::Channel channel) const {
  for (const auto& f : factories_)
    if (f.channel == channel) return &f;
  return nullptr;
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  for (const auto& f : factories_) out.push_back(f.name);
  return out;
}

}  // namespace omniroute::sdk
