// GMime and GLib helpers shared by the email reader and writer: one-time library set-up,
// owning pointers for GObjects and g_malloc'ed strings, ASCII lower case.
#pragma once

#include <gmime/gmime.h>
#include <libxml/parser.h>

#include <cctype>
#include <memory>
#include <mutex>
#include <string>

namespace omniroute::connectors::email {

inline void gmime_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_mime_init();
    xmlInitParser();
  });
}

// ASCII lower case (header values, charset and tag names).
inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

template <typename T>
struct GUnref {
  void operator()(T* p) const {
    if (p) g_object_unref(p);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, GUnref<T>>;

struct GFree {
  void operator()(void* p) const { g_free(p); }
};
using GCharPtr = std::unique_ptr<char, GFree>;

}  // namespace omniroute::connectors::email
