// CURVE key pairs for desks and the files they live in: <dir>/<workspace>/<agent>.pub
// (the public key, which the router reads from router.agent_keys_dir) and .key (the
// secret key, owner-only, which only the desk reads). All keys are Z85 text.
#pragma once

#include <string>

namespace omniroute::desk {

struct KeyPair {
  std::string public_key;
  std::string secret_key;
};

KeyPair generate_keypair();
std::string agent_key_path(const std::string& dir, const std::string& workspace,
                           const std::string& agent, bool secret);
// Writes both files (the secret one mode 0600). Never overwrites an existing key: returns
// false and leaves `err` empty when they exist already; false with `err` on failure.
bool write_agent_keys(const std::string& dir, const std::string& workspace,
                      const std::string& agent, const KeyPair& pair, std::string& err);
// A key from a file (trailing newline dropped), or "" when unreadable.
std::string read_key_file(const std::string& path);
// `value` itself when it is a 40-character key, else the key in the file it names.
std::string key_from_arg(const std::string& value);

}  // namespace omniroute::desk
