// Password hashes for people who sign in to the workspace: argon2id through libsodium, in
// its self-describing encoded form ("$argon2id$v=19$m=...,t=...,p=1$salt$hash"), so the
// cost can be raised later without breaking stored hashes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace omniroute::workspace {

// A new hash of `password` (random salt), or nullopt when libsodium cannot (out of memory).
std::optional<std::string> hash_password(std::string_view password);
// Whether `password` matches `hash`. Constant time in the password; a malformed hash
// never matches.
bool verify_password(std::string_view hash, std::string_view password);
// A random password of `n` letters and digits (no look-alikes), for demo accounts.
std::string random_password(size_t n = 12);

}  // namespace omniroute::workspace
