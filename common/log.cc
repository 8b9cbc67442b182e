#include "common/log.h"

#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace omniroute::log {
namespace {
std::mutex g_mu;
spdlog::level::level_enum g_level = spdlog::level::info;

// The message text with control characters escaped: peer-supplied bytes that reach a log
// line (an agent id with a newline, a header) can never forge another line or drive the
// terminal. Everything else passes as is (UTF-8 included).
class EscapedPayload final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    escape_into(std::string_view(msg.payload.data(), msg.payload.size()), dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedPayload>();
  }
};
}  // namespace

void escape_into(std::string_view in, spdlog::memory_buf_t& dest) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : in) {
    if (c >= 0x20 && c != 0x7f) {
      dest.push_back(static_cast<char>(c));
      continue;
    }
    const char* named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : nullptr;
    if (named) {
      dest.append(named, named + 2);
    } else {
      const char esc[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
      dest.append(esc, esc + 4);
    }
  }
}

std::string escaped(std::string_view in) {
  spdlog::memory_buf_t buf;
  escape_into(in, buf);
  return std::string(buf.data(), buf.size());
}

Logger get(const std::string& component) {
  std::lock_guard lock(g_mu);
  if (auto existing = spdlog::get(component)) return existing;
  auto logger = spdlog::stderr_color_mt(component);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<EscapedPayload>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %*");
  logger->set_formatter(std::move(formatter));
  logger->set_level(g_level);
  return logger;
}

void set_level(const std::string& level) {
  std::lock_guard lock(g_mu);
  g_level = spdlog::level::from_str(level);
  spdlog::set_level(g_level);
}

}  // namespace omniroute::log
