// A minimal WebDriver client: Debian's headless Chromium driven through chromedriver's
// HTTP API, for the web pages' end-to-end tests. Screenshots are PNG files to look at.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/child_process.h"

namespace omniroute::testing {

class Browser {
 public:
  explicit Browser(const std::string& profile_dir);
  ~Browser();
  bool ok() const { return !session_.empty(); }
  const std::string& error() const { return error_; }

  void go(const std::string& url);
  void refresh();
  // The element id of the first match of a CSS selector, "" when none.
  std::string find(const std::string& css);
  void click(const std::string& css);
  // Types into an element (WebDriver key codes allowed, e.g. "\xee\x80\x87" = Enter).
  void type(const std::string& css, const std::string& text);
  // Key presses to whatever has the focus (WebDriver actions), for keyboard-only flows.
  void keys(const std::string& text);
  // `key` pressed while `modifier` is held (e.g. "\xee\x80\x8a" = Alt).
  void chord(const std::string& modifier, const std::string& key);
  // Forgets every cookie of the current page's site (a session the server no longer knows).
  void delete_cookies();
  // Saves a PNG of the page; false (with the driver's answer in error()) when it could not.
  bool screenshot(const std::string& file);
  // Runs a script in the page; its return value.
  nlohmann::json run(const std::string& script);

 private:
  void start_session(const std::string& profile_dir);
  std::string path(const std::string& p) const { return "/session/" + session_ + p; }
  nlohmann::json call(const std::string& method, const std::string& p, const nlohmann::json& body);
  int port_ = 0;
  std::unique_ptr<ChildProcess> driver_;
  std::string session_, error_;
};

}  // namespace omniroute::testing
