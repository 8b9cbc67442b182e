// Declared settings of a connector (fluent-bit's config map): each field has a name,
// type, default, bounds and description. The host validates the YAML against them, so
// unknown keys and bad values fail at start, naming the key and line; the connector
// only ever sees the resolved values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace omniroute::sdk {

struct ConfigField {
  enum class Type { kString, kInt, kBool, kSecret };
  std::string name;
  Type type = Type::kString;
  std::string description;
  std::string default_value;  // As text; ignored when `required`.
  bool required = false;
  int64_t min = 0;  // kInt bounds.
  int64_t max = INT64_MAX;
  // kString inbox settings naming another inbox of the same workspace: when set, a
  // non-empty value must be the id of an inbox on this channel (an omniroute.v1.Channel
  // number; the host checks it at start and in `config check`).
  int ref_channel = 0;
};

// Resolved settings. Secrets are resolved from {env: NAME} / {file: PATH} by the host.
class Settings {
 public:
  Settings() = default;
  explicit Settings(std::map<std::string, std::string> values) : values_(std::move(values)) {}
  std::string str(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  bool boolean(const std::string& name) const;
  bool has(const std::string& name) const { return values_.count(name) > 0; }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace omniroute::sdk
