// Strict reading of YAML: every key read is remembered, so keys nobody asked for are
// reported as errors; every error names the key path and the line.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace omniroute::config {

// Collected validation errors ("line 12: workspaces[0].agents[1].id: must not be empty").
class Errors {
 public:
  void add(const YAML::Node& at, const std::string& path, const std::string& what);
  void add(const std::string& path, const std::string& what);
  bool empty() const { return items_.empty(); }
  const std::vector<std::string>& items() const { return items_; }
  std::string joined() const;

 private:
  std::vector<std::string> items_;
};

// A view of one YAML map at `path`. Reading keys marks them known; `finish()` reports
// every key of the map that was never read.
class MapReader {
 public:
  MapReader(YAML::Node node, std::string path, Errors& errors);

  bool valid() const { return valid_; }
  bool has(const std::string& key) const;
  std::string path_of(const std::string& key) const;

  std::string str(const std::string& key, const std::string& def, bool required = false);
  int64_t integer(const std::string& key, int64_t def, int64_t min, int64_t max);
  bool boolean(const std::string& key, bool def);
  std::vector<std::string> str_list(const std::string& key);
  std::map<std::string, std::string> str_map(const std::string& key);
  // A secret: a literal string, {env: NAME} or {file: PATH}. Errors never contain it.
  std::string secret(const std::string& key, bool required);
  // Raw child node (marked known); invalid node if absent.
  YAML::Node child(const std::string& key);
  void finish();

 private:
  YAML::Node node_;
  std::string path_;
  Errors& errors_;
  std::set<std::string> known_;
  bool valid_ = true;
};

}  // namespace omniroute::config
