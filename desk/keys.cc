#include "desk/keys.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <zmq.h>

#include "common/text_file.h"

namespace omniroute::desk {

KeyPair generate_keypair() {
  char pub[41] = {0}, sec[41] = {0};
  if (zmq_curve_keypair(pub, sec) != 0)
    throw std::runtime_error("libzmq was built without CURVE support");
  return {pub, sec};
}

std::string agent_key_path(const std::string& dir, const std::string& workspace,
                           const std::string& agent, bool secret) {
  return dir + "/" + workspace + "/" + agent + (secret ? ".key" : ".pub");
}

bool write_agent_keys(const std::string& dir, const std::string& workspace,
                      const std::string& agent, const KeyPair& pair, std::string& err) {
  err.clear();
  const std::string pub = agent_key_path(dir, workspace, agent, false);
  const std::string sec = agent_key_path(dir, workspace, agent, true);
  if (std::filesystem::exists(pub) || std::filesystem::exists(sec)) return false;
  std::error_code ec;
  std::filesystem::create_directories(dir + "/" + workspace, ec);
  if (ec) {
    err = "cannot create " + dir + "/" + workspace + ": " + ec.message();
    return false;
  }
  const mode_t old = ::umask(077);
  std::ofstream(sec) << pair.secret_key << "\n";
  ::umask(old);
  std::ofstream(pub) << pair.public_key << "\n";
  if (read_key_file(sec) != pair.secret_key || read_key_file(pub) != pair.public_key) {
    err = "cannot write the key files in " + dir + "/" + workspace;
    return false;
  }
  return true;
}

std::string read_key_file(const std::string& path) {
  return read_trimmed(path).value_or("");
}

std::string key_from_arg(const std::string& value) {
  if (value.size() == 40 && !std::filesystem::exists(value)) return value;
  return read_key_file(value);
}

}  // namespace omniroute::desk
