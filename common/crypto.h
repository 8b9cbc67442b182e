// Message authentication helpers shared by connectors and tests (OpenSSL underneath).
#pragma once

#include <string>
#include <string_view>

namespace omniroute::crypto {

// HMAC-SHA256 of `data` under `key`, lower-case hex.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// HMAC-SHA1 of `data` under `key`, standard base64 (Twilio's request signatures).
std::string hmac_sha1_base64(std::string_view key, std::string_view data);

// Standard base64 with padding.
std::string base64(std::string_view bytes);

// SHA-256 of `data`, lower-case hex.
std::string sha256_hex(std::string_view data);

// `bytes` random bytes from the OS CSPRNG, lower-case hex (session tokens, ids).
std::string random_hex(size_t bytes);

// Compares in time independent of where the inputs differ (signature checks).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace omniroute::crypto
