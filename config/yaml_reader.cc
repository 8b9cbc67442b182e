#include "config/yaml_reader.h"

#include "common/text_file.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace omniroute::config {

void Errors::add(const YAML::Node& at, const std::string& path, const std::string& what) {
  if (at.IsDefined() && at.Mark().line >= 0) {
    items_.push_back(fmt::format("line {}: {}: {}", at.Mark().line + 1, path, what));
  } else {
    add(path, what);
  }
}

void Errors::add(const std::string& path, const std::string& what) {
  items_.push_back(fmt::format("{}: {}", path, what));
}

std::string Errors::joined() const {
  std::string out;
  for (const auto& e : items_) out += e + "\n";
  return out;
}

MapReader::MapReader(YAML::Node node, std::string path, Errors& errors)
    : node_(std::move(node)), path_(std::move(path)), errors_(errors) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
    errors_.add(node_, path_.empty() ? "(top level)" : path_, "must be a map");
    valid_ = false;
  }
}

std::string MapReader::path_of(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

bool MapReader::has(const std::string& key) const {
  return valid_ && node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
}

YAML::Node MapReader::child(const std::string& key) {
  known_.insert(key);
  if (!valid_ || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return node_[key];
}

std::string MapReader::str(const std::string& key, const std::string& def, bool required) {
  YAML::Node n = child(key);
  if (!n.IsDefined() || n.IsNull()) {
    if (required) errors_.add(node_, path_of(key), "is required");
    return def;
  }
  if (!n.IsScalar()) {
    errors_.add(n, path_of(key), "must be a string");
    return def;
  }
  std::string v = n.as<std::string>();
  if (required && v.empty()) errors_.add(n, path_of(key), "must not be empty");
  return v;
}

int64_t MapReader::integer(const std::string& key, int64_t def, int64_t min, int64_t max) {
  YAML::Node n = child(key);
  if (!n.IsDefined() || n.IsNull()) return def;
  int64_t v = 0;
  try {
    v = n.as<int64_t>();
  } catch (const YAML::Exception&) {
    errors_.add(n, path_of(key), fmt::format("must be an integer between {} and {}", min, max));
    return def;
  }
  if (v < min || v > max) {
    errors_.add(n, path_of(key), fmt::format("must be between {} and {} (got {})", min, max, v));
    return def;
  }
  return v;
}

bool MapReader::boolean(const std::string& key, bool def) {
  YAML::Node n = child(key);
  if (!n.IsDefined() || n.IsNull()) return def;
  try {
    return n.as<bool>();
  } catch (const YAML::Exception&) {
    errors_.add(n, path_of(key), "must be true or false");
    return def;
  }
}

std::vector<std::string> MapReader::str_list(const std::string& key) {
  std::vector<std::string> out;
  YAML::Node n = child(key);
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsSequence()) {
    errors_.add(n, path_of(key), "must be a list of strings");
    return out;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsScalar()) {
      errors_.add(n[i], fmt::format("{}[{}]", path_of(key), i), "must be a string");
      continue;
    }
    out.push_back(n[i].as<std::string>());
  }
  return out;
}

std::map<std::string, std::string> MapReader::str_map(const std::string& key) {
  std::map<std::string, std::string> out;
  YAML::Node n = child(key);
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsMap()) {
    errors_.add(n, path_of(key), "must be a map of strings");
    return out;
  }
  for (const auto& kv : n) {
    auto k = kv.first.as<std::string>();
    if (!kv.second.IsScalar()) {
      errors_.add(kv.second, path_of(key) + "." + k, "must be a string");
      continue;
    }
    out[k] = kv.second.as<std::string>();
  }
  return out;
}

std::string MapReader::secret(const std::string& key, bool required) {
  YAML::Node n = child(key);
  const std::string p = path_of(key);
  if (!n.IsDefined() || n.IsNull()) {
    if (required) errors_.add(node_, p, "is required (a string, {env: NAME} or {file: PATH})");
    return {};
  }
  if (n.IsScalar()) {
    std::string v = n.as<std::string>();
    // An empty key signs nothing: HMAC under "" is something anyone can compute.
    if (v.empty()) errors_.add(n, p, "must not be empty");
    return v;
  }
  if (!n.IsMap()) {
    errors_.add(n, p, "must be a string, {env: NAME} or {file: PATH}");
    return {};
  }
  MapReader m(n, p, errors_);
  std::string env = m.str("env", "");
  std::string file = m.str("file", "");
  m.finish();
  if (!env.empty() == !file.empty()) {
    errors_.add(n, p, "give exactly one of env or file");
    return {};
  }
  if (!env.empty()) {
    const char* v = std::getenv(env.c_str());
    if (v == nullptr || *v == '\0') {
      errors_.add(n, p, fmt::format("environment variable {} is not set", env));
      return {};
    }
    return v;
  }
  auto text = read_trimmed(file);
  if (!text) {
    errors_.add(n, p, fmt::format("cannot read secret file {}", file));
    return {};
  }
  std::string v = std::move(*text);
  if (v.empty()) errors_.add(n, p, fmt::format("secret file {} is empty", file));
  return v;
}

void MapReader::finish() {
  if (!valid_ || !node_.IsMap()) return;
  for (const auto& kv : node_) {
    auto k = kv.first.as<std::string>();
    if (!known_.count(k)) errors_.add(kv.first, path_of(k), "unknown key");
  }
}

}  // namespace omniroute::config
